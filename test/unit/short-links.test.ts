/**
 * A broker that accepts the connection and drops it at once (ejabberd does so on a $share
 * SUBSCRIBE it will not take) must not make the client reconnect in a tight loop: a link lost
 * right after its CONNACK counts as a failed attempt, and the attempts go on counting up.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import type { LinkStatus } from '../../dist/lib/connection';

test('links lost right after CONNACK count as failed attempts, so the delays grow', async () => {
    const sockets = new Set<net.Socket>();
    let connects = 0;
    const server = net.createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.once('data', (data) => {
            if (data[0] >> 4 !== 1) return socket.destroy();
            connects++;
            // CONNACK, session not present, accepted; then the broker hangs up.
            socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]), () => setImmediate(() => socket.destroy()));
        });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const { Connection } = require('../../dist/lib/connection');
    const connection = new Connection({
        url: `mqtt://127.0.0.1:${port}`,
        address: `127.0.0.1:${port}`,
        client: { clientId: `short-links-${Date.now()}`, protocolVersion: 4 },
        backoff: { initialMs: 20, maxMs: 200, jitter: 0 },
    });
    // Each attempt reports 'reconnecting' twice (when it is planned and when it starts): count each once.
    const attempts: number[] = [];
    let linksUp = 0;
    const fourthLink = new Promise<void>((resolve) =>
        connection.on('status', (status: LinkStatus) => {
            if (status.state === 'connected' && ++linksUp === 4) resolve();
            if (status.state === 'reconnecting' && attempts[attempts.length - 1] !== status.attempt) attempts.push(status.attempt);
        }),
    );
    const user = {};
    connection.attach(user);
    await fourthLink;
    await connection.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    assert.ok(connects >= 4, `the broker accepted ${connects} connections`);
    assert.deepEqual(attempts, [1, 2, 3], 'each lost link is one more attempt, not a fresh start');
});
