/**
 * Bad input never crashes Node-RED and is never lost in silence: each case gets node.error with the
 * msg (so a Catch node sees it) and an honest status, and the node keeps working afterwards.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as mqtt from 'mqtt';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { collect, embeddedBroker, eventually, externalBroker, getNode, loadFlow, unloadFlow, waitForStatus, waitForSubscribed, useRuntime } from '../support/node-red';
import { freePort } from '../support/shared/ports';

const broker = useRuntime(() => startMosquitto());

/** Records the node's error calls: [text, msg]. */
function errorsOf(nodeId: string): [string, any][] {
    const errors: [string, any][] = [];
    getNode(nodeId).on('call:error', (call: { args: any[] }) => errors.push([String(call.args[0]), call.args[1]]));
    return errors;
}

describe('mqtt-out refuses what it cannot publish, and goes on working', () => {
    const cases: [string, Record<string, unknown>, RegExp][] = [
        ['no topic anywhere', { payload: 1 }, /mqtt-out\.errors\.no-topic/],
        ['an empty msg.topic', { topic: '', payload: 1 }, /mqtt-out\.errors\.no-topic/],
        ["a '#' in msg.topic", { topic: 'a/#', payload: 1 }, /mqtt-out\.errors\.invalid-topic/],
        ["a '+' in msg.topic", { topic: 'a/+/c', payload: 1 }, /mqtt-out\.errors\.invalid-topic/],
        ['U+0000 in msg.topic', { topic: 'a\u0000b', payload: 1 }, /mqtt-out\.errors\.invalid-topic/],
        ['a number as msg.topic', { topic: 42, payload: 1 }, /mqtt-out\.errors\.invalid-topic/],
        ['QoS 3', { topic: 'ok', qos: 3, payload: 1 }, /mqtt-out\.errors\.invalid-qos/],
        ['QoS -1', { topic: 'ok', qos: -1, payload: 1 }, /mqtt-out\.errors\.invalid-qos/],
        ['QoS "high"', { topic: 'ok', qos: 'high', payload: 1 }, /mqtt-out\.errors\.invalid-qos/],
        ['QoS 1.5', { topic: 'ok', qos: 1.5, payload: 1 }, /mqtt-out\.errors\.invalid-qos/],
        ['retain "yes"', { topic: 'ok', retain: 'yes', payload: 1 }, /mqtt-out\.errors\.invalid-retain/],
        ['a function as payload', { topic: 'ok', payload: () => 1 }, /mqtt-out\.errors\.payload/],
        ['a symbol as payload', { topic: 'ok', payload: Symbol('s') }, /mqtt-out\.errors\.payload/],
    ];

    test('each bad message gets node.error with the msg; the good one after them arrives', async () => {
        await loadFlow([
            externalBroker('b', broker().port),
            { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' },
            { id: 'in', type: 'mqtt-in', broker: 'b', topic: '#', qos: '1', datatype: 'utf8', wires: [['h']] },
            { id: 'h', type: 'helper' },
        ]);
        const got = collect('h');
        const errors = errorsOf('out');
        await waitForStatus('in', (s) => s.fill === 'green', 'connected');
        await waitForSubscribed('b', '#');
        const circular: Record<string, unknown> = { topic: 'ok' };
        circular.payload = circular;
        const all: [string, Record<string, unknown>, RegExp][] = [...cases, ['a circular object as payload', circular, /mqtt-out\.errors\.payload/]];
        for (const [, msg] of all) getNode('out').receive(msg);
        getNode('out').receive({ topic: 'good/after', payload: 'still working' });
        await eventually(() => errors.length === all.length && got.length === 1, `${all.length} errors and the good message`);
        all.forEach(([what, msg, pattern], i) => {
            assert.match(errors[i][0], pattern, what);
            assert.equal(errors[i][1]?._msgid, (msg as any)._msgid, `${what}: the error carries the msg`);
        });
        assert.equal(got[0].topic, 'good/after');
        assert.equal(got.length, 1, 'nothing bad reached the broker');
    });

    test("a node whose own topic holds a wildcard refuses every message with the reason", async () => {
        await loadFlow([externalBroker('b', broker().port), { id: 'out', type: 'mqtt-out', broker: 'b', topic: 'home/#', qos: '0', retain: '' }]);
        const errors = errorsOf('out');
        getNode('out').receive({ payload: 1 });
        await eventually(() => errors.length === 1, 'the error');
        assert.match(errors[0][0], /mqtt-out\.errors\.invalid-topic/);
    });

    test('without a broker-config node: a red status and an error for each message', async () => {
        await loadFlow([{ id: 'out', type: 'mqtt-out', broker: 'missing', topic: 't', qos: '0', retain: '' }]);
        const errors = errorsOf('out');
        await waitForStatus('out', (s) => s.fill === 'red' && /no-broker/.test(String(s.text)), 'no broker status');
        getNode('out').receive({ payload: 1 });
        await eventually(() => errors.length === 1, 'the error');
        assert.match(errors[0][0], /no-broker/);
    });
});

describe('mqtt-in refuses a filter it cannot subscribe to', () => {
    for (const [filter, code] of [
        ['a/b#', 'hash-not-alone'],
        ['a/#/b', 'hash-not-last'],
        ['a+/b', 'plus-not-alone'],
        ['', 'empty'],
    ]) {
        test(`filter "${filter}": error and red status, nothing subscribed, Node-RED runs on`, async () => {
            await loadFlow([externalBroker('b', broker().port), { id: 'in', type: 'mqtt-in', broker: 'b', topic: filter, qos: '1', datatype: 'utf8', wires: [[]] }]);
            const status = await waitForStatus('in', (s) => s.fill === 'red', 'red status');
            assert.match(String(status.text), /mqtt-in\.errors\.invalid-filter/);
            assert.equal(getNode('b').connection.brokerFilters.size, 0);
            // The text in words comes from the broker-config catalogue, with an English fallback.
            assert.equal(getNode('b').text(`topic.${code}`, {}, 'fallback') !== '', true);
        });
    }
});

describe('connection failures are told in words', () => {
    test('a broker that is not running: reconnecting status says nothing listens there; QoS 0 is refused, QoS 1 waits and is delivered once it runs', async () => {
        const late = new Mosquitto();
        late.port = await freePort();
        try {
            await loadFlow([
                externalBroker('b', late.port),
                { id: 'out', type: 'mqtt-out', broker: 'b', topic: 'late/t', qos: '', retain: '' },
            ]);
            const errors = errorsOf('out');
            const status = await waitForStatus('out', (s) => s.fill === 'red' && /reconnecting/.test(String(s.text)), 'reconnecting status');
            assert.match(String(status.text), /broker-config\.status\.reconnecting/);
            const link = getNode('b').connection.status;
            assert.equal(link.reason.code, 'refused');
            assert.equal(link.reason.text, `nothing is listening at 127.0.0.1:${late.port} - is the broker running?`);
            getNode('out').receive({ payload: 'qos0', qos: 0 });
            getNode('out').receive({ payload: 'qos1', qos: 1 });
            await eventually(() => errors.length === 1, 'the QoS 0 refusal');
            assert.match(errors[0][0], /mqtt-out\.errors\.publish-failed/);
            assert.equal(errors[0][1].payload, 'qos0');
            assert.equal(getNode('b').connection.delivery.queued, 1, 'the QoS 1 message waits');

            await late.start();
            const witness = await mqtt.connectAsync(late.url, { protocolVersion: 4 });
            const arrived = new Promise<string>((resolve) => witness.on('message', (_t, p) => resolve(p.toString())));
            await witness.subscribeAsync('late/t', { qos: 1 });
            await waitForStatus('out', (s) => s.fill === 'green', 'connected once the broker runs', 15000);
            assert.equal(await arrived, 'qos1');
            await witness.endAsync();
            assert.equal(errors.length, 1);
        } finally {
            await late.dispose();
        }
    });

    test('wrong credentials: the status says so', async () => {
        const dir = fs.mkdtempSync(path.join(require('os').tmpdir(), 'mqtt-wire-auth-'));
        const passwords = path.join(dir, 'passwd');
        fs.writeFileSync(passwords, '');
        execFileSync('mosquitto_passwd', ['-b', passwords, 'alice', 'right-password']);
        const secured = await startMosquitto({ extraConfig: [`password_file ${passwords}`, 'allow_anonymous false'] });
        try {
            await loadFlow([externalBroker('b', secured.port), { id: 'out', type: 'mqtt-out', broker: 'b', topic: 't', qos: '0', retain: '' }], {
                b: { user: 'alice', password: 'wrong-password' },
            });
            await waitForStatus('out', (s) => s.fill === 'red' && /reconnecting/.test(String(s.text)), 'reconnecting status');
            const why = getNode('b').connection.status.reason;
            assert.ok(['bad-credentials', 'not-authorized'].includes(why.code), why.text);
            assert.doesNotMatch(JSON.stringify(getNode('b').connection.status), /wrong-password/, 'no secret in the status');
            await unloadFlow();

            await loadFlow([externalBroker('b', secured.port), { id: 'out', type: 'mqtt-out', broker: 'b', topic: 't', qos: '0', retain: '' }], {
                b: { user: 'alice', password: 'right-password' },
            });
            await waitForStatus('out', (s) => s.fill === 'green', 'connected with the right password');
        } finally {
            await secured.dispose();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });

    test('the embedded broker on a port that is taken: a clear reason, and it starts once the port is free', async () => {
        const blocker = await startMosquitto();
        const port = blocker.port;
        try {
            await loadFlow([embeddedBroker('b', port), { id: 'in', type: 'mqtt-in', broker: 'b', topic: 'x', qos: '0', datatype: 'utf8', wires: [[]] }]);
            await waitForStatus('in', (s) => s.fill === 'red' && /reconnecting/.test(String(s.text)), 'reconnecting status');
            const why = getNode('b').connection.status.reason;
            assert.equal(why.code, 'port-in-use');
            assert.equal(why.text, `port ${port} on 127.0.0.1 is already in use - is another broker running there?`);
            await blocker.stop();
            await waitForStatus('in', (s) => s.fill === 'green', 'connected to its own broker', 20000);
        } finally {
            await blocker.dispose();
        }
    });
});
