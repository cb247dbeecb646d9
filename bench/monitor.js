'use strict';
/**
 * What the MQTT sidebar's traffic monitor (broker-config option "monitor") costs on the message path:
 *   1. the monitor alone: nanoseconds per message seen, on one topic, on two, and on a new topic each
 *      time (every message evicts one, past maxTopics);
 *   2. the relay of bench/relay.js (mqtt-wire flow only: mqtt-in -> mqtt-out through Mosquitto) with the
 *      monitor off and on, alternating run by run: rate and relay CPU per message.
 *
 *   node bench/run.js --only monitor [--rounds 5] [--count 20000] [--max-seconds 10] [--qos 0,1]
 *        [--payload-bytes 100] [--no-json] [--quick]
 *
 * Prints Markdown tables, writes bench/results/monitor-<date>.json; exits 0, 1 only when something broke.
 */
const fs = require('fs');
const path = require('path');
const { performance } = require('perf_hooks');
const { startMosquitto } = require('./lib/mosquitto');
const { RelayLoad } = require('./lib/relay-load-client');
const { RelayHost } = require('./lib/relay-host-client');
const { summarize, fmtInt, fmtRatio, round, pkgVersion } = require('./lib/stats');
const { IN_TOPIC, OUT_TOPIC } = require('./relay');

const WATCHDOG_MS = 20 * 60 * 1000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function parseArgs(argv) {
    const o = { rounds: 5, count: 20000, qos: [0, 1], payloadBytes: 100, maxSeconds: 10, window: 20, json: true };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const next = () => argv[++i];
        if (a === '--rounds') o.rounds = Math.max(1, Math.min(20, parseInt(next(), 10)));
        else if (a === '--count') o.count = Math.max(100, Math.min(500000, parseInt(next(), 10)));
        else if (a === '--qos') o.qos = [...new Set(next().split(',').map((s) => parseInt(s, 10)))].filter((q) => q === 0 || q === 1 || q === 2);
        else if (a === '--payload-bytes') o.payloadBytes = Math.max(40, Math.min(100000, parseInt(next(), 10)));
        else if (a === '--max-seconds') o.maxSeconds = Math.max(1, Math.min(600, parseFloat(next())));
        else if (a === '--no-json') o.json = false;
        else if (a === '--quick') Object.assign(o, { rounds: 1, count: 3000, maxSeconds: 3 });
        else if (a === '--help' || a === '-h') {
            console.log(fs.readFileSync(__filename, 'utf8').split('*/')[0]);
            process.exit(0);
        } else throw new Error(`unknown option ${a}`);
    }
    if (o.qos.length === 0) throw new Error('--qos takes 0, 1, 2 or a list of them');
    return o;
}

/** Nanoseconds per received() call, the median of 5 timed batches after a warm-up. */
function microBench(payloadBytes) {
    const { TrafficMonitor } = require('../dist/lib/traffic-monitor');
    const payload = Buffer.alloc(payloadBytes, 0x61);
    const distinct = Array.from({ length: 20000 }, (_, i) => `bench/device${i}/state`);
    const cases = {
        'one topic': (m) => m.received('bench/one', payload, 1, false),
        'two topics': (m, i) => m.received(i & 1 ? 'bench/a' : 'bench/b', payload, 1, false),
        'a new topic each message (evicts)': (m, i) => m.received(distinct[i % distinct.length], payload, 1, false),
    };
    const n = 200000;
    const results = {};
    for (const [name, step] of Object.entries(cases)) {
        const times = [];
        for (let batch = 0; batch < 6; batch++) {
            const monitor = new TrafficMonitor();
            const start = performance.now();
            for (let i = 0; i < n; i++) step(monitor, i);
            if (batch > 0) times.push(((performance.now() - start) * 1e6) / n);
        }
        results[name] = summarize(times).median;
    }
    return results;
}

async function relayRun({ monitor, qos, port, load, o, tag }) {
    await load.subscribe(OUT_TOPIC, qos);
    // relay-host.js reads it from its environment, which RelayHost hands down.
    process.env.MQTT_WIRE_BENCH_MONITOR = monitor ? '1' : '0';
    const host = new RelayHost({ kind: 'wire', port, qos, inTopic: IN_TOPIC, outTopic: OUT_TOPIC, hardLimitMs: WATCHDOG_MS });
    try {
        await host.start();
        await load.waitForProbe(IN_TOPIC, tag);
        await sleep(150);
        await host.mark();
        const r = await load.run({ tag, count: o.count, qos, window: o.window, payloadBytes: o.payloadBytes, stallMs: 5000, capMs: o.maxSeconds * 1000 + 60000, publishForMs: o.maxSeconds * 1000, topic: IN_TOPIC });
        const h = await host.report();
        return { rate: r.distinct / (r.elapsedMs / 1000), cpuUsPerMsg: r.distinct ? h.cpuUs / r.distinct : NaN, lost: r.missing, maxRss: h.maxRss };
    } finally {
        await host.stop();
    }
}

async function main(argv) {
    const o = parseArgs(argv);
    const watchdog = setTimeout(() => {
        console.error(`bench monitor: gave up after ${WATCHDOG_MS / 60000} minutes`);
        process.exit(1);
    }, WATCHDOG_MS);
    watchdog.unref();
    if (!fs.existsSync(path.join(__dirname, '..', 'dist', 'lib', 'traffic-monitor.js'))) throw new Error('dist/ is missing: run `npm run build` (or `npm run bench`)');

    const micro = microBench(o.payloadBytes);
    console.log(`monitor alone (${o.payloadBytes}-byte payloads, default limits 1000 topics / 256 bytes):\n`);
    console.log('| case | ns per message |\n| --- | ---: |');
    for (const [name, ns] of Object.entries(micro)) console.log(`| ${name} | ${ns.toFixed(0)} |`);

    const mosquitto = await startMosquitto();
    const load = new RelayLoad(`mqtt://127.0.0.1:${mosquitto.port}`, WATCHDOG_MS, 'relay-traffic.js');
    const results = {};
    let counter = 0;
    try {
        await load.start();
        console.log(`\nrelay (mqtt-wire flow) through Mosquitto ${mosquitto.version} on 127.0.0.1:${mosquitto.port}, ${o.rounds} rounds of ${o.count} messages, QoS ${o.qos.join('/')}`);
        for (const q of o.qos) for (const m of ['off', 'on']) results[`${m}-q${q}`] = [];
        for (let r = 0; r < o.rounds; r++) {
            for (const q of o.qos) {
                const order = r % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
                const line = [];
                for (const m of order) {
                    const res = await relayRun({ monitor: m === 'on', qos: q, port: mosquitto.port, load, o, tag: `monitor${m}${q}.${++counter}` });
                    results[`${m}-q${q}`].push(res);
                    line.push(`${m} ${fmtInt(res.rate)} msg/s ${res.cpuUsPerMsg.toFixed(1)} µs${res.lost ? ` LOST ${res.lost}` : ''}`);
                }
                console.log(`  round ${r + 1} QoS ${q}: ${line.join(', ')}`);
            }
        }
    } finally {
        delete process.env.MQTT_WIRE_BENCH_MONITOR;
        await load.stop().catch(() => undefined);
        await mosquitto.stop().catch(() => undefined);
    }

    const summary = {};
    console.log('\n| QoS | monitor | rate (msg/s, median) | relay CPU µs/msg (median) | CPU on/off |\n| --- | --- | ---: | ---: | ---: |');
    for (const q of o.qos) {
        const off = { rate: summarize(results[`off-q${q}`].map((x) => x.rate)), cpu: summarize(results[`off-q${q}`].map((x) => x.cpuUsPerMsg)) };
        const on = { rate: summarize(results[`on-q${q}`].map((x) => x.rate)), cpu: summarize(results[`on-q${q}`].map((x) => x.cpuUsPerMsg)) };
        summary[`q${q}`] = { off, on, cpuRatio: on.cpu.median / off.cpu.median, rateRatio: on.rate.median / off.rate.median };
        console.log(`| ${q} | off | ${fmtInt(off.rate.median)} | ${off.cpu.median.toFixed(1)} | |`);
        console.log(`| ${q} | on | ${fmtInt(on.rate.median)} | ${on.cpu.median.toFixed(1)} | ${fmtRatio(on.cpu.median / off.cpu.median)}x |`);
    }
    if (o.json) {
        const dir = path.join(__dirname, 'results');
        fs.mkdirSync(dir, { recursive: true });
        const file = path.join(dir, `monitor-${new Date().toISOString().slice(0, 10)}.json`);
        const out = { date: new Date().toISOString(), versions: { mqttWire: pkgVersion(path.join(__dirname, '..')), mosquitto: mosquitto.version, node: process.version }, settings: o, microNsPerMessage: micro, summary, runs: results };
        fs.writeFileSync(file, JSON.stringify(roundAll(out), null, 2) + '\n');
        console.log(`\nwrote ${path.relative(process.cwd(), file)}`);
    }
}

function roundAll(value) {
    if (typeof value === 'number') return Number.isInteger(value) ? value : round(value, Math.abs(value) < 10 ? 3 : 0);
    if (Array.isArray(value)) return value.map(roundAll);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, roundAll(v)]));
    return value;
}

module.exports = { main, parseArgs };
