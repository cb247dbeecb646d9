/**
 * The probe behind the dialog's "Test connection", against real Mosquitto brokers: it says in words
 * what a connection with the dialog's settings meets, and always settles within its time limit.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { probeConnection, probeListen, ProbeResult } from '../../dist/lib/connection-probe';
import { Mosquitto, startMosquitto } from '../support/mosquitto';

const NOT_AUTHORIZED = 'not authorized - check the user name and password, and what the broker allows this client';
import { freePort } from '../support/shared/ports';

const PASSWORD = 'probe-secret-4711';
let dir: string;
let plain: Mosquitto;
let guarded: Mosquitto;
let tls: Mosquitto;

before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-probe-'));
    const run = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { cwd: dir, stdio: 'pipe' });
    run('mosquitto_passwd', '-b', '-c', path.join(dir, 'passwords'), 'homeuser', PASSWORD);
    // A self-signed server certificate: nothing Node.js trusts has signed it.
    run('openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.crt', '-days', '2', '-subj', '/CN=localhost');
    plain = await startMosquitto();
    guarded = await startMosquitto({ extraConfig: ['allow_anonymous false', `password_file ${path.join(dir, 'passwords')}`] });
    tls = await startMosquitto({ extraConfig: [`certfile ${dir}/server.crt`, `keyfile ${dir}/server.key`] });
});
after(async () => {
    await Promise.all([plain, guarded, tls].map((broker) => broker?.dispose()));
    fs.rmSync(dir, { recursive: true, force: true });
});

const address = (port: number): string => `127.0.0.1:${port}`;

function probe(url: string, port: number, client: object = {}, timeoutMs?: number): Promise<ProbeResult> {
    return probeConnection({ url, address: address(port), client: { protocolVersion: 4, ...client } }, timeoutMs);
}

test('a running broker: success with the address and the MQTT version spoken, 3.1.1 and 5', async () => {
    const v4 = await probe(plain.url, plain.port);
    assert.deepEqual(v4, { ok: true, code: 'connected', params: { address: address(plain.port), version: '3.1.1' }, text: `connected to ${address(plain.port)} with MQTT 3.1.1` });
    const v5 = await probe(plain.url, plain.port, { protocolVersion: 5, properties: { sessionExpiryInterval: 3600 } });
    assert.equal(v5.ok, true, v5.text);
    assert.equal(v5.text, `connected to ${address(plain.port)} with MQTT 5`);
});

test('a stopped broker: nothing listening at host:port, in words', async () => {
    const port = await freePort();
    const result = await probe(`mqtt://127.0.0.1:${port}`, port);
    assert.equal(result.ok, false);
    assert.equal(result.code, 'refused');
    assert.equal(result.text, `nothing is listening at 127.0.0.1:${port} - is the broker running?`);
});

test('a host name that does not resolve: host not found', async () => {
    const result = await probeConnection({ url: 'mqtt://no-such-broker.invalid:1883', address: 'no-such-broker.invalid:1883', client: {} });
    assert.equal(result.code, 'host-not-found', result.text);
    assert.equal(result.text, 'host not found: no-such-broker.invalid');
});

test('a broker with a password file: the right password connects, a wrong one and none are told apart from other failures', async () => {
    const right = await probe(guarded.url, guarded.port, { username: 'homeuser', password: PASSWORD });
    assert.equal(right.ok, true, right.text);
    // Mosquitto answers a wrong password as it answers no user at all: not authorized, on 3.1.1 and on 5.
    const wrong = await probe(guarded.url, guarded.port, { username: 'homeuser', password: 'wrong' });
    assert.deepEqual([wrong.ok, wrong.code, wrong.text], [false, 'not-authorized', NOT_AUTHORIZED]);
    const wrong5 = await probe(guarded.url, guarded.port, { protocolVersion: 5, username: 'homeuser', password: 'wrong' });
    assert.deepEqual([wrong5.ok, wrong5.code, wrong5.text], [false, 'not-authorized', NOT_AUTHORIZED]);
    const none = await probe(guarded.url, guarded.port);
    assert.deepEqual([none.ok, none.code, none.text], [false, 'not-authorized', NOT_AUTHORIZED]);
    for (const result of [right, wrong, wrong5, none]) assert.doesNotMatch(JSON.stringify(result), new RegExp(PASSWORD));
});

test('TLS: a self-signed certificate is not trusted; a server that does not speak TLS is told in words too', async () => {
    const untrusted = await probe(`mqtts://127.0.0.1:${tls.port}`, tls.port, { rejectUnauthorized: true });
    assert.equal(untrusted.code, 'tls-certificate', untrusted.text);
    assert.match(untrusted.text, /^TLS: the server certificate was not accepted \(.*self.signed.*\)$/i);
    const accepted = await probe(`mqtts://127.0.0.1:${tls.port}`, tls.port, { rejectUnauthorized: false });
    assert.equal(accepted.ok, true, accepted.text);
    // A web server's plain answer where a TLS handshake is expected.
    const webSockets = new Set<net.Socket>();
    const web = net.createServer((socket) => {
        webSockets.add(socket);
        socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    const port = (web.address() as net.AddressInfo).port;
    try {
        const notTls = await probe(`mqtts://127.0.0.1:${port}`, port, { rejectUnauthorized: true });
        assert.deepEqual([notTls.ok, notTls.code], [false, 'tls-other'], notTls.text);
        assert.equal(notTls.text, 'TLS error: the server does not answer in TLS (wrong version number) - is this a TLS port?');
    } finally {
        for (const socket of webSockets) socket.destroy();
        await new Promise<void>((resolve) => web.close(() => resolve()));
    }
});

test('a listener that never answers: timed out, within the time given', async () => {
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
        const accepted = new Promise<void>((resolve) => silent.once('connection', () => resolve()));
        const started = Date.now();
        const result = await probe(`mqtt://127.0.0.1:${port}`, port, {}, 600);
        await accepted;
        assert.deepEqual([result.ok, result.code, result.text], [false, 'timeout', `no answer from 127.0.0.1:${port} (timed out)`]);
        assert.ok(Date.now() - started < 3000, 'settles soon after its time limit');
    } finally {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
});

test('embedded mode: a free port is reported free, a taken one in use', async () => {
    const port = await freePort();
    assert.deepEqual(await probeListen('127.0.0.1', port), {
        ok: true,
        code: 'port-free',
        params: { host: '127.0.0.1', port: String(port) },
        text: `port ${port} on 127.0.0.1 is free: the embedded broker listens there once deployed`,
    });
    const taken = await probeListen('127.0.0.1', plain.port);
    assert.equal(taken.ok, false);
    assert.equal(taken.text, `port ${plain.port} on 127.0.0.1 is already in use - is another broker running there?`);
});
