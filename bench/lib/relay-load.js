'use strict';
/**
 * The foreign clients of the delivery benchmark, in a child process of their own (so that neither
 * shares the event loop with the flow being measured): a publisher and a subscriber, two MQTT.js
 * connections (MQTT 3.1.1, clean sessions). Driven over the fork() IPC channel:
 *
 *   parent -> { cmd: 'subscribe', id, topic, qos }   (re)subscribe the subscriber at this QoS
 *   child  -> { event: 'done', id, granted }
 *   parent -> { cmd: 'probe', topic, tag }           publish `probe <tag>` at QoS 0
 *   child  -> { event: 'probe', tag }                the subscriber received a probe
 *   parent -> { cmd: 'run', id, tag, topic, count, qos, window, payloadBytes, stallMs, capMs, graceMs }
 *             publish `count` messages at `qos` to `topic`, never more than `window` without their
 *             final acknowledgement (PUBACK / PUBCOMP), and count what the subscriber receives with
 *             this `tag`: each message carries `<tag>:<seq>:` then padding
 *   child  -> { event: 'done', id, complete, count, distinct, received, duplicates, stale, missing,
 *               firstMissing, elapsedMs, publishMs }
 *             elapsedMs: from the 'run' command to the last new message received (when all arrived),
 *             or to the last one at all (when the run stalled: nothing for `stallMs`, or `capMs` in
 *             all); then `graceMs` more to catch late duplicates. All times on this process's clock.
 *   parent -> { cmd: 'quit' }
 *
 * It exits by itself when the parent goes away or after a hard time limit.
 */
const { serveLoadCommands, startLoadClients } = require('./load-commands');
const { performance } = require('perf_hooks');

const url = process.argv[2];
const HARD_LIMIT_MS = Number(process.argv[3] || 600000);
const hardStop = setTimeout(() => process.exit(3), HARD_LIMIT_MS);
hardStop.unref();

const { pub, sub, fail, markQuitting } = startLoadClients(url, 'bench-relay');

/** The run in progress, if any. */
let current = null;

sub.on('message', (topic, payload) => {
    // `probe <tag>` or `<tag>:<seq>:<padding>`.
    if (payload.length > 6 && payload[0] === 0x70 && payload.toString('latin1', 0, 6) === 'probe ') {
        process.send({ event: 'probe', tag: payload.toString('latin1', 6) });
        return;
    }
    const run = current;
    if (!run) return;
    const text = payload.toString('latin1');
    const colon = text.indexOf(':');
    if (colon < 0 || text.slice(0, colon) !== run.tag) {
        run.stale++;
        return;
    }
    const seq = parseInt(text.slice(colon + 1, text.indexOf(':', colon + 1)), 10);
    run.received++;
    run.lastAnyAt = performance.now();
    if (!(seq >= 0 && seq < run.count)) {
        run.stale++;
        return;
    }
    if (run.seen[seq]) {
        run.duplicates++;
        return;
    }
    run.seen[seq] = 1;
    run.distinct++;
    run.lastNewAt = run.lastAnyAt;
});

serveLoadCommands({ pub, sub, runLoad: run, fail, onQuit: markQuitting });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function run({ id, tag, topic, count, qos, window, payloadBytes, stallMs = 5000, capMs = 60000, graceMs = 150 }) {
    const startedAt = performance.now();
    const state = { tag, count, seen: new Uint8Array(count), distinct: 0, received: 0, duplicates: 0, stale: 0, lastAnyAt: startedAt, lastNewAt: 0 };
    current = state;
    const prefixPad = 'x'.repeat(Math.max(0, (payloadBytes || 64) - tag.length - 8));
    let next = 0;
    let inflight = 0;
    let acked = 0;
    let publishDoneAt = 0;
    let publishError = null;
    const pump = () => {
        while (inflight < window && next < count && !publishError) {
            const seq = next++;
            inflight++;
            pub.publish(topic, `${tag}:${seq}:${prefixPad}`, { qos }, (err) => {
                inflight--;
                if (err) {
                    publishError = err;
                    return;
                }
                if (++acked === count) publishDoneAt = performance.now();
                pump();
            });
        }
    };
    pump();
    let complete = false;
    for (;;) {
        if (state.distinct === count) {
            complete = true;
            break;
        }
        const now = performance.now();
        if (publishError || now - state.lastAnyAt > stallMs || now - startedAt > capMs) break;
        await sleep(2);
    }
    const endAt = complete ? state.lastNewAt : state.lastAnyAt;
    // Late duplicates (QoS 1 resends) show up here.
    await sleep(graceMs);
    current = null;
    const firstMissing = [];
    if (!complete) for (let i = 0; i < count && firstMissing.length < 10; i++) if (!state.seen[i]) firstMissing.push(i);
    process.send({
        event: 'done',
        id,
        complete,
        count,
        distinct: state.distinct,
        received: state.received,
        duplicates: state.duplicates,
        stale: state.stale,
        missing: count - state.distinct,
        firstMissing,
        elapsedMs: endAt - startedAt,
        publishMs: publishDoneAt ? publishDoneAt - startedAt : null,
        publishError: publishError ? publishError.message : null,
    });
}
