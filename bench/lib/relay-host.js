'use strict';
/**
 * The relaying side of the relay and soak benchmarks, in a process of its own so that its CPU time
 * and RSS are its own. One relay per process, started fresh for each run:
 *
 *   node relay-host.js <kind> <port> <qos> <inTopic> <outTopic> <distractors> <hardLimitMs>
 *
 *   kind 'wire': a Node-RED flow (node-red-node-test-helper) broker-config -> mqtt-in -> mqtt-out of
 *                this package (dist/), memory store;
 *   kind 'core': the same flow with Node-RED's core mqtt-broker -> mqtt in -> mqtt out;
 *   kind 'raw':  one MQTT.js client that subscribes and republishes each message (no Node-RED).
 *   distractors: more in-nodes on filters that the traffic never matches (flows only).
 *
 * Over the fork() IPC channel:
 *   child  -> { event: 'ready' }                      the flow or client is connected and subscribed
 *   parent -> { cmd: 'mark' }   child -> { event: 'marked' }   start of the measured interval
 *   parent -> { cmd: 'report' } child -> { event: 'report', cpuUs, rss, maxRss }
 *             cpuUs: user + system CPU time since 'mark'; maxRss: the process's peak RSS (bytes)
 *   parent -> { cmd: 'sample', intervalMs }           send { event: 'rss', t, rss, heapUsed, external }
 *                                                     every intervalMs
 *   parent -> { cmd: 'gc' }     child -> { event: 'gc', rss, heapUsed }   after a full GC
 *   parent -> { cmd: 'quit' }
 * It exits when the parent goes away or after the hard time limit.
 */
const { performance } = require('perf_hooks');

const [kind, portArg, qosArg, inTopic, outTopic, distractorsArg, hardLimitArg] = process.argv.slice(2);
const port = Number(portArg);
const qos = Number(qosArg);
const distractors = Number(distractorsArg || 0);
setTimeout(() => process.exit(3), Number(hardLimitArg || 600000)).unref();

const fail = (message) => {
    process.send?.({ event: 'error', message });
    process.exit(2);
};

/** Filters that the relayed traffic never matches, a mix of exact, '+' and '#'. */
function distractorFilter(i) {
    switch (i % 4) {
        case 0:
            return `soak/dev${i}/+/state`;
        case 1:
            return `soak/dev${i}/#`;
        case 2:
            return `soak/dev${i}/temp`;
        default:
            return `+/dev${i}/state`;
    }
}

function flowFor(pkg) {
    const q = String(qos);
    const flow = [];
    if (pkg === 'wire') {
        flow.push({ id: 'b', type: 'broker-config', mode: 'external', broker: '127.0.0.1', port: String(port), protocolVersion: '4', keepalive: '60', cleansession: true, autoConnect: true, durable: 'off', monitor: process.env.MQTT_WIRE_BENCH_MONITOR === '1' });
        for (let i = 0; i < distractors; i++) flow.push({ id: `d${i}`, type: 'mqtt-in', broker: 'b', topic: distractorFilter(i), qos: q, datatype: 'utf8', wires: [[]] });
        flow.push({ id: 'in', type: 'mqtt-in', broker: 'b', topic: inTopic, qos: q, datatype: 'utf8', wires: [['out']] });
        flow.push({ id: 'out', type: 'mqtt-out', broker: 'b', topic: outTopic, qos: q, retain: 'false' });
    } else {
        flow.push({ id: 'b', type: 'mqtt-broker', name: '', broker: '127.0.0.1', port: String(port), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true, autoUnsubscribe: true });
        for (let i = 0; i < distractors; i++) flow.push({ id: `d${i}`, type: 'mqtt in', broker: 'b', topic: distractorFilter(i), qos: q, datatype: 'utf8', nl: false, rap: true, rh: 0, inputs: 0, wires: [[]] });
        flow.push({ id: 'in', type: 'mqtt in', broker: 'b', topic: inTopic, qos: q, datatype: 'utf8', nl: false, rap: true, rh: 0, inputs: 0, wires: [['out']] });
        flow.push({ id: 'out', type: 'mqtt out', broker: 'b', topic: outTopic, qos: q, retain: 'false' });
    }
    return flow;
}

if (process.env.MQTT_WIRE_BENCH_NODELAY === '1') {
    // Diagnostic only: switches Nagle's algorithm off on every TCP socket of this process.
    const net = require('net');
    const connect = net.Socket.prototype.connect;
    net.Socket.prototype.connect = function (...args) {
        this.setNoDelay(true);
        return connect.apply(this, args);
    };
}

let stop = async () => undefined;

async function startFlow() {
    const nr = require('./node-red');
    await nr.startServer();
    await nr.loadFlow(kind === 'wire' ? nr.wireNodes() : [nr.coreMqttNodes().module], flowFor(kind));
    stop = async () => {
        await nr.unloadFlow();
        await nr.stopServer();
    };
    // Readiness is proven by the parent's probe through the relay; the flow starts connecting now.
}

function startRaw() {
    const mqtt = require('mqtt');
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: `bench-raw-relay-${process.pid}`, protocolVersion: 4, clean: true, reconnectPeriod: 0, keepalive: 60 });
    client.on('error', (err) => fail(`raw relay: ${err.message}`));
    client.on('message', (_topic, payload) => client.publish(outTopic, payload, { qos }));
    stop = () => new Promise((resolve) => client.end(false, resolve));
    return new Promise((resolve) => {
        client.once('connect', () => client.subscribe(inTopic, { qos }, (err) => (err ? fail(`raw relay subscribe: ${err.message}`) : resolve())));
    });
}

let mark = null;
let sampler = null;

/**
 * MQTT_WIRE_BENCH_ALLOC_PROFILE=<dir>: a diagnostic. Samples every allocation of the measured
 * interval, also of objects already collected (V8's sampling heap profiler with the "include
 * objects collected by GC" flags, Node.js 22 or later), and writes <dir>/<kind>-<pid>.heapprofile
 * at the report, for Chrome DevTools or a script.
 */
const allocProfileDir = process.env.MQTT_WIRE_BENCH_ALLOC_PROFILE;
let inspectorSession = null;
function post(method, params) {
    return new Promise((resolve, reject) => inspectorSession.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
}
async function startAllocProfile() {
    if (!allocProfileDir) return;
    const inspector = require('inspector');
    inspectorSession = new inspector.Session();
    inspectorSession.connect();
    await post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
}
async function writeAllocProfile() {
    if (!inspectorSession) return;
    const { profile } = await post('HeapProfiler.stopSampling');
    require('fs').writeFileSync(require('path').join(allocProfileDir, `${kind}-${process.pid}.heapprofile`), JSON.stringify(profile));
    inspectorSession.disconnect();
    inspectorSession = null;
}

process.on('disconnect', () => process.exit(0));
process.on('message', (message) => {
    if (message.cmd === 'mark') {
        startAllocProfile().then(() => {
            mark = process.cpuUsage();
            process.send({ event: 'marked' });
        }, (err) => fail(`allocation profile: ${err.message}`));
    } else if (message.cmd === 'report') {
        const cpu = process.cpuUsage(mark || undefined);
        const report = { event: 'report', cpuUs: cpu.user + cpu.system, rss: process.memoryUsage.rss(), maxRss: process.resourceUsage().maxRSS * 1024 };
        writeAllocProfile().then(() => process.send(report), (err) => fail(`allocation profile: ${err.message}`));
    } else if (message.cmd === 'gc') {
        require('./memory').gc();
        const m = process.memoryUsage();
        process.send({ event: 'gc', rss: m.rss, heapUsed: m.heapUsed });
    } else if (message.cmd === 'sample') {
        clearInterval(sampler);
        const began = performance.now();
        sampler = setInterval(() => {
            const m = process.memoryUsage();
            process.send({ event: 'rss', t: (performance.now() - began) / 1000, rss: m.rss, heapUsed: m.heapUsed, external: m.external });
        }, message.intervalMs);
    } else if (message.cmd === 'quit') {
        clearInterval(sampler);
        setTimeout(() => process.exit(0), 3000).unref();
        stop().then(
            () => process.exit(0),
            () => process.exit(0),
        );
    }
});

(kind === 'raw' ? startRaw() : startFlow()).then(
    () => process.send({ event: 'ready' }),
    (err) => fail(`${kind} relay did not start: ${err && err.stack ? err.stack : err}`),
);
