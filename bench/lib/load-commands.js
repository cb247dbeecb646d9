'use strict';
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

module.exports = { serveLoadCommands };
