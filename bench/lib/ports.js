'use strict';
/** Loopback port helpers for the benchmark (kept apart from the compiled test support on purpose). */
const net = require('net');

/** A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it). */
function freePort() {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address();
            server.close(() => resolve(port));
        });
    });
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port; rejects after timeoutMs. */
async function waitForPort(port, timeoutMs = 10000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const open = await new Promise((resolve) => {
            const socket = net.connect(port, '127.0.0.1');
            socket.once('connect', () => {
                socket.destroy();
                resolve(true);
            });
            socket.once('error', () => resolve(false));
        });
        if (open) return;
        if (Date.now() > deadline) throw new Error(`nothing listened on 127.0.0.1:${port} within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

module.exports = { freePort, waitForPort };
