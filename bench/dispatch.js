'use strict';
/**
 * The dispatch benchmark (issue 3): how many messages per second get into the flow when one broker
 * connection carries N mqtt-in nodes, for this package and for Node-RED's core MQTT nodes.
 *
 * Flow: one broker config, N in-nodes wired to one counting helper node. N-1 of them are
 * "distractors" on filters the stream never matches (a mix of exact, '+' and '#' filters, none
 * covering another); the last one is on `bench/stream/+/state` and is the only node the stream
 * reaches, so every published message becomes exactly one message in the flow. The last node is
 * the matching one on purpose: the readiness probe on a stream topic then also shows that the
 * broker has processed every earlier SUBSCRIBE of the connection.
 *
 * No node on a covering filter such as `bench/#`: this package would subscribe that one filter in
 * place of all it covers (MQTT 3.1.1) while core subscribes every filter and gets a copy of the
 * message per matching subscription from Mosquitto, so the two would no longer do the same work.
 */
const { performance } = require('perf_hooks');
const mqtt = require('mqtt');
const { loadFlow, unloadFlow, getNode, wireNodes, coreMqttNodes } = require('./lib/node-red');
const { MemorySampler, gc } = require('./lib/memory');

const STREAM_FILTER = 'bench/stream/+/state';
const STREAM_TOPICS = Array.from({ length: 8 }, (_, i) => `bench/stream/s${i}/state`);
const PROBE_TOPIC = 'bench/stream/probe/state';

/** Filter of in-node i of n: the last is the stream's, the others never match it. */
function filterFor(i, n) {
    if (i === n - 1) return STREAM_FILTER;
    switch (i % 4) {
        case 0:
            return `bench/dev${i}/+/state`;
        case 1:
            return `bench/dev${i}/#`;
        case 2:
            return `bench/dev${i}/temp`;
        default:
            return `+/dev${i}/state`;
    }
}

const PACKAGES = {
    wire: {
        label: 'node-red-contrib-mqtt-wire',
        modules: () => wireNodes(),
        broker: (port) => ({ id: 'b', type: 'broker-config', mode: 'external', broker: '127.0.0.1', port: String(port), protocolVersion: '4', keepalive: '60', cleansession: true, autoConnect: true }),
        inNode: (i, topic) => ({ id: `in${i}`, type: 'mqtt-in', broker: 'b', topic, qos: '0', datatype: 'utf8', wires: [['sink']] }),
    },
    core: {
        label: 'Node-RED core mqtt',
        modules: () => [coreMqttNodes().module],
        broker: (port) => ({ id: 'b', type: 'mqtt-broker', name: '', broker: '127.0.0.1', port: String(port), clientid: '', autoConnect: true, usetls: false, protocolVersion: '4', keepalive: '60', cleansession: true, autoUnsubscribe: true }),
        inNode: (i, topic) => ({ id: `in${i}`, type: 'mqtt in', broker: 'b', topic, qos: '0', datatype: 'utf8', nl: false, rap: true, rh: 0, inputs: 0, wires: [['sink']] }),
    },
};

function buildFlow(pkg, n, port) {
    const p = PACKAGES[pkg];
    const flow = [p.broker(port)];
    for (let i = 0; i < n; i++) flow.push(p.inNode(i, filterFor(i, n)));
    flow.push({ id: 'sink', type: 'helper' });
    return flow;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Counts arrivals and resolves when `target` have arrived: with the time of the last one, or with
 * `stalled` when nothing arrived for `stallMs` or `capMs` passed in all (the loop always ends).
 */
class Counter {
    constructor() {
        this.count = 0;
        this.target = Infinity;
        this.lastAt = 0;
        this.doneAt = 0;
    }

    hit() {
        this.count++;
        this.lastAt = performance.now();
        if (this.count === this.target) this.doneAt = this.lastAt;
    }

    reset(target) {
        this.count = 0;
        this.target = target;
        this.doneAt = 0;
        this.lastAt = performance.now();
    }

    async until(startedAt, { stallMs = 5000, capMs = 60000 } = {}) {
        for (;;) {
            if (this.doneAt) return { complete: true };
            const now = performance.now();
            if (now - this.lastAt > stallMs || now - startedAt > capMs) return { complete: false };
            await sleep(5);
        }
    }

    /** Waits until nothing has arrived for quietMs (at most maxMs). */
    async quiet(quietMs = 200, maxMs = 10000) {
        const started = performance.now();
        while (performance.now() - this.lastAt < quietMs && performance.now() - started < maxMs) await sleep(20);
    }
}

/** Publishes probes until one arrives (at most timeoutMs): the subscriptions are then in place. */
async function waitForProbe(publisher, counter, timeoutMs = 20000) {
    const deadline = performance.now() + timeoutMs;
    while (counter.count === 0) {
        if (performance.now() > deadline) throw new Error(`no probe message arrived within ${timeoutMs} ms`);
        publisher.probe(PROBE_TOPIC);
        await sleep(100);
    }
}

/** Publishes `count` messages on the stream and measures their arrival. */
async function measureStream(publisher, counter, count, options) {
    await counter.quiet();
    gc();
    const memory = new MemorySampler();
    counter.reset(count);
    const startedAt = performance.now();
    const [{ publishMs }, outcome] = await Promise.all([
        publisher.run(count, STREAM_TOPICS, options.batch, options.payloadBytes),
        counter.until(startedAt, { capMs: options.capMs }),
    ]);
    const elapsedMs = (outcome.complete ? counter.doneAt : counter.lastAt) - startedAt;
    // Anything beyond `count` would be a duplicate; give stragglers a moment to show up.
    await sleep(150);
    const mem = memory.stop();
    return {
        count,
        received: counter.count,
        complete: outcome.complete,
        elapsedMs,
        rate: (outcome.complete ? count : counter.count) / (elapsedMs / 1000),
        publishMs,
        publishRate: count / (publishMs / 1000),
        rssDelta: mem.rssDelta,
        heapDelta: mem.heapDelta,
        peakRss: mem.peakRss,
    };
}

/** One round of one Node-RED configuration: load the flow, wait for the subscriptions, measure, unload. */
async function runFlowRound({ pkg, n, count, port, publisher, options }) {
    gc();
    const before = process.memoryUsage();
    const loadStarted = performance.now();
    await loadFlow(PACKAGES[pkg].modules(), buildFlow(pkg, n, port), { keepSpies: options.keepSpies });
    try {
        const counter = new Counter();
        getNode('sink').on('input', () => counter.hit());
        await waitForProbe(publisher, counter);
        const readyMs = performance.now() - loadStarted;
        gc();
        const flowHeap = process.memoryUsage().heapUsed - before.heapUsed;
        const result = await measureStream(publisher, counter, count, options);
        return { ...result, readyMs, flowHeap };
    } finally {
        await unloadFlow();
        await sleep(100);
    }
}

/**
 * The ceiling of the pipe without Node-RED: a bare MQTT.js client in this process subscribed to the
 * stream. If a flow gets close to this rate, the publisher or the broker, not the dispatch, limits it.
 */
async function runRawRound({ count, port, publisher, options }) {
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: `bench-raw-${process.pid}`, protocolVersion: 4, clean: true, reconnectPeriod: 0 });
    try {
        await new Promise((resolve, reject) => {
            client.once('connect', resolve);
            client.once('error', reject);
        });
        await new Promise((resolve, reject) => client.subscribe(STREAM_FILTER, { qos: 0 }, (err) => (err ? reject(err) : resolve())));
        const counter = new Counter();
        client.on('message', (topic, payload) => {
            payload.toString('utf8');
            counter.hit();
        });
        await waitForProbe(publisher, counter);
        return await measureStream(publisher, counter, count, options);
    } finally {
        await new Promise((resolve) => client.end(false, resolve));
    }
}

module.exports = { PACKAGES, STREAM_FILTER, STREAM_TOPICS, filterFor, buildFlow, runFlowRound, runRawRound };
