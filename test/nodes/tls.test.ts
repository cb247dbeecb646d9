/**
 * mqtts:// verifies the server certificate by default, with or without a tls-config node (Node-RED's
 * core node silently skips it without one); turning it off is explicit and logged; a certificate that
 * is not accepted is told in words. Mosquitto serves TLS with a certificate from a CA made here.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { allNodes, callsOn, coreNode, eventually, FlowNode, getNode, helper, unloadFlow, waitForStatus, waitForSubscribed } from '../support/node-red';

let dir: string;
let mosquitto: Mosquitto;
const tlsNode = coreNode('network/05-tls.js');

before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-tls-'));
    const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=mqtt-wire test CA');
    run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
    fs.writeFileSync(path.join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
    run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.cnf');
    mosquitto = await startMosquitto({ extraConfig: [`cafile ${dir}/ca.crt`, `certfile ${dir}/server.crt`, `keyfile ${dir}/server.key`] });
    await new Promise<void>((resolve) => helper.startServer(resolve));
});
after(async () => {
    await mosquitto.dispose();
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    fs.rmSync(dir, { recursive: true, force: true });
});
afterEach(() => unloadFlow());

function load(flow: FlowNode[]): Promise<void> {
    return new Promise((resolve, reject) => helper.load([tlsNode, ...allNodes], flow, {}, (err?: Error) => (err ? reject(err) : resolve())));
}

function tlsBroker(extra: Record<string, unknown> = {}): FlowNode {
    return { id: 'b', type: 'broker-config', mode: 'external', broker: '127.0.0.1', port: String(mosquitto.port), protocol: 'mqtts', usetls: true, keepalive: '60', cleansession: true, autoConnect: true, ...extra };
}

test('without a tls-config node the certificate is verified: an unknown CA is refused, in words', async () => {
    await load([tlsBroker(), { id: 'out', type: 'mqtt-out', broker: 'b', topic: 't', qos: '0', retain: '' }]);
    await waitForStatus('out', (s) => s.fill === 'red' && /reconnecting/.test(String(s.text)), 'refused');
    const why = getNode('b').connection.status.reason;
    assert.equal(why.code, 'tls-certificate', why.text);
    assert.match(why.text, /^TLS: the server certificate was not accepted \(.+\)$/);
});

test('turning verification off is explicit: it connects and says so in the log', async () => {
    await load([tlsBroker({ verifyservercert: false }), { id: 'out', type: 'mqtt-out', broker: 'b', topic: 't', qos: '0', retain: '' }]);
    const warnings = callsOn('b', 'warn').map(([text]) => String(text));
    await waitForStatus('out', (s) => s.fill === 'green', 'connected');
    assert.ok(warnings.some((w) => /tls-verify-off|verification is turned off/.test(w)), `warned: ${warnings.join(' | ')}`);
});

test('a tls-config node with the CA: connects, verifies, and messages flow', async () => {
    await load([
        { id: 'tls', type: 'tls-config', cert: '', key: '', ca: path.join(dir, 'ca.crt'), verifyservercert: true, servername: '' },
        tlsBroker({ tls: 'tls' }),
        { id: 'in', type: 'mqtt-in', broker: 'b', topic: 'secure/#', qos: '1', datatype: 'utf8', wires: [['h']] },
        { id: 'out', type: 'mqtt-out', broker: 'b', topic: 'secure/x', qos: '1', retain: '' },
        { id: 'h', type: 'helper' },
    ]);
    const got: any[] = [];
    getNode('h').on('input', (msg: any) => got.push(msg));
    await waitForStatus('in', (s) => s.fill === 'green', 'connected over TLS');
    await waitForSubscribed('b', 'secure/#');
    getNode('out').receive({ payload: 'over tls' });
    await eventually(() => got.length === 1, 'the message');
    assert.equal(got[0].payload, 'over tls');
});

test('a tls-config node that trusts another CA is refused too', async () => {
    const other = path.join(dir, 'other');
    fs.mkdirSync(other, { recursive: true });
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'o.key', '-out', 'o.crt', '-days', '2', '-subj', '/CN=another CA'], { cwd: other, stdio: 'pipe' });
    await load([{ id: 'tls', type: 'tls-config', cert: '', key: '', ca: path.join(other, 'o.crt'), verifyservercert: true, servername: '' }, tlsBroker({ tls: 'tls' }), { id: 'out', type: 'mqtt-out', broker: 'b', topic: 't', qos: '0', retain: '' }]);
    await waitForStatus('out', (s) => s.fill === 'red' && /reconnecting/.test(String(s.text)), 'refused');
    assert.equal(getNode('b').connection.status.reason.code, 'tls-certificate');
});
