'use strict';
/**
 * The load generator: a foreign MQTT.js client in a child process of its own (so that publishing
 * does not share the event loop with the flow being measured). Driven over the fork() IPC channel:
 *
 *   parent -> { cmd: 'probe', topic }                 publish one QoS 0 message
 *   parent -> { cmd: 'run', id, count, topics, batch } publish `count` QoS 0 messages, cycling
 *                                                      through `topics`, `batch` at a time: the next
 *                                                      batch starts when every publish callback of
 *                                                      this one has fired (MQTT.js calls back once
 *                                                      the packet is handed to the socket, after a
 *                                                      'drain' when the socket buffer is full)
 *   child  -> { event: 'done', id, publishMs }        time from the 'run' command to the last callback
 *   parent -> { cmd: 'quit' }
 *
 * It exits by itself when the parent goes away or after a hard time limit.
 */
const mqtt = require('mqtt');
const { performance } = require('perf_hooks');

const url = process.argv[2];
const HARD_LIMIT_MS = Number(process.argv[3] || 600000);
const hardStop = setTimeout(() => process.exit(3), HARD_LIMIT_MS);
hardStop.unref();

const client = mqtt.connect(url, { clientId: `bench-pub-${process.pid}`, protocolVersion: 4, clean: true, reconnectPeriod: 0, keepalive: 60 });
client.on('error', (err) => {
    process.send?.({ event: 'error', message: err.message });
    process.exit(2);
});
client.on('close', () => {
    if (!quitting) {
        process.send?.({ event: 'error', message: 'publisher connection closed' });
        process.exit(2);
    }
});
client.on('connect', () => process.send({ event: 'ready' }));

let quitting = false;
process.on('disconnect', () => process.exit(0));
process.on('message', (message) => {
    if (message.cmd === 'probe') {
        client.publish(message.topic, 'probe', { qos: 0 });
    } else if (message.cmd === 'run') {
        run(message).catch((err) => {
            process.send({ event: 'error', message: err.message });
            process.exit(2);
        });
    } else if (message.cmd === 'quit') {
        quitting = true;
        client.end(false, () => process.exit(0));
        setTimeout(() => process.exit(0), 2000).unref();
    }
});

async function run({ id, count, topics, batch, payloadBytes }) {
    const started = performance.now();
    const pad = 'x'.repeat(Math.max(0, (payloadBytes || 64) - 40));
    let sent = 0;
    while (sent < count) {
        const end = Math.min(count, sent + batch);
        await new Promise((resolve, reject) => {
            let pending = end - sent;
            const callback = (err) => {
                if (err) return reject(err);
                if (--pending === 0) resolve();
            };
            for (let i = sent; i < end; i++) {
                client.publish(topics[i % topics.length], `{"seq":${i},"t":${Date.now()},"p":"${pad}"}`, { qos: 0 }, callback);
            }
        });
        sent = end;
    }
    process.send({ event: 'done', id, publishMs: performance.now() - started });
}
