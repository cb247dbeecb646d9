/**
 * Publish and receive through real brokers: a Mosquitto the test starts, and the embedded aedes
 * broker. Each case wires mqtt-out -> broker -> mqtt-in -> helper and checks what the flow sees.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startMosquitto } from '../support/mosquitto';
import * as mqtt from 'mqtt';
import { collect, embeddedBroker, eventually, externalBroker, FlowNode, getNode, loadFlow, unloadFlow, waitForAllSubscribed, waitForStatus, useRuntime } from '../support/node-red';
import { freePort } from '../support/shared/ports';

const broker = useRuntime(() => startMosquitto());

type BrokerKind = 'mosquitto' | 'embedded';

async function brokerNode(kind: BrokerKind, extra: Record<string, unknown> = {}): Promise<FlowNode> {
    return kind === 'mosquitto' ? externalBroker('b', broker().port, extra) : embeddedBroker('b', await freePort(), extra);
}

/**
 * Loads the flow, starts collecting what the helper nodes receive (before anything can arrive), and
 * waits until every listed node shows a connected status and the broker confirmed the subscriptions.
 */
async function start(flow: FlowNode[], connected: string[]): Promise<Record<string, any[]>> {
    await loadFlow(flow);
    const received: Record<string, any[]> = {};
    for (const n of flow) if (n.type === 'helper') received[n.id] = collect(n.id);
    for (const id of connected) await waitForStatus(id, (s) => s.fill === 'green', `${id} connected`);
    for (const b of flow) {
        if (b.type === 'broker-config' && flow.some((n) => n.type === 'mqtt-in' && n.broker === b.id)) await waitForAllSubscribed(b.id);
    }
    return received;
}

/** Sends a msg into an mqtt-out node and resolves once a foreign client on the broker has seen it. */
async function publishAndConfirm(port: number, nodeId: string, topic: string, msg: Record<string, unknown>): Promise<void> {
    const witness = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4 });
    try {
        const seen = new Promise<void>((resolve) => witness.on('message', (t) => t === topic && resolve()));
        await witness.subscribeAsync(topic, { qos: 1 });
        getNode(nodeId).receive(msg);
        await seen;
    } finally {
        await witness.endAsync();
    }
}

for (const kind of ['mosquitto', 'embedded'] as BrokerKind[]) {
    describe(`with ${kind}`, () => {
        test('the QoS a subscriber sees is min(publish QoS, subscribe QoS), for each pair', async () => {
            const flow: FlowNode[] = [await brokerNode(kind), { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' }];
            for (const subQos of [0, 1, 2]) {
                flow.push({ id: `in${subQos}`, type: 'mqtt-in', broker: 'b', topic: `qos/sub${subQos}/+`, qos: String(subQos), datatype: 'utf8', wires: [[`h${subQos}`]] });
                flow.push({ id: `h${subQos}`, type: 'helper' });
            }
            const got = await start(flow, ['in0', 'in1', 'in2']);
            const received = [0, 1, 2].map((q) => got[`h${q}`]);
            for (const subQos of [0, 1, 2]) {
                for (const pubQos of [0, 1, 2]) {
                    getNode('out').receive({ topic: `qos/sub${subQos}/pub${pubQos}`, payload: `p${pubQos}`, qos: pubQos });
                }
            }
            await eventually(() => received.every((r) => r.length === 3), 'nine messages');
            for (const subQos of [0, 1, 2]) {
                for (const msg of received[subQos]) {
                    const pubQos = Number(msg.topic.slice(-1));
                    assert.equal(msg.qos, Math.min(pubQos, subQos), `${msg.topic} at subscribe QoS ${subQos}`);
                    assert.equal(msg.payload, `p${pubQos}`);
                    assert.equal(msg.retain, false);
                }
            }
        });

        test('a retained message reaches a subscriber that comes later, with msg.retain true', async () => {
            const topic = `retained/${kind}/${Date.now()}`;
            const port = kind === 'mosquitto' ? broker().port : await freePort();
            const b = kind === 'mosquitto' ? externalBroker('b', port) : embeddedBroker('b', port);
            const out: FlowNode = { id: 'out', type: 'mqtt-out', broker: 'b', topic, qos: '1', retain: 'true' };
            const later: FlowNode[] = [
                externalBroker('b2', port, { autoConnect: true }),
                { id: 'in', type: 'mqtt-in', broker: 'b2', topic, qos: '1', datatype: 'utf8', wires: [['h']] },
                { id: 'h', type: 'helper' },
            ];
            if (kind === 'mosquitto') {
                await start([b, out], ['out']);
                await publishAndConfirm(port, 'out', topic, { payload: 'kept' });
                await unloadFlow();
                const got = await start(later, []);
                await eventually(() => got.h.length === 1, 'the retained message');
                assert.deepEqual([got.h[0].payload, got.h[0].retain, got.h[0].topic], ['kept', true, topic]);
            } else {
                // The embedded broker keeps retained messages while it runs: a second connection of the
                // same flow subscribes only after the publish was acknowledged.
                await start([b, out], ['out']);
                await publishAndConfirm(port, 'out', topic, { payload: 'kept' });
                const foreign = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4 });
                const arrived = new Promise<[string, Buffer, boolean]>((resolve) => foreign.once('message', (t, p, packet) => resolve([t, p, packet.retain])));
                await foreign.subscribeAsync(topic, { qos: 1 });
                const [t, p, retain] = await arrived;
                await foreign.endAsync();
                assert.deepEqual([t, p.toString(), retain], [topic, 'kept', true]);
            }
        });

        test('topics with spaces and multibyte UTF-8 arrive unchanged', async () => {
            const topics = ['MQTT Examples', '家/客厅/温度', ' lead/trail ', 'a//b', '/x'];
            const flow: FlowNode[] = [await brokerNode(kind), { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '1', retain: '' }];
            topics.forEach((topic, i) => {
                flow.push({ id: `in${i}`, type: 'mqtt-in', broker: 'b', topic, qos: '1', datatype: 'utf8', wires: [[`h${i}`]] });
                flow.push({ id: `h${i}`, type: 'helper' });
            });
            const got = await start(flow, ['in0']);
            const received = topics.map((_, i) => got[`h${i}`]);
            topics.forEach((topic) => getNode('out').receive({ topic, payload: `to ${topic}` }));
            await eventually(() => received.every((r) => r.length >= 1), 'every topic');
            // Time for a second copy to show up, if one were coming.
            await new Promise((r) => setTimeout(r, 100));
            topics.forEach((topic, i) => {
                assert.equal(received[i].length, 1, `exactly one message on "${topic}"`);
                assert.equal(received[i][0].topic, topic);
                assert.equal(received[i][0].payload, `to ${topic}`);
            });
        });

        test('payloads: every msg.payload type out, every datatype in', async () => {
            const datatypes = ['auto-detect', 'utf8', 'buffer', 'json', 'base64'];
            const flow: FlowNode[] = [await brokerNode(kind), { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '1', retain: '' }];
            datatypes.forEach((datatype) => {
                flow.push({ id: `in-${datatype}`, type: 'mqtt-in', broker: 'b', topic: 'p/#', qos: '1', datatype, wires: [[`h-${datatype}`]] });
                flow.push({ id: `h-${datatype}`, type: 'helper' });
            });
            const received = await start(flow, ['in-utf8']);
            const got: Record<string, any[]> = {};
            datatypes.forEach((d) => (got[d] = received[`h-${d}`]));
            const binary = Buffer.from([0xff, 0x00, 0xfe, 0x80]);
            const cases: [string, unknown, Buffer][] = [
                ['buffer', binary, binary],
                ['string', 'héllo 家', Buffer.from('héllo 家')],
                ['object', { t: 21.5, unit: 'C' }, Buffer.from('{"t":21.5,"unit":"C"}')],
                ['array', [1, 'two'], Buffer.from('[1,"two"]')],
                ['number', 42.5, Buffer.from('42.5')],
                ['boolean', false, Buffer.from('false')],
                ['null', null, Buffer.alloc(0)],
                ['undefined', undefined, Buffer.alloc(0)],
            ];
            for (const [name, payload] of cases) getNode('out').receive({ topic: `p/${name}`, payload });
            // Under 'json' only the object, array, number and boolean parse; the rest are errors.
            await eventually(() => datatypes.every((d) => got[d].length >= (d === 'json' ? 4 : cases.length)), 'all conversions');
            // Time for anything more to show up, if anything were coming.
            await new Promise((r) => setTimeout(r, 100));
            const byTopic = (d: string) => Object.fromEntries(got[d].map((m) => [m.topic.slice(2), m.payload]));
            const bytes = byTopic('buffer');
            for (const [name, , expected] of cases) assert.deepEqual(bytes[name], expected, `bytes of ${name}`);
            const text = byTopic('utf8');
            assert.equal(text.string, 'héllo 家');
            assert.equal(text.object, '{"t":21.5,"unit":"C"}');
            assert.equal(text.null, '');
            const b64 = byTopic('base64');
            assert.equal(b64.buffer, binary.toString('base64'));
            assert.equal(b64.string, Buffer.from('héllo 家').toString('base64'));
            const auto = byTopic('auto-detect');
            assert.deepEqual(auto.buffer, binary, 'binary stays a Buffer');
            assert.equal(auto.string, 'héllo 家');
            assert.deepEqual(auto.object, { t: 21.5, unit: 'C' });
            assert.deepEqual(auto.array, [1, 'two']);
            assert.equal(auto.number, 42.5);
            assert.equal(auto.boolean, false);
            assert.equal(auto.null, '');
            const json = byTopic('json');
            assert.deepEqual(json.object, { t: 21.5, unit: 'C' });
            assert.deepEqual(json.array, [1, 'two']);
            assert.equal(json.number, 42.5);
            assert.equal(json.boolean, false);
            assert.equal(Object.keys(json).length, 4, 'json emits only what parses');
        });

        test('parsed JSON: a payload that is not JSON gives node.error with the raw payload on the msg', async () => {
            const { h: got } = await start(
                [await brokerNode(kind), { id: 'out', type: 'mqtt-out', broker: 'b', topic: 'j/t', qos: '1', retain: '' }, { id: 'in', type: 'mqtt-in', broker: 'b', topic: 'j/t', qos: '1', datatype: 'json', wires: [['h']] }, { id: 'h', type: 'helper' }],
                ['in'],
            );
            const errors: any[] = [];
            getNode('in').on('call:error', (call: { args: any[] }) => errors.push(call.args));
            getNode('out').receive({ payload: 'not json {' });
            getNode('out').receive({ payload: { ok: true } });
            await eventually(() => errors.length === 1 && got.length === 1, 'one error and one message');
            assert.match(String(errors[0][0]), /mqtt-in\.errors\.invalid-json/);
            assert.equal(errors[0][1].payload, 'not json {');
            assert.equal(errors[0][1].topic, 'j/t');
            assert.deepEqual(got[0].payload, { ok: true });
        });
    });
}
