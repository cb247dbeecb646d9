'use strict';
/**
 * The soak: a steady stream at QoS 1 through a flow with 100 in-nodes (one relaying to an out-node,
 * the others on filters the stream never matches), with the relaying process's RSS sampled every
 * second, for this package and for Node-RED's core nodes one after the other. Reports the slope of
 * RSS after a warm-up (the first 20% of the time). See bench/README.md.
 *
 *   node bench/run.js --only soak [--minutes 10] [--rate 1000] [--relays wire,core] [--no-json] [--quick]
 *
 * --minutes is per relay. Against a Mosquitto with its default limits, on 127.0.0.1. Writes
 * bench/results/soak-<date>.json; exits 0 whatever the slope, 1 only when something broke.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { performance } = require('perf_hooks');
const { startMosquitto } = require('./lib/mosquitto');
const { RelayLoad } = require('./lib/relay-load-client');
const { RelayHost } = require('./lib/relay-host-client');
const { nodeRedInfo } = require('./lib/node-red');
const { fmtInt, fmtMiB, round, pkgVersion } = require('./lib/stats');

const IN_TOPIC = 'relay/in';
const OUT_TOPIC = 'relay/out';
const QOS = 1;
const DISTRACTORS = 99;
const WARM_UP_SHARE = 0.2;
const LABEL = { wire: 'mqtt-wire flow', core: 'core flow' };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv) {
    const o = { minutes: 10, rate: 1000, relays: ['wire', 'core'], json: true };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = () => argv[++i];
        if (a === '--minutes') o.minutes = Math.max(0.1, Math.min(120, parseFloat(next())));
        else if (a === '--rate') o.rate = Math.max(10, Math.min(50000, parseInt(next(), 10)));
        else if (a === '--relays') o.relays = next().split(',').filter((k) => k in LABEL);
        else if (a === '--no-json') o.json = false;
        else if (a === '--quick') o.minutes = 0.5;
        else if (a === '--help' || a === '-h') {
            console.log(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
            process.exit(0);
        } else throw new Error(`unknown option ${a}`);
    }
    if (o.relays.length === 0) throw new Error('--relays takes wire, core or wire,core');
    return o;
}

/** Least-squares slope of y over x. */
function slope(points) {
    const n = points.length;
    if (n < 2) return NaN;
    const mx = points.reduce((s, p) => s + p.x, 0) / n;
    const my = points.reduce((s, p) => s + p.y, 0) / n;
    let num = 0;
    let den = 0;
    for (const p of points) {
        num += (p.x - mx) * (p.y - my);
        den += (p.x - mx) ** 2;
    }
    return den ? num / den : NaN;
}

async function soakOne({ kind, port, load, o }) {
    const host = new RelayHost({ kind, port, qos: QOS, inTopic: IN_TOPIC, outTopic: OUT_TOPIC, distractors: DISTRACTORS, hardLimitMs: o.minutes * 60000 + 300000 });
    try {
        await host.start();
        await load.subscribe(OUT_TOPIC, QOS);
        const tag = `soak-${kind}`;
        await load.waitForProbe(IN_TOPIC, tag);
        await sleep(150);
        const samples = [];
        await host.mark();
        host.sampleRss(1000, (s) => samples.push(s));
        const count = Math.round(o.rate * o.minutes * 60);
        const r = await load.run({ tag, topic: IN_TOPIC, count, qos: QOS, rate: o.rate, payloadBytes: 100, stallMs: 10000, capMs: o.minutes * 60000 + 120000 });
        const rep = await host.report();
        const collected = await host.collect();
        const seconds = o.minutes * 60;
        const warm = samples.filter((s) => s.t >= WARM_UP_SHARE * seconds && s.t <= seconds);
        const mib = (b) => b / 1048576;
        return {
            kind,
            count: r.count,
            lost: r.missing,
            duplicates: r.duplicates,
            rate: r.distinct / (r.elapsedMs / 1000),
            p50: r.latency.p50,
            p99: r.latency.p99,
            cpuUsPerMsg: r.distinct ? rep.cpuUs / r.distinct : NaN,
            maxRss: rep.maxRss,
            heapAfterGc: collected.heapUsed,
            rssAfterGc: collected.rss,
            rssAfterWarmUp: warm.length ? warm[0].rss : NaN,
            rssAtEnd: warm.length ? warm[warm.length - 1].rss : NaN,
            slopeMiBPerMin: slope(warm.map((s) => ({ x: s.t / 60, y: mib(s.rss) }))),
            samples: samples.map((s) => [round(s.t, 1), round(mib(s.rss), 2)]),
        };
    } finally {
        await host.stop();
    }
}

async function main(argv) {
    const o = parseArgs(argv);
    const watchdogMs = (o.minutes * o.relays.length + 5) * 60000;
    const watchdog = setTimeout(() => {
        console.error(`bench soak: gave up after ${(watchdogMs / 60000).toFixed(1)} minutes`);
        process.exit(1);
    }, watchdogMs);
    watchdog.unref();
    if (!fs.existsSync(path.join(__dirname, '..', 'dist', 'mqtt-out.js'))) throw new Error('dist/ is missing: run `npm run build` (or `npm run bench`)');

    const began = performance.now();
    const loadStart = os.loadavg()[0];
    const mosquitto = await startMosquitto();
    const cleanup = [async () => mosquitto.stop()];
    const load = new RelayLoad(`mqtt://127.0.0.1:${mosquitto.port}`, watchdogMs, 'relay-traffic.js');
    cleanup.unshift(() => load.stop());
    const onSignal = async () => {
        for (const fn of cleanup) await fn().catch(() => undefined);
        process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);

    try {
        await load.start();
        console.log(`soak: Mosquitto ${mosquitto.version} (default limits) on 127.0.0.1:${mosquitto.port}, ${o.rate} msg/s at QoS ${QOS} for ${o.minutes} min per relay, ${DISTRACTORS + 1} in-nodes, relays ${o.relays.join(', ')}`);
        const results = [];
        for (const kind of o.relays) {
            const res = await soakOne({ kind, port: mosquitto.port, load, o });
            results.push(res);
            console.log(`  ${kind}: ${fmtInt(res.rate)} msg/s, RSS slope ${res.slopeMiBPerMin.toFixed(2)} MiB/min, lost ${res.lost}, duplicates ${res.duplicates}`);
        }
        const out = report({ results, o, mosquitto, totalSeconds: (performance.now() - began) / 1000, load: { start: loadStart, end: os.loadavg()[0] } });
        if (o.json) {
            const dir = path.join(__dirname, 'results');
            fs.mkdirSync(dir, { recursive: true });
            const file = path.join(dir, `soak-${new Date().toISOString().slice(0, 10)}.json`);
            fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
            console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
        }
    } finally {
        for (const fn of cleanup) await fn().catch((err) => console.error(`cleanup: ${err.message}`));
    }
}

function report({ results, o, mosquitto, totalSeconds, load }) {
    const lines = [];
    lines.push(`Soak: ${o.rate} msg/s at QoS ${QOS} for ${o.minutes} min per relay, ${DISTRACTORS + 1} in-nodes (1 relaying), RSS of the relaying process every second; slope by least squares after the first ${WARM_UP_SHARE * 100}%.`);
    lines.push('');
    lines.push('| relay | messages | msg/s | RSS slope, MiB/min | RSS after warm-up, MiB | RSS at end, MiB | peak RSS, MiB | heap after a full GC at the end, MiB | CPU µs per message | p50 / p99 latency, ms | lost | duplicated |');
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of results) {
        lines.push(`| ${LABEL[r.kind]} | ${fmtInt(r.count)} | ${fmtInt(r.rate)} | ${r.slopeMiBPerMin.toFixed(2)} | ${fmtMiB(r.rssAfterWarmUp)} | ${fmtMiB(r.rssAtEnd)} | ${fmtMiB(r.maxRss)} | ${fmtMiB(r.heapAfterGc)} | ${r.cpuUsPerMsg.toFixed(1)} | ${r.p50.toFixed(1)} / ${r.p99.toFixed(1)} | ${r.lost} | ${r.duplicates} |`);
    }
    lines.push('');
    lines.push(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model?.trim() ?? 'cpu'}, Node.js ${process.version}, Node-RED ${nodeRedInfo().version}, Mosquitto ${mosquitto.version}; load average ${load.start.toFixed(1)} before, ${load.end.toFixed(1)} after.`);
    console.log('\n' + lines.join('\n') + '\n');
    const warnings = [];
    for (const r of results) {
        if (r.lost) warnings.push(`${r.kind}: ${r.lost} message(s) lost at QoS 1`);
        if (r.rate < 0.95 * o.rate) warnings.push(`${r.kind} relayed ${fmtInt(r.rate)} msg/s, below the ${o.rate} asked for: it could not keep up`);
    }
    if (o.minutes < 10) warnings.push(`${o.minutes} min per relay is shorter than the 10 min of the issue: a slow leak may not show`);
    for (const w of warnings) console.log(`WARNING: ${w}`);
    console.log(`(${totalSeconds.toFixed(0)} s in all)`);
    return {
        benchmark: 'soak',
        date: new Date().toISOString(),
        command: `node bench/run.js --only soak --minutes ${o.minutes} --rate ${o.rate}`,
        machine: { loadAverage1m: { start: round(load.start, 2), end: round(load.end, 2) }, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model?.trim(), totalMemMiB: Math.round(os.totalmem() / 1048576), platform: `${process.platform} ${os.release()}`, node: process.version },
        versions: { mqttWire: pkgVersion(path.join(__dirname, '..')), nodeRed: nodeRedInfo().version, mosquitto: mosquitto.version },
        settings: { minutesPerRelay: o.minutes, rate: o.rate, qos: QOS, inNodes: DISTRACTORS + 1, warmUpShare: WARM_UP_SHARE, payloadBytes: 100, mosquitto: 'default limits', wireStore: 'memory (durable off)' },
        results: results.map((r) => ({
            ...r,
            rate: round(r.rate),
            p50: round(r.p50, 2),
            p99: round(r.p99, 2),
            cpuUsPerMsg: round(r.cpuUsPerMsg, 1),
            maxRssMiB: round(r.maxRss / 1048576, 1),
            heapAfterGcMiB: round(r.heapAfterGc / 1048576, 1),
            rssAfterGcMiB: round(r.rssAfterGc / 1048576, 1),
            heapAfterGc: undefined,
            rssAfterGc: undefined,
            rssAfterWarmUpMiB: round(r.rssAfterWarmUp / 1048576, 1),
            rssAtEndMiB: round(r.rssAtEnd / 1048576, 1),
            slopeMiBPerMin: round(r.slopeMiBPerMin, 3),
            maxRss: undefined,
            rssAfterWarmUp: undefined,
            rssAtEnd: undefined,
        })),
        warnings,
        totalSeconds: round(totalSeconds, 1),
    };
}

module.exports = { main, parseArgs, slope };
