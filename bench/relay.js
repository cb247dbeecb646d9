'use strict';
/**
 * The relay benchmark: subscribe `relay/in` and republish each message to `relay/out` at the same
 * QoS, by this package's flow, by Node-RED's core nodes' flow and by a bare MQTT.js client, each in
 * a process of its own so that its CPU time and peak RSS can be measured. See bench/README.md.
 *
 *   node bench/run.js --only relay [--rounds 3] [--count 20000] [--max-seconds 10] [--qos 0,1,2]
 *        [--window 20] [--payload-bytes 100] [--many 1000] [--no-delay] [--broker-nodelay] [--no-direct] [--no-json] [--quick]
 *
 * --broker-nodelay sets Mosquitto's set_tcp_nodelay (a diagnostic: Mosquitto's default is off, and
 * its own small writes then wait for the relay's delayed ACKs, which bounds every QoS 2 relay).
 * --many N also relays at QoS 0 with N mqtt-in nodes on one connection (N-1 on filters the traffic
 * never matches), this package's flow and the core's only; 0 leaves it out.
 * A run publishes `count` messages, or what it can in `max-seconds` if that comes first.
 * --no-delay switches Nagle's algorithm off in the relaying processes (a diagnostic: neither
 * Node-RED package does so).
 *
 * Against a Mosquitto with its default limits, on 127.0.0.1. Prints Markdown tables and PASS/FAIL
 * per target, writes bench/results/relay-<date>.json; exits 0 either way, 1 only when something broke.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { performance } = require('perf_hooks');
const { startMosquitto } = require('./lib/mosquitto');
const { RelayLoad } = require('./lib/relay-load-client');
const { RelayHost } = require('./lib/relay-host-client');
const { nodeRedInfo, coreMqttNodes } = require('./lib/node-red');
const { summarize, fmtInt, fmtRatio, fmtMiB, round, pkgVersion } = require('./lib/stats');

const WATCHDOG_MS = 20 * 60 * 1000;
const IN_TOPIC = 'relay/in';
const OUT_TOPIC = 'relay/out';
const RELAYS = ['wire', 'core', 'raw'];
const LABEL = { wire: 'mqtt-wire flow', core: 'core flow', raw: 'raw MQTT.js', direct: 'no relay' };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv) {
    const o = { rounds: 3, count: 20000, qos: [0, 1, 2], window: 20, payloadBytes: 100, maxSeconds: 10, many: 1000, noDelay: false, brokerNoDelay: false, direct: true, json: true };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = () => argv[++i];
        if (a === '--rounds') o.rounds = Math.max(1, Math.min(20, parseInt(next(), 10)));
        else if (a === '--count') o.count = Math.max(100, Math.min(500000, parseInt(next(), 10)));
        else if (a === '--qos') o.qos = [...new Set(next().split(',').map((s) => parseInt(s, 10)))].filter((q) => q === 0 || q === 1 || q === 2);
        else if (a === '--window') o.window = Math.max(1, Math.min(900, parseInt(next(), 10)));
        else if (a === '--payload-bytes') o.payloadBytes = Math.max(40, Math.min(100000, parseInt(next(), 10)));
        else if (a === '--max-seconds') o.maxSeconds = Math.max(1, Math.min(600, parseFloat(next())));
        else if (a === '--many') o.many = Math.max(0, Math.min(5000, parseInt(next(), 10)));
        else if (a === '--no-delay') o.noDelay = true;
        else if (a === '--broker-nodelay') o.brokerNoDelay = true;
        else if (a === '--no-direct') o.direct = false;
        else if (a === '--no-json') o.json = false;
        else if (a === '--quick') Object.assign(o, { rounds: 1, count: 3000, maxSeconds: 3, many: 100 });
        else if (a === '--help' || a === '-h') {
            console.log(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
            process.exit(0);
        } else throw new Error(`unknown option ${a}`);
    }
    if (o.qos.length === 0) throw new Error('--qos takes 0, 1, 2 or a list of them');
    return o;
}

let runCounter = 0;

/** One measured run: a fresh relay process (none for 'direct'), a probe through it, `count` messages. */
async function runOnce({ kind, qos, count, port, load, o, distractors = 0 }) {
    const tag = `${kind}${qos}.${++runCounter}`;
    await load.subscribe(OUT_TOPIC, qos);
    const loadArgs = { tag, count, qos, window: o.window, payloadBytes: o.payloadBytes, stallMs: 5000, capMs: o.maxSeconds * 1000 + 60000, publishForMs: o.maxSeconds * 1000 };
    if (kind === 'direct') {
        await load.waitForProbe(OUT_TOPIC, tag);
        await sleep(100);
        return finish(await load.run({ ...loadArgs, topic: OUT_TOPIC }), null);
    }
    const host = new RelayHost({ kind, port, qos, inTopic: IN_TOPIC, outTopic: OUT_TOPIC, distractors, hardLimitMs: WATCHDOG_MS, noDelay: o.noDelay });
    try {
        await host.start();
        await load.waitForProbe(IN_TOPIC, tag);
        // Let a second probe still in the pipe drain before measuring.
        await sleep(150);
        await host.mark();
        const r = await load.run({ ...loadArgs, topic: IN_TOPIC });
        return finish(r, await host.report());
    } finally {
        await host.stop();
    }
}

function finish(r, host) {
    const relayed = r.distinct;
    return {
        count: r.count,
        complete: r.complete,
        lost: r.missing,
        duplicates: r.duplicates,
        stale: r.stale,
        elapsedMs: r.elapsedMs,
        rate: relayed / (r.elapsedMs / 1000),
        p50: r.latency.p50,
        p99: r.latency.p99,
        cpuUsPerMsg: host && relayed ? host.cpuUs / relayed : NaN,
        cpuUs: host ? host.cpuUs : NaN,
        maxRss: host ? host.maxRss : NaN,
        rssAtEnd: host ? host.rss : NaN,
        publishError: r.publishError,
    };
}

async function main(argv) {
    const o = parseArgs(argv);
    const watchdog = setTimeout(() => {
        console.error(`bench relay: gave up after ${WATCHDOG_MS / 60000} minutes`);
        process.exit(1);
    }, WATCHDOG_MS);
    watchdog.unref();
    if (!fs.existsSync(path.join(__dirname, '..', 'dist', 'mqtt-out.js'))) throw new Error('dist/ is missing: run `npm run build` (or `npm run bench`)');

    const began = performance.now();
    const loadStart = os.loadavg()[0];
    // Mosquitto's default limits (max_queued_messages 1000, max_inflight_messages 20): the load's
    // closed loop keeps every queue at the broker below `window`.
    const mosquitto = await startMosquitto({ extraConfig: o.brokerNoDelay ? ['set_tcp_nodelay true'] : [] });
    const cleanup = [async () => mosquitto.stop()];
    const load = new RelayLoad(`mqtt://127.0.0.1:${mosquitto.port}`, WATCHDOG_MS, 'relay-traffic.js');
    cleanup.unshift(() => load.stop());
    const onSignal = async () => {
        for (const fn of cleanup) await fn().catch(() => undefined);
        process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);

    try {
        await load.start();
        console.log(`relay benchmark: Mosquitto ${mosquitto.version} (default limits) on 127.0.0.1:${mosquitto.port}, ${o.rounds} rounds of ${o.count} messages, QoS ${o.qos.join('/')}, window ${o.window}, ${o.payloadBytes}-byte payloads`);
        const kinds = [...RELAYS, ...(o.direct ? ['direct'] : [])];
        const results = {};
        if (o.noDelay) console.log('  --no-delay: TCP_NODELAY on every socket of the relaying processes (not what the packages do)');
        for (const q of o.qos) for (const k of kinds) results[`${k}-q${q}`] = [];
        // One unmeasured run so the broker and the load process are warm.
        await runOnce({ kind: 'raw', qos: 1, count: Math.min(o.count, 2000), port: mosquitto.port, load, o });
        for (let r = 0; r < o.rounds; r++) {
            for (const q of o.qos) {
                // Alternating, rotated each round, so machine noise and position effects are shared.
                const order = kinds.map((_, i) => kinds[(i + r + q) % kinds.length]);
                const line = [];
                for (const k of order) {
                    const res = await runOnce({ kind: k, qos: q, count: o.count, port: mosquitto.port, load, o });
                    results[`${k}-q${q}`].push(res);
                    const notes = [];
                    if (res.lost) notes.push(`LOST ${res.lost}`);
                    if (res.duplicates) notes.push(`${res.duplicates} dup`);
                    line.push(`${k} ${fmtInt(res.rate)}${Number.isFinite(res.cpuUsPerMsg) ? ` ${res.cpuUsPerMsg.toFixed(0)}µs` : ''}${notes.length ? ` (${notes.join(', ')})` : ''}`);
                }
                console.log(`  round ${r + 1} QoS ${q}: ${line.join(', ')}`);
            }
            if (o.many > 0) {
                const line = [];
                for (const k of r % 2 ? ['core', 'wire'] : ['wire', 'core']) {
                    const res = await runOnce({ kind: k, qos: 0, count: o.count, port: mosquitto.port, load, o, distractors: o.many - 1 });
                    (results[`${k}-many`] ??= []).push(res);
                    line.push(`${k} ${fmtInt(res.rate)} ${res.cpuUsPerMsg.toFixed(0)}µs ${fmtMiB(res.maxRss)} MiB`);
                }
                console.log(`  round ${r + 1} QoS 0, ${o.many} mqtt-in nodes: ${line.join(', ')}`);
            }
        }
        const out = report({ results, kinds, o, mosquitto, totalSeconds: (performance.now() - began) / 1000, load: { start: loadStart, end: os.loadavg()[0] } });
        if (o.json) {
            const dir = path.join(__dirname, 'results');
            fs.mkdirSync(dir, { recursive: true });
            const file = path.join(dir, `relay${o.noDelay ? '-nodelay' : ''}${o.brokerNoDelay ? '-broker-nodelay' : ''}-${new Date().toISOString().slice(0, 10)}.json`);
            fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
            console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
        }
    } finally {
        for (const fn of cleanup) await fn().catch((err) => console.error(`cleanup: ${err.message}`));
    }
}

function summarizeRuns(runs) {
    const s = (f) => summarize(runs.map((r) => r[f]));
    return {
        count: s('count'),
        rate: s('rate'),
        p50: s('p50'),
        p99: s('p99'),
        cpuUsPerMsg: s('cpuUsPerMsg'),
        maxRss: s('maxRss'),
        lost: runs.reduce((a, r) => a + r.lost, 0),
        duplicates: runs.reduce((a, r) => a + r.duplicates, 0),
        runs: runs.map((r) => ({ count: r.count, rate: round(r.rate), elapsedMs: round(r.elapsedMs, 1), p50: round(r.p50, 2), p99: round(r.p99, 2), cpuUsPerMsg: round(r.cpuUsPerMsg, 1), maxRssMiB: round(r.maxRss / 1048576, 1), lost: r.lost, duplicates: r.duplicates, stale: r.stale || undefined, publishError: r.publishError || undefined })),
    };
}

/** The targets of the issue, per QoS, from the medians. */
function targets(summary, qosList) {
    const list = [];
    const add = (name, qos, pass, detail) => list.push({ name, qos, pass, detail });
    for (const q of qosList) {
        const w = summary[`wire-q${q}`];
        const c = summary[`core-q${q}`];
        const r = summary[`raw-q${q}`];
        const cpuRaw = w.cpuUsPerMsg.median / r.cpuUsPerMsg.median;
        add('CPU per message at most 1.3x raw', q, cpuRaw <= 1.3, `${fmtRatio(cpuRaw)}x raw (${w.cpuUsPerMsg.median.toFixed(1)} vs ${r.cpuUsPerMsg.median.toFixed(1)} µs)`);
        add('CPU per message below core', q, w.cpuUsPerMsg.median < c.cpuUsPerMsg.median, `${fmtRatio(w.cpuUsPerMsg.median / c.cpuUsPerMsg.median)}x core (${w.cpuUsPerMsg.median.toFixed(1)} vs ${c.cpuUsPerMsg.median.toFixed(1)} µs)`);
        if (q >= 1) add('rate at least 0.9x raw', q, w.rate.median >= 0.9 * r.rate.median, `${fmtRatio(w.rate.median / r.rate.median)}x raw (${fmtInt(w.rate.median)} vs ${fmtInt(r.rate.median)} msg/s)`);
        if (q <= 1) add('rate at least 1.1x core', q, w.rate.median >= 1.1 * c.rate.median, `${fmtRatio(w.rate.median / c.rate.median)}x core (${fmtInt(w.rate.median)} vs ${fmtInt(c.rate.median)} msg/s)`);
        if (q === 1) add('none lost', q, w.lost === 0, `${w.lost} lost in ${w.runs.length} runs`);
        if (q === 2) add('none lost or duplicated', q, w.lost === 0 && w.duplicates === 0, `${w.lost} lost, ${w.duplicates} duplicated in ${w.runs.length} runs`);
        add("peak RSS at most core's", q, w.maxRss.median <= c.maxRss.median, `${fmtMiB(w.maxRss.median)} vs ${fmtMiB(c.maxRss.median)} MiB`);
    }
    return list;
}

function report({ results, kinds, o, mosquitto, totalSeconds, load }) {
    const summary = Object.fromEntries(Object.entries(results).map(([k, runs]) => [k, summarizeRuns(runs)]));
    const cell = (s, f = fmtInt) => (s.n ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : '–');
    const ms = (v) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
    const us = (v) => (Number.isFinite(v) ? v.toFixed(1) : '–');
    const lines = [];
    lines.push(`Relay relay/in -> relay/out, ${o.count} messages of ${o.payloadBytes} bytes per run (or what ${o.maxSeconds} s allow), closed loop of ${o.window} messages, ${o.rounds} rounds${o.noDelay ? ', relays with TCP_NODELAY (--no-delay)' : ''}${o.brokerNoDelay ? ', Mosquitto with set_tcp_nodelay true' : ''}: median (min–max) of the runs.`);
    lines.push('');
    lines.push('| QoS | relay | messages per run | msg/s | p50 latency, ms | p99 latency, ms | CPU µs per message | peak RSS, MiB | lost | duplicated |');
    lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const q of o.qos) {
        for (const k of kinds) {
            const s = summary[`${k}-q${q}`];
            lines.push(`| ${q} | ${LABEL[k]} | ${fmtInt(s.count.median)} | ${cell(s.rate)} | ${ms(s.p50.median)} | ${ms(s.p99.median)} | ${us(s.cpuUsPerMsg.median)} | ${k === 'direct' ? '–' : fmtMiB(s.maxRss.median)} | ${s.lost} | ${s.duplicates} |`);
        }
    }
    lines.push('');
    lines.push('| QoS | msg/s ours/core | msg/s ours/raw | CPU ours/core | CPU ours/raw | peak RSS ours/core | peak RSS ours/raw | p99 ours/core |');
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const ratios = {};
    for (const q of o.qos) {
        const [w, c, r] = ['wire', 'core', 'raw'].map((k) => summary[`${k}-q${q}`]);
        const x = (f, other) => w[f].median / other[f].median;
        ratios[q] = { rateVsCore: x('rate', c), rateVsRaw: x('rate', r), cpuVsCore: x('cpuUsPerMsg', c), cpuVsRaw: x('cpuUsPerMsg', r), rssVsCore: x('maxRss', c), rssVsRaw: x('maxRss', r), p99VsCore: x('p99', c) };
        const t = ratios[q];
        lines.push(`| ${q} | ${fmtRatio(t.rateVsCore)} | ${fmtRatio(t.rateVsRaw)} | ${fmtRatio(t.cpuVsCore)} | ${fmtRatio(t.cpuVsRaw)} | ${fmtRatio(t.rssVsCore)} | ${fmtRatio(t.rssVsRaw)} | ${fmtRatio(t.p99VsCore)} |`);
    }
    if (summary['wire-many']) {
        lines.push('');
        lines.push(`QoS 0 with ${o.many} \`mqtt-in\` nodes on the connection (${o.many - 1} on filters the traffic never matches, one relaying):`);
        lines.push('');
        lines.push('| relay | messages per run | msg/s | CPU µs per message | peak RSS, MiB | lost |');
        lines.push('| --- | ---: | ---: | ---: | ---: | ---: |');
        for (const k of ['wire', 'core']) {
            const s = summary[`${k}-many`];
            lines.push(`| ${LABEL[k]} | ${fmtInt(s.count.median)} | ${cell(s.rate)} | ${us(s.cpuUsPerMsg.median)} | ${fmtMiB(s.maxRss.median)} | ${s.lost} |`);
        }
        const [w, c] = [summary['wire-many'], summary['core-many']];
        ratios.many = { rateVsCore: w.rate.median / c.rate.median, cpuVsCore: w.cpuUsPerMsg.median / c.cpuUsPerMsg.median, rssVsCore: w.maxRss.median / c.maxRss.median };
    }
    lines.push('');
    lines.push(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model?.trim() ?? 'cpu'}, Node.js ${process.version}, Node-RED ${nodeRedInfo().version}, Mosquitto ${mosquitto.version}; load average ${load.start.toFixed(1)} before, ${load.end.toFixed(1)} after.`);
    console.log('\n' + lines.join('\n') + '\n');

    const tl = targets(summary, o.qos);
    if (summary['wire-many']) {
        const [w, c] = [summary['wire-many'], summary['core-many']];
        tl.push({ name: `peak RSS at most core's with ${o.many} mqtt-in nodes`, qos: 0, pass: w.maxRss.median <= c.maxRss.median, detail: `${fmtMiB(w.maxRss.median)} vs ${fmtMiB(c.maxRss.median)} MiB` });
    }
    for (const t of tl) console.log(`${t.pass ? 'PASS' : 'FAIL'}: QoS ${t.qos}, ${t.name}: ${t.detail}`);
    const warnings = [];
    for (const [key, s] of Object.entries(summary)) {
        if (key.endsWith('-many')) {
            if (s.lost) warnings.push(`${key}: ${s.lost} message(s) lost`);
            continue;
        }
        const [k, qs] = key.split('-q');
        if (s.lost) warnings.push(`${key}: ${s.lost} message(s) lost`);
        if (s.duplicates && qs !== '1') warnings.push(`${key}: ${s.duplicates} duplicate(s)`);
        const direct = summary[`direct-q${qs}`];
        if (k !== 'direct' && direct && s.rate.median > 0.8 * direct.rate.median) warnings.push(`${key} reached ${Math.round((s.rate.median / direct.rate.median) * 100)}% of the rate without a relay: the load may limit it`);
    }
    if (load.start > os.cpus().length * 0.5) warnings.push(`the machine was busy before the run (load average ${load.start.toFixed(1)} on ${os.cpus().length} CPUs): expect a wide spread`);
    for (const w of warnings) console.log(`WARNING: ${w}`);
    console.log(`(${totalSeconds.toFixed(0)} s in all)`);

    return {
        benchmark: 'relay',
        date: new Date().toISOString(),
        command: `node bench/run.js --only relay${process.argv.slice(2).filter((a, i, all) => !(a === '--only' || all[i - 1] === '--only')).map((a) => ' ' + a).join('')}`,
        machine: { loadAverage1m: { start: round(load.start, 2), end: round(load.end, 2) }, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model?.trim(), totalMemMiB: Math.round(os.totalmem() / 1048576), platform: `${process.platform} ${os.release()}`, node: process.version },
        versions: {
            mqttWire: pkgVersion(path.join(__dirname, '..')),
            nodeRed: nodeRedInfo().version,
            mosquitto: mosquitto.version,
            mqttJs: pkgVersion(path.dirname(require.resolve('mqtt/package.json'))),
            mqttJsCore: (() => {
                try {
                    return require(require.resolve('mqtt/package.json', { paths: [path.dirname(coreMqttNodes().file)] })).version;
                } catch {
                    return 'unknown';
                }
            })(),
        },
        settings: { rounds: o.rounds, count: o.count, maxSeconds: o.maxSeconds, many: o.many, noDelay: o.noDelay, loadNoDelay: true, qos: o.qos, window: o.window, payloadBytes: o.payloadBytes, protocolVersion: 4, cleanSession: true, wireStore: 'memory (durable off)', datatype: 'utf8', mosquitto: `default limits (max_queued_messages 1000, max_inflight_messages 20)${o.brokerNoDelay ? ', set_tcp_nodelay true' : ''}`, topics: { in: IN_TOPIC, out: OUT_TOPIC } },
        ratios: roundAll(ratios),
        targets: tl,
        summary: roundAll(summary),
        warnings,
        totalSeconds: round(totalSeconds, 1),
    };
}

/** Rounds the floats so the JSON stays small and readable. */
function roundAll(value) {
    if (typeof value === 'number') return Number.isInteger(value) ? value : round(value, Math.abs(value) < 10 ? 3 : 0);
    if (Array.isArray(value)) return value.map(roundAll);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundAll(v)]));
    return value;
}

module.exports = { main, parseArgs, IN_TOPIC, OUT_TOPIC };
