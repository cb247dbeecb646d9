/**
 * Defects an acceptance pass found as a user would meet them, each held against a real runtime and
 * a real Mosquitto: a real Node-RED process (its message catalogues loaded, so the words a log and a
 * Catch node get are the ones checked) or the test helper.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { allNodes, collect, coreNode, eventually, externalBroker, FlowNode, getNode, loadFlow, unloadFlow, helper, statusHistory, waitForStatus, waitForSubscribed } from '../support/node-red';
import { NodeRedProcess, startNodeRed } from '../support/node-red-process';

let mosquitto: Mosquitto;
let workDir: string;

before(async () => {
    mosquitto = await startMosquitto();
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-findings-'));
});
after(async () => {
    await mosquitto.dispose();
    fs.rmSync(workDir, { recursive: true, force: true });
});

describe('in a real Node-RED, what the log and a Catch node get', () => {
    let runtime: NodeRedProcess | null = null;
    after(async () => {
        if (runtime?.running) await runtime.kill();
    });

    /**
     * POST /in and /out take a JSON body that a function node spreads over the msg for a dynamic
     * mqtt-in and an mqtt-out; `bigQos` becomes a BigInt msg.qos, `cyclicRetain` a circular
     * msg.retain (what JSON cannot carry). A Catch node sends what it catches to the log.
     */
    function flow(port: number): object[] {
        const toMsg = [
            'Object.assign(msg, msg.payload);',
            'if (msg.bigQos !== undefined) msg.qos = BigInt(msg.bigQos);',
            'if (msg.cyclicRetain) { msg.retain = {}; msg.retain.self = msg.retain; }',
            'return msg;',
        ].join('\n');
        const at = (node: object, y: number): object => ({ z: 'tab1', x: 200, y, ...node });
        return [
            { id: 'tab1', type: 'tab', label: 'findings' },
            { id: 'b1', type: 'broker-config', mode: 'external', broker: '127.0.0.1', port: String(port), clientid: '', cleansession: true, protocolVersion: '4', keepalive: '60', autoConnect: true },
            at({ id: 'postIn', type: 'http in', url: '/in', method: 'post', wires: [['toIn', 'ok']] }, 40),
            at({ id: 'postOut', type: 'http in', url: '/out', method: 'post', wires: [['toOut', 'ok']] }, 80),
            at({ id: 'ok', type: 'http response', statusCode: '200', wires: [] }, 120),
            at({ id: 'toIn', type: 'function', func: toMsg, outputs: 1, wires: [['dyn']] }, 160),
            at({ id: 'toOut', type: 'function', func: toMsg, outputs: 1, wires: [['out']] }, 200),
            at({ id: 'dyn', type: 'mqtt-in', broker: 'b1', topic: '', qos: '1', datatype: 'utf8', inputs: 1, wires: [[]] }, 240),
            at({ id: 'out', type: 'mqtt-out', broker: 'b1', topic: 'findings/out', qos: '', retain: '', wires: [] }, 280),
            at({ id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] }, 320),
            at({ id: 'caught', type: 'debug', active: true, tosidebar: false, console: true, complete: 'error', wires: [] }, 360),
        ];
    }

    async function post(route: '/in' | '/out', body: object): Promise<void> {
        const response = await runtime!.request(route, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        assert.equal(response.status, 200);
    }

    test('a connect action whose msg.broker.password has the wrong type: refused, the password in no log line and at no Catch node', async () => {
        runtime = await startNodeRed({ userDir: path.join(workDir, 'user'), flows: flow(mosquitto.port) });
        for (const route of ['/in', '/out'] as const) {
            const from = runtime.log.length;
            await post(route, { action: 'connect', broker: { username: 'alice', password: 987654321, force: true } });
            // The node's error line and the Catch node's debug line.
            await eventually(() => (runtime!.log.slice(from).match(/msg\.broker\.password/g) ?? []).length >= 2, `the refusal of ${route} in the log`);
            assert.doesNotMatch(runtime.log.slice(from), /987654321/, `${route}: the password stays out of the log`);
        }
    });

    test('a BigInt msg.qos and a circular msg.retain are refused in words, not with a JSON error', async () => {
        if (!runtime?.running) runtime = await startNodeRed({ userDir: path.join(workDir, 'user'), flows: flow(mosquitto.port) });
        const from = runtime.log.length;
        await post('/out', { payload: 'p', bigQos: 1 });
        await post('/out', { payload: 'p', cyclicRetain: true });
        await eventually(() => /invalid QoS 1n: use 0, 1 or 2/.test(runtime!.log.slice(from)), 'the QoS refusal in words');
        await eventually(() => /invalid msg\.retain \S.*: use true or false/.test(runtime!.log.slice(from)), 'the retain refusal in words');
        assert.doesNotMatch(runtime.log.slice(from), /serialize a BigInt|circular structure/i);
    });
});

describe('with the test helper', () => {
    before(() => new Promise<void>((resolve) => helper.startServer(resolve)));
    after(() => new Promise<void>((resolve) => helper.stopServer(resolve)));

    test('a TLS URL to a plain MQTT listener: the reason says TLS and asks whether this is a TLS port', async () => {
        try {
            await loadFlow([
                externalBroker('b', mosquitto.port, { broker: `mqtts://127.0.0.1:${mosquitto.port}` }),
                { id: 'out', type: 'mqtt-out', broker: 'b', topic: 't', qos: '0', retain: '' },
            ]);
            await waitForStatus('out', (s) => s.fill === 'red' && /reconnecting/.test(String(s.text)), 'reconnecting status');
            const why = getNode('b').connection.status.reason;
            assert.equal(why.code, 'tls-reset', why.text);
            assert.match(why.text, /TLS.*is this a TLS port\?/);
        } finally {
            await unloadFlow();
        }
    });
    /** MQTT's own limit: a Remaining Length of at most 268,435,455 bytes, so 268,435,460 bytes for a whole packet. */
    const OVER_MQTT_LIMIT = 268435456;

    for (const version of ['4', '5']) {
        test(`MQTT ${version === '5' ? '5' : '3.1.1'}: a payload larger than MQTT allows in one packet reaches the Catch node at QoS 0 and 1, and the link stays up`, async () => {
            const onTab = (node: FlowNode): FlowNode => ({ z: 't', x: 100, y: 100, ...node });
            const flow: FlowNode[] = [
                { id: 't', type: 'tab' },
                externalBroker('b', mosquitto.port, { protocolVersion: version }),
                onTab({ id: 'out', type: 'mqtt-out', broker: 'b', topic: 'findings/big', qos: '', retain: '' }),
                onTab({ id: 'in', type: 'mqtt-in', broker: 'b', topic: 'findings/big', qos: '1', datatype: 'utf8', wires: [['got']] }),
                onTab({ id: 'got', type: 'helper' }),
                onTab({ id: 'catch', type: 'catch', scope: ['out'], uncaught: false, wires: [['caught']] }),
                onTab({ id: 'caught', type: 'helper' }),
            ];
            try {
                await new Promise<void>((resolve, reject) => helper.load([...allNodes, coreNode('common/25-catch.js')], flow, {}, (err?: Error) => (err ? reject(err) : resolve())));
                const got = collect('got');
                const caught = collect('caught');
                await waitForStatus('out', (s) => s.fill === 'green', 'connected');
                await waitForSubscribed('b', 'findings/big');
                const upSince = statusHistory('out').length;
                getNode('out').receive({ payload: Buffer.alloc(OVER_MQTT_LIMIT), qos: 0, tag: 'big qos 0' });
                getNode('out').receive({ payload: Buffer.alloc(OVER_MQTT_LIMIT), qos: 1, tag: 'big qos 1' });
                getNode('out').receive({ payload: 'small', qos: 1, tag: 'small' });
                await eventually(() => caught.length === 2 && got.length === 1, 'both refusals at the Catch node and the small message', 20000);
                assert.deepEqual(caught.map((m) => m.tag), ['big qos 0', 'big qos 1']);
                assert.equal(got[0].payload, 'small');
                const since = statusHistory('out').slice(upSince);
                assert.ok(since.every((s) => s.fill === 'green'), `the link stayed up: ${JSON.stringify(since)}`);
            } finally {
                await unloadFlow();
            }
        });
    }
});
