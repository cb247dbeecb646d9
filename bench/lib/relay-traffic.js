'use strict';
/**
 * The foreign clients of the relay and soak benchmarks, in a child process of their own: a
 * publisher and a subscriber, two MQTT.js connections (MQTT 3.1.1, clean sessions). The same IPC
 * protocol as relay-load.js (subscribe, probe, quit), with a different 'run':
 *
 *   parent -> { cmd: 'run', id, tag, topic, count, qos, payloadBytes, window, rate, stallMs, capMs, graceMs }
 *             publish `count` messages at `qos` to `topic`, each `<tag>:<seq>:<send time>:` then
 *             padding to payloadBytes, either
 *             - closed loop (`window`): never more than `window` messages published and not yet
 *               received by the subscriber, so no queue at the broker grows beyond `window` (the
 *               default Mosquitto drops what exceeds max_queued_messages 1000); after
 *               `publishForMs` it publishes no more and `count` becomes the number published; or
 *             - paced (`rate`): `rate` messages per second, whatever the subscriber receives.
 *   child  -> { event: 'done', id, complete, count, distinct, duplicates, stale, missing, elapsedMs,
 *               latency: { p50, p99, max, mean } }
 *             elapsedMs: from 'run' to the last new message (or to the last message when the run
 *             stalled); latency in ms from the publish call to the subscriber's 'message' event,
 *             both on this process's clock, over the first arrival of each message.
 */
const { serveLoadCommands, startLoadClients } = require('./load-commands');
const { performance } = require('perf_hooks');

const url = process.argv[2];
setTimeout(() => process.exit(3), Number(process.argv[3] || 600000)).unref();

// The load adds no Nagle delays of its own: what is measured is the relay (and the broker).
const { pub, sub, fail, markQuitting } = startLoadClients(url, 'bench-traffic', { noDelay: true });

/** The run in progress, if any. */
let current = null;

sub.on('message', (_topic, payload) => {
    const now = performance.now();
    if (payload.length > 6 && payload[0] === 0x70 && payload.toString('latin1', 0, 6) === 'probe ') {
        process.send({ event: 'probe', tag: payload.toString('latin1', 6) });
        return;
    }
    const run = current;
    if (!run) return;
    const parts = payload.toString('latin1').split(':', 3);
    if (parts[0] !== run.tag) {
        run.stale++;
        return;
    }
    const seq = parseInt(parts[1], 10);
    run.lastAnyAt = now;
    if (!(seq >= 0 && seq < run.count)) {
        run.stale++;
        return;
    }
    if (run.seen[seq]) {
        run.duplicates++;
        return;
    }
    run.seen[seq] = 1;
    run.latencies[run.distinct++] = now - parseFloat(parts[2]);
    run.lastNewAt = now;
    run.onNew();
});

serveLoadCommands({ pub, sub, runLoad: run, fail, onQuit: markQuitting });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function percentile(sorted, p) {
    if (sorted.length === 0) return null;
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

async function run({ id, tag, topic, count, qos, payloadBytes = 100, window = 20, rate = 0, stallMs = 5000, capMs = 60000, publishForMs = Infinity, graceMs = 200 }) {
    const startedAt = performance.now();
    const state = { tag, count, seen: new Uint8Array(count), latencies: new Float64Array(count), distinct: 0, duplicates: 0, stale: 0, lastAnyAt: startedAt, lastNewAt: 0, onNew: () => undefined };
    current = state;
    let next = 0;
    let publishError = null;
    const onPublished = (err) => {
        if (err && !publishError) publishError = err;
    };
    const publishOne = () => {
        const seq = next++;
        const head = `${tag}:${seq}:${performance.now().toFixed(3)}:`;
        pub.publish(topic, head + 'x'.repeat(Math.max(0, payloadBytes - head.length)), { qos }, onPublished);
    };
    let pacer = null;
    if (rate > 0) {
        pacer = setInterval(() => {
            const due = Math.min(count, Math.floor(((performance.now() - startedAt) / 1000) * rate));
            while (next < due && !publishError) publishOne();
            if (next >= count) clearInterval(pacer);
        }, 10);
    } else {
        state.onNew = () => {
            if (performance.now() - startedAt > publishForMs) state.count = Math.min(state.count, next);
            while (next < state.count && next - state.distinct < window && !publishError) publishOne();
        };
        state.onNew();
    }
    let complete = false;
    for (;;) {
        if (rate === 0 && performance.now() - startedAt > publishForMs) state.onNew();
        if (state.distinct === state.count) {
            complete = true;
            break;
        }
        const now = performance.now();
        if (publishError || now - Math.max(state.lastAnyAt, rate > 0 ? startedAt + (next / rate) * 1000 : 0) > stallMs || now - startedAt > capMs) break;
        await sleep(5);
    }
    clearInterval(pacer);
    const endAt = complete ? state.lastNewAt : state.lastAnyAt;
    // Late duplicates (QoS 1 resends) show up here.
    await sleep(graceMs);
    current = null;
    const sorted = state.latencies.slice(0, state.distinct).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    process.send({
        event: 'done',
        id,
        complete,
        count: state.count,
        published: next,
        distinct: state.distinct,
        duplicates: state.duplicates,
        stale: state.stale,
        missing: state.count - state.distinct,
        elapsedMs: endAt - startedAt,
        publishError: publishError ? publishError.message : null,
        latency: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1] : null, mean: sorted.length ? sum / sorted.length : null },
    });
}
