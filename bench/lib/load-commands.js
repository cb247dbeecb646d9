'use strict';
const mqtt = require('mqtt');

/**
 * The two MQTT.js clients of a load process (a publisher and a subscriber), MQTT 3.1.1, clean
 * session, no reconnects: a lost connection, unless the process is quitting, fails the process
 * with `{ event: 'error' }`; `{ event: 'ready' }` goes to the parent once both are connected.
 * With `noDelay` their sockets have TCP_NODELAY, so the load adds no Nagle delays of its own.
 */
function startLoadClients(url, idPrefix, { noDelay = false } = {}) {
    let quitting = false;
    const fail = (message) => {
        process.send?.({ event: 'error', message });
        process.exit(2);
    };
    const connect = (role) => {
        const client = mqtt.connect(url, { clientId: `${idPrefix}-${role}-${process.pid}`, protocolVersion: 4, clean: true, reconnectPeriod: 0, keepalive: 60 });
        client.on('error', (err) => fail(`${role}: ${err.message}`));
        client.on('close', () => {
            if (!quitting) fail(`${role} connection closed`);
        });
        return client;
    };
    const pub = connect('pub');
    const sub = connect('sub');
    let connected = 0;
    for (const c of [pub, sub]) {
        c.once('connect', () => {
            if (noDelay) c.stream.setNoDelay?.(true);
            if (++connected === 2) process.send({ event: 'ready' });
        });
    }
    return { pub, sub, fail, markQuitting: () => (quitting = true) };
}

/**
 * The commands a load process (relay-load.js, relay-traffic.js) takes from its parent over the
 * fork() IPC channel, but 'run', which each does its own way:
 *   { cmd: 'subscribe', id, topic, qos } -> { event: 'done', id, granted }
 *   { cmd: 'probe', topic, tag }          publishes "probe <tag>" at QoS 0
 *   { cmd: 'run', ... }                   runLoad(message), its failure reported with fail()
 *   { cmd: 'quit' }                       ends both clients, then the process
 */
function serveLoadCommands({ pub, sub, runLoad, fail, onQuit }) {
    process.on('disconnect', () => process.exit(0));
    process.on('message', (message) => {
        if (message.cmd === 'subscribe') {
            sub.subscribe(message.topic, { qos: message.qos }, (err, granted) => {
                if (err) return fail(`subscribe: ${err.message}`);
                process.send({ event: 'done', id: message.id, granted: granted && granted[0] ? granted[0].qos : null });
            });
        } else if (message.cmd === 'probe') {
            pub.publish(message.topic, `probe ${message.tag}`, { qos: 0 });
        } else if (message.cmd === 'run') {
            runLoad(message).catch((err) => fail(err.message));
        } else if (message.cmd === 'quit') {
            onQuit();
            let open = 2;
            const closed = () => {
                if (--open === 0) process.exit(0);
            };
            pub.end(false, closed);
            sub.end(false, closed);
            setTimeout(() => process.exit(0), 2000).unref();
        }
    });
}

module.exports = { startLoadClients, serveLoadCommands };
