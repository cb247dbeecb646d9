#!/usr/bin/env node
'use strict';
/**
 * `npm run bench` (builds, then runs this): the dispatch benchmark of issue 3, the delivery
 * benchmark of issue 4 and the relay benchmark, each in a process of its own. The soak runs only
 * with --only soak. See bench/README.md.
 *
 *   node bench/run.js [--only dispatch|delivery|relay|soak|monitor] [options]
 *
 * Dispatch options: [--rounds 7] [--nodes 10,1000] [--max-count 40000] [--seconds 1.5]
 *                   [--batch 500] [--keep-spies] [--no-json] [--quick]
 * Delivery options (bench/delivery.js): [--rounds 5] [--qos 1,2] [--seconds 1] [--min-count 1000]
 *                   [--max-count 20000] [--window 20] [--sync-incoming auto|always|never]
 *                   [--fsync-samples 300] [--no-direct] [--keep-spies] [--no-json] [--quick]
 * Relay options (bench/relay.js): [--rounds 3] [--count 20000] [--max-seconds 10] [--qos 0,1,2]
 *                   [--window 20] [--payload-bytes 100] [--many 1000] [--no-delay] [--broker-nodelay] [--no-direct] [--no-json] [--quick]
 * Soak options (bench/soak.js, only with --only soak): [--minutes 10] [--rate 1000]
 *                   [--relays wire,core] [--no-json] [--quick]
 * Monitor options (bench/monitor.js, only with --only monitor): [--rounds 5] [--count 20000]
 *                   [--max-seconds 10] [--qos 0,1] [--payload-bytes 100] [--no-json] [--quick]
 * Without --only, an option goes to each benchmark that takes it (--rounds, --no-json and --quick
 * to all three, --qos and --no-direct to delivery and relay, and so on).
 *
 * Prints Markdown tables and writes bench/results/<benchmark>-<date>.json.
 * Exits 0 whether or not the targets are met; 1 only when something broke.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');
const { performance } = require('perf_hooks');
const { startMosquitto } = require('./lib/mosquitto');
const { Publisher } = require('./lib/publisher-client');
const { startServer, stopServer, nodeRedInfo, coreMqttNodes } = require('./lib/node-red');
const { summarize, fmtInt, fmtRatio, fmtMiB, round, sizeCount, pkgVersion } = require('./lib/stats');
const { PACKAGES, runFlowRound, runRawRound, filterFor } = require('./dispatch');

const TARGET_RATIO = 0.8;
const WATCHDOG_MS = 10 * 60 * 1000;

function parseArgs(argv) {
    const o = { rounds: 7, nodes: [10, 1000], maxCount: 40000, minCount: 2000, seconds: 1.5, batch: 500, payloadBytes: 64, keepSpies: false, json: true, warmupCount: 1000, capMs: 30000 };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = () => argv[++i];
        if (a === '--rounds') o.rounds = Math.max(1, Math.min(20, parseInt(next(), 10)));
        else if (a === '--nodes') o.nodes = next().split(',').map((s) => parseInt(s, 10)).filter((x) => x > 0 && x <= 5000);
        else if (a === '--max-count') o.maxCount = Math.max(100, Math.min(200000, parseInt(next(), 10)));
        else if (a === '--seconds') o.seconds = Math.max(0.2, Math.min(10, parseFloat(next())));
        else if (a === '--batch') o.batch = Math.max(1, Math.min(10000, parseInt(next(), 10)));
        else if (a === '--keep-spies') o.keepSpies = true;
        else if (a === '--no-json') o.json = false;
        else if (a === '--quick') Object.assign(o, { rounds: 2, maxCount: 5000, minCount: 1000, seconds: 0.5, warmupCount: 500 });
        else if (a === '--help' || a === '-h') {
            console.log(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
            process.exit(0);
        } else throw new Error(`unknown option ${a}`);
    }
    o.minCount = Math.min(o.minCount, o.maxCount);
    return o;
}

async function main(argv) {
    const o = parseArgs(argv);
    const watchdog = setTimeout(() => {
        console.error(`bench: gave up after ${WATCHDOG_MS / 60000} minutes`);
        process.exit(1);
    }, WATCHDOG_MS);
    watchdog.unref();
    if (!fs.existsSync(path.join(__dirname, '..', 'dist', 'mqtt-in.js'))) throw new Error('dist/ is missing: run `npm run build` (or `npm run bench`)');

    const began = performance.now();
    const loadStart = os.loadavg()[0];
    // No queue limit for QoS 0 to a slow subscriber: it is measured by the time it takes, instead of
    // Mosquitto dropping what exceeds max_queued_messages (1000 by default).
    const mosquitto = await startMosquitto({ extraConfig: ['max_queued_messages 0', 'sys_interval 0'] });
    const cleanup = [async () => mosquitto.stop()];
    const publisher = new Publisher(`mqtt://127.0.0.1:${mosquitto.port}`, WATCHDOG_MS);
    cleanup.unshift(() => publisher.stop());
    const onSignal = async () => {
        for (const fn of cleanup) await fn().catch(() => undefined);
        process.exit(130);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);

    try {
        await publisher.start();
        await startServer();
        cleanup.unshift(() => stopServer());

        const configs = [];
        for (const n of o.nodes) for (const pkg of ['wire', 'core']) configs.push({ key: `${pkg}-${n}`, pkg, n });
        configs.push({ key: 'raw', pkg: 'raw', n: 0 });
        const run = (c, count) =>
            c.pkg === 'raw'
                ? runRawRound({ count, port: mosquitto.port, publisher, options: o })
                : runFlowRound({ pkg: c.pkg, n: c.n, count, port: mosquitto.port, publisher, options: o });

        console.log(`dispatch benchmark: Mosquitto ${mosquitto.version} on 127.0.0.1:${mosquitto.port}, ${o.rounds} rounds, nodes ${o.nodes.join('/')}`);
        // Warm-up: two unmeasured runs per configuration (a short one, then one of about a round's
        // size), which also size its message count: about `seconds` of work, bounded.
        for (const c of configs) {
            const first = await run(c, o.warmupCount);
            const second = await run(c, sizeCount(first.rate, o));
            c.count = sizeCount(second.rate, o);
            console.log(`  warm-up ${c.key.padEnd(10)} ${fmtInt(first.rate).padStart(8)}, ${fmtInt(second.rate).padStart(8)} msg/s -> ${c.count} messages per round`);
        }
        for (const c of configs) c.rounds = [];
        for (let r = 0; r < o.rounds; r++) {
            // Interleaved, and rotated each round, so machine noise and position effects are shared.
            const order = configs.map((_, i) => configs[(i + r) % configs.length]);
            const line = [];
            for (const c of order) {
                const res = await run(c, c.count);
                c.rounds.push(res);
                line.push(`${c.key} ${fmtInt(res.rate)}${res.complete ? '' : ` (INCOMPLETE ${res.received}/${res.count})`}${res.received > res.count ? ` (${res.received - res.count} extra)` : ''}`);
            }
            console.log(`  round ${r + 1}: ${line.join(', ')}`);
        }

        const results = report(configs, o, mosquitto, (performance.now() - began) / 1000, { start: loadStart, end: os.loadavg()[0] });
        if (o.json) {
            const dir = path.join(__dirname, 'results');
            fs.mkdirSync(dir, { recursive: true });
            const file = path.join(dir, `dispatch-${new Date().toISOString().slice(0, 10)}.json`);
            fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
            console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
        }
    } finally {
        for (const fn of cleanup) await fn().catch((err) => console.error(`cleanup: ${err.message}`));
    }
}

function report(configs, o, mosquitto, totalSeconds, load) {
    const byKey = Object.fromEntries(configs.map((c) => [c.key, c]));
    const stat = (c, field) => summarize(c.rounds.map((r) => r[field]));
    const summary = {};
    for (const c of configs) {
        summary[c.key] = {
            package: c.pkg === 'raw' ? 'bare MQTT.js subscriber' : PACKAGES[c.pkg].label,
            inNodes: c.n,
            messagesPerRound: c.count,
            rate: stat(c, 'rate'),
            publishRate: stat(c, 'publishRate'),
            rssDeltaPeak: stat(c, 'rssDelta'),
            heapDeltaPeak: stat(c, 'heapDelta'),
            flowHeap: c.pkg === 'raw' ? null : stat(c, 'flowHeap'),
            readyMs: c.pkg === 'raw' ? null : stat(c, 'readyMs'),
            incompleteRounds: c.rounds.filter((r) => !r.complete).length,
            duplicates: c.rounds.reduce((s, r) => s + Math.max(0, r.received - r.count), 0),
            rounds: c.rounds.map((r) => ({ rate: round(r.rate), received: r.received, elapsedMs: round(r.elapsedMs, 1), publishMs: round(r.publishMs, 1), rssDelta: r.rssDelta, heapDelta: r.heapDelta, readyMs: r.readyMs === undefined ? undefined : round(r.readyMs) })),
        };
    }
    const [small, large] = [Math.min(...o.nodes), Math.max(...o.nodes)];
    const ratio = (pkg) => {
        const a = byKey[`${pkg}-${small}`];
        const b = byKey[`${pkg}-${large}`];
        if (!a || !b) return { ratio: NaN, perRound: summarize([]) };
        const perRound = a.rounds.map((r, i) => b.rounds[i].rate / r.rate);
        return { ratio: summary[b.key].rate.median / summary[a.key].rate.median, perRound: summarize(perRound) };
    };
    const wireRatio = ratio('wire');
    const coreRatio = ratio('core');
    const pass = wireRatio.ratio > TARGET_RATIO;
    const vsCore = Object.fromEntries(o.nodes.map((n) => [n, summary[`wire-${n}`].rate.median / summary[`core-${n}`].rate.median]));
    const raw = summary.raw;

    const cell = (s) => `${fmtInt(s.median)} (${fmtInt(s.min)}–${fmtInt(s.max)})`;
    const lines = [];
    lines.push(`Messages per second into the flow, one broker connection, QoS 0, ${o.rounds} rounds: median (min–max).`);
    lines.push('');
    lines.push(`| \`mqtt-in\` nodes | node-red-contrib-mqtt-wire | Node-RED ${nodeRedInfo().version} core \`mqtt in\` | mqtt-wire / core |`);
    lines.push('| ---: | ---: | ---: | ---: |');
    for (const n of o.nodes) lines.push(`| ${n} | ${cell(summary[`wire-${n}`].rate)} | ${cell(summary[`core-${n}`].rate)} | ${vsCore[n].toFixed(1)}× |`);
    lines.push(`| rate ${large} / rate ${small} | **${fmtRatio(wireRatio.ratio)}** (target > ${TARGET_RATIO}) | ${fmtRatio(coreRatio.ratio)} | |`);
    lines.push('');
    lines.push(`| configuration | messages per round | received msg/s | publisher wrote msg/s | peak RSS growth, MiB | peak heap growth, MiB | deploy to subscribed, ms |`);
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const c of configs) {
        const s = summary[c.key];
        const name = c.pkg === 'raw' ? 'bare MQTT.js client (no Node-RED)' : `${c.pkg === 'wire' ? 'mqtt-wire' : 'core'}, ${c.n} nodes`;
        lines.push(`| ${name} | ${c.count} | ${fmtInt(s.rate.median)} | ${fmtInt(s.publishRate.median)} | ${fmtMiB(s.rssDeltaPeak.median)} | ${fmtMiB(s.heapDeltaPeak.median)} | ${s.readyMs ? fmtInt(s.readyMs.median) : '–'} |`);
    }
    lines.push('');
    const extraHeap = (pkg) => (summary[`${pkg}-${large}`] && summary[`${pkg}-${small}`] ? summary[`${pkg}-${large}`].flowHeap.median - summary[`${pkg}-${small}`].flowHeap.median : NaN);
    lines.push(`Bare MQTT.js subscriber on the same stream (no Node-RED): ${cell(raw.rate)} msg/s. Heap held by the ${large}-node flow beyond the ${small}-node one (after GC): mqtt-wire ${fmtMiB(extraHeap('wire'))} MiB, core ${fmtMiB(extraHeap('core'))} MiB.`);
    lines.push(`Machine: ${os.cpus().length} × ${os.cpus()[0]?.model?.trim() ?? 'cpu'}, Node.js ${process.version}, Mosquitto ${mosquitto.version}, ${o.payloadBytes}-byte payloads, datatype utf8; load average ${load.start.toFixed(1)} before, ${load.end.toFixed(1)} after.`);

    console.log('\n' + lines.join('\n') + '\n');
    console.log(`${pass ? 'PASS' : 'FAIL'}: mqtt-wire keeps ${fmtRatio(wireRatio.ratio)} of its ${small}-node rate with ${large} nodes (target > ${TARGET_RATIO}; per round ${fmtRatio(wireRatio.perRound.min)}–${fmtRatio(wireRatio.perRound.max)}); core keeps ${fmtRatio(coreRatio.ratio)}.`);
    const warnings = [];
    for (const c of configs) {
        const s = summary[c.key];
        if (s.incompleteRounds) warnings.push(`${c.key}: ${s.incompleteRounds} round(s) did not receive every message`);
        if (s.duplicates) warnings.push(`${c.key}: ${s.duplicates} duplicate message(s)`);
    }
    const bestFlow = Math.max(...configs.filter((c) => c.pkg !== 'raw').map((c) => summary[c.key].rate.median));
    // The load average at the end includes this benchmark's own three processes; the one at the start does not.
    if (load.start > os.cpus().length * 0.5) warnings.push(`the machine was busy before the run (load average ${load.start.toFixed(1)} on ${os.cpus().length} CPUs): expect a wide spread`);
    if (bestFlow > 0.8 * raw.rate.median) warnings.push(`a flow reached ${Math.round((bestFlow / raw.rate.median) * 100)}% of the bare-client ceiling: the publisher/broker may be what limits it`);
    for (const w of warnings) console.log(`WARNING: ${w}`);
    console.log(`(${totalSeconds.toFixed(0)} s in all)`);

    return {
        benchmark: 'dispatch',
        date: new Date().toISOString(),
        machine: { loadAverage1m: { start: round(load.start, 2), end: round(load.end, 2) }, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model?.trim(), totalMemMiB: Math.round(os.totalmem() / 1048576), platform: `${process.platform} ${os.release()}`, node: process.version },
        versions: {
            mqttWire: pkgVersion(path.join(__dirname, '..')),
            nodeRed: nodeRedInfo().version,
            mosquitto: mosquitto.version,
            mqttJsWire: pkgVersion(path.dirname(require.resolve('mqtt/package.json'))),
            mqttJsCore: (() => {
                try {
                    return require(require.resolve('mqtt/package.json', { paths: [path.dirname(coreMqttNodes().file)] })).version;
                } catch {
                    return 'unknown';
                }
            })(),
        },
        settings: { rounds: o.rounds, nodes: o.nodes, batch: o.batch, payloadBytes: o.payloadBytes, qos: 0, datatype: 'utf8', protocolVersion: 4, spiesRemoved: !o.keepSpies, streamFilter: filterFor(0, 1), distractorExamples: [0, 1, 2, 3].map((i) => filterFor(i, large)) },
        target: { ratio: TARGET_RATIO, wireRatio: round(wireRatio.ratio, 3), pass },
        coreRatio: round(coreRatio.ratio, 3),
        wireVsCore: Object.fromEntries(Object.entries(vsCore).map(([n, v]) => [n, round(v, 2)])),
        summary: roundAll(summary),
        warnings,
        totalSeconds: round(totalSeconds, 1),
    };
}

/** Rounds the floats of the summary so the JSON stays small and readable. */
function roundAll(value) {
    if (typeof value === 'number') return Number.isInteger(value) ? value : round(value, value < 10 ? 3 : 0);
    if (Array.isArray(value)) return value.map(roundAll);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundAll(v)]));
    return value;
}

// ---- Which benchmark: --only, or both one after the other in child processes.

/** Run by `npm run bench`, in this order; the soak runs only when asked for (`--only soak`). */
const BENCHMARKS = ['dispatch', 'delivery', 'relay'];
const ON_REQUEST = ['soak', 'monitor'];
/** Options of each benchmark, with the number of values each takes. */
const OPTIONS = {
    dispatch: { '--rounds': 1, '--nodes': 1, '--max-count': 1, '--seconds': 1, '--batch': 1, '--keep-spies': 0, '--no-json': 0, '--quick': 0 },
    delivery: { '--rounds': 1, '--qos': 1, '--seconds': 1, '--min-count': 1, '--max-count': 1, '--window': 1, '--sync-incoming': 1, '--fsync-samples': 1, '--no-direct': 0, '--keep-spies': 0, '--no-json': 0, '--quick': 0 },
    relay: { '--rounds': 1, '--count': 1, '--max-seconds': 1, '--qos': 1, '--window': 1, '--payload-bytes': 1, '--no-delay': 0, '--broker-nodelay': 0, '--many': 1, '--no-direct': 0, '--no-json': 0, '--quick': 0 },
    soak: { '--minutes': 1, '--rate': 1, '--relays': 1, '--no-json': 0, '--quick': 0 },
    monitor: { '--rounds': 1, '--count': 1, '--max-seconds': 1, '--qos': 1, '--payload-bytes': 1, '--no-json': 0, '--quick': 0 },
};

function splitArgs(argv) {
    let only = null;
    const rest = [];
    for (let i = 0; i < argv.length; i++) {
        if (argv[i] === '--only') {
            only = argv[++i];
            if (![...BENCHMARKS, ...ON_REQUEST].includes(only)) throw new Error(`--only takes ${[...BENCHMARKS, ...ON_REQUEST].join(', ')}, not ${only}`);
        } else rest.push(argv[i]);
    }
    return { only, rest };
}

/** The options of `rest` that benchmark `name` takes (for a run of both). */
function argsFor(name, rest) {
    const out = [];
    for (let i = 0; i < rest.length; i++) {
        const a = rest[i];
        const arity = Object.values(OPTIONS).find((o) => a in o)?.[a];
        if (arity === undefined) throw new Error(`unknown option ${a}`);
        const taken = rest.slice(i, i + 1 + arity);
        if (a in OPTIONS[name]) out.push(...taken);
        i += arity;
    }
    return out;
}

function runChild(name, args) {
    return new Promise((resolve) => {
        const child = require('child_process').fork(__filename, ['--only', name, ...args], { stdio: 'inherit' });
        const forward = (signal) => () => child.kill(signal);
        const onInt = forward('SIGINT');
        const onTerm = forward('SIGTERM');
        process.on('SIGINT', onInt);
        process.on('SIGTERM', onTerm);
        child.on('exit', (code, signal) => {
            process.off('SIGINT', onInt);
            process.off('SIGTERM', onTerm);
            resolve(code === null ? `signal ${signal}` : code);
        });
    });
}

async function entry() {
    const argv = process.argv.slice(2);
    if (argv.includes('--help') || argv.includes('-h')) {
        console.log(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
        return;
    }
    const { only, rest } = splitArgs(argv);
    if (only === 'dispatch') return main(rest);
    if (only === 'delivery') return require('./delivery').main(rest);
    if (only === 'relay') return require('./relay').main(rest);
    if (only === 'soak') return require('./soak').main(rest);
    if (only === 'monitor') return require('./monitor').main(rest);
    const plans = BENCHMARKS.map((name) => ({ name, args: argsFor(name, rest) }));
    const failed = [];
    for (const { name, args } of plans) {
        console.log(`\n==== ${name} benchmark (node bench/run.js --only ${name}${args.length ? ' ' + args.join(' ') : ''})\n`);
        const code = await runChild(name, args);
        if (code !== 0) failed.push(`${name} (exit ${code})`);
    }
    if (failed.length) throw new Error(`benchmark(s) broke: ${failed.join(', ')}`);
}

entry().then(
    () => process.exit(0),
    (err) => {
        console.error(`bench failed: ${err && err.stack ? err.stack : err}`);
        process.exit(1);
    },
);
