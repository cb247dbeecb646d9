'use strict';
/**
 * Loopback port helpers, shared by the tests and the benchmark: plain CommonJS so that bench/ can
 * require it without the compiled tests.
 */
const net = require('net');

/**
 * A TCP port on 127.0.0.1 that nothing listens on right now (the OS picks it).
 * @returns {Promise<number>}
 */
function freePort() {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = /** @type {net.AddressInfo} */ (server.address());
            server.close(() => resolve(port));
        });
    });
}

/**
 * Resolves once something accepts TCP connections on 127.0.0.1:port; rejects after timeoutMs. It
 * tries again every 50 ms: a port opened by another process sends no event.
 * @param {number} port
 * @param {number} [timeoutMs]
 * @returns {Promise<void>}
 */
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
