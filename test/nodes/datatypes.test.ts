/**
 * Each datatype of mqtt-in against real Mosquitto, on MQTT 5 and 3.1.1: a foreign MQTT.js client
 * publishes payloads (on MQTT 5 with a content type), and each mqtt-in's msg.payload must have the
 * expected type and value. Node-RED's own core `mqtt in` runs in the same flow with the same
 * datatypes and must give the same payloads. A Catch node receives the errors of both.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as mqtt from 'mqtt';
import { startMosquitto } from '../support/mosquitto';
import { allNodes, collect, coreNode, eventually, externalBroker, FlowNode, helper, useRuntime, waitForAllSubscribed, waitForStatus } from '../support/node-red';

const broker = useRuntime(() => startMosquitto());

const coreNodes = [coreNode('network/10-mqtt.js'), coreNode('common/25-catch.js')];

/** The datatypes under test; 'unset' is an mqtt-in without the property. */
const DATATYPES = ['auto', 'auto-detect', 'utf8', 'buffer', 'json', 'base64', 'unset'] as const;
type Datatype = (typeof DATATYPES)[number];

/** An error a Catch node must see, with the msg.payload it carries (the text when the bytes are text). */
class Caught {
    constructor(readonly payload: unknown) {}
}

interface Case {
    name: string;
    bytes: Buffer;
    contentType?: string;
    /** Expected msg.payload per datatype (or an error for the Catch node); 'utf8', 'buffer',
     * 'base64' and 'unset' default to the decoded text, the bytes and their Base64. */
    expect: Partial<Record<Datatype, unknown>>;
}

const JSON_OBJECT = Buffer.from('{"t":21.5}');
const BINARY = Buffer.from([0xff, 0xfe, 0x00]);
const WITH_NUL = Buffer.from('a\u0000b');
const NOT_JSON = Buffer.from('{oops');

/** The cases for a protocol version: content types only exist on MQTT 5. */
function cases(v5: boolean): Case[] {
    const declared = (contentType: string, onV5: Case['expect'], onV3: Case['expect']) => ({ contentType: v5 ? contentType : undefined, expect: v5 ? onV5 : onV3 });
    const plainJson = { auto: '{"t":21.5}', 'auto-detect': { t: 21.5 }, json: { t: 21.5 } };
    return [
        { name: 'json', bytes: JSON_OBJECT, expect: plainJson },
        { name: 'text', bytes: Buffer.from('温度 on'), expect: { auto: '温度 on', 'auto-detect': '温度 on', json: new Caught('温度 on') } },
        { name: 'binary', bytes: BINARY, expect: { auto: BINARY, 'auto-detect': BINARY, json: new Caught(BINARY) } },
        { name: 'nul', bytes: WITH_NUL, expect: { auto: WITH_NUL, 'auto-detect': WITH_NUL, json: new Caught(WITH_NUL) } },
        { name: 'text-plain', bytes: JSON_OBJECT, ...declared('text/plain', { auto: '{"t":21.5}', 'auto-detect': '{"t":21.5}', json: { t: 21.5 } }, plainJson) },
        { name: 'app-json', bytes: JSON_OBJECT, ...declared('application/json', plainJson, plainJson) },
        { name: 'app-zip', bytes: JSON_OBJECT, ...declared('application/zip', { auto: JSON_OBJECT, 'auto-detect': JSON_OBJECT, json: { t: 21.5 } }, plainJson) },
        {
            name: 'bad-json',
            bytes: NOT_JSON,
            ...declared(
                'application/json',
                { auto: new Caught('{oops'), 'auto-detect': new Caught('{oops'), json: new Caught('{oops') },
                { auto: '{oops', 'auto-detect': '{oops', json: new Caught('{oops') },
            ),
        },
    ];
}

function expected(c: Case, datatype: Datatype): unknown {
    if (datatype in c.expect) return c.expect[datatype];
    if (datatype === 'buffer') return c.bytes;
    if (datatype === 'base64') return c.bytes.toString('base64');
    return c.bytes.toString('utf8');
}

const TOPIC = 'dt';

/** A node on tab 't', placed as the editor places it, so that the runtime runs it as a flow node. */
function onTab(node: FlowNode): FlowNode {
    return { z: 't', x: 100, y: 100, ...node };
}

function flow(protocolVersion: 4 | 5): FlowNode[] {
    const nodes: FlowNode[] = [
        { id: 't', type: 'tab' },
        externalBroker('b', broker().port, { protocolVersion: String(protocolVersion) }),
        { id: 'cb', type: 'mqtt-broker', broker: '127.0.0.1', port: String(broker().port), protocolVersion: String(protocolVersion), keepalive: '60', cleansession: true, autoConnect: true },
        onTab({ id: 'catch-all', type: 'catch', scope: null, uncaught: false, wires: [['caught']] }),
        onTab({ id: 'caught', type: 'helper' }),
    ];
    for (const datatype of DATATYPES) {
        const setting = datatype === 'unset' ? {} : { datatype };
        nodes.push(onTab({ id: `in-${datatype}`, type: 'mqtt-in', broker: 'b', topic: `${TOPIC}/#`, qos: '1', ...setting, wires: [[`h-${datatype}`]] }));
        nodes.push(onTab({ id: `h-${datatype}`, type: 'helper' }));
        nodes.push(onTab({ id: `core-${datatype}`, type: 'mqtt in', broker: 'cb', topic: `${TOPIC}/#`, qos: '1', ...setting, wires: [[`hc-${datatype}`]] }));
        nodes.push(onTab({ id: `hc-${datatype}`, type: 'helper' }));
    }
    return nodes;
}

const HELPERS = DATATYPES.flatMap((d) => [`h-${d}`, `hc-${d}`]);

/** By the topic's last level: the payload each helper received, and the errors the Catch node got per node. */
interface Outcome {
    payloads: Record<string, Record<string, unknown>>;
    caught: Record<string, Record<string, { payload: unknown; topic: string; qos: number; retain: boolean }>>;
}

async function run(protocolVersion: 4 | 5, sent: Case[]): Promise<Outcome> {
    await new Promise<void>((resolve, reject) => helper.load([...allNodes, ...coreNodes], flow(protocolVersion), {}, (err?: Error) => (err ? reject(err) : resolve())));
    const received = Object.fromEntries(HELPERS.map((id) => [id, collect(id)]));
    const caught = collect('caught');
    await waitForStatus('in-auto', (s) => s.fill === 'green', 'mqtt-in connected');
    await waitForAllSubscribed('b');
    const publisher = await mqtt.connectAsync(broker().url, { protocolVersion });
    try {
        // The core node's subscription has no event to wait for: publish until every node has a message.
        const ready = () => HELPERS.every((id) => received[id].some((m) => m.topic === `${TOPIC}/ready`));
        while (!ready()) {
            await publisher.publishAsync(`${TOPIC}/ready`, '1', { qos: 1 });
            await eventually(ready, 'every subscription active', 200).catch(() => undefined);
        }
        for (const c of sent) {
            const properties = c.contentType ? { contentType: c.contentType } : undefined;
            await publisher.publishAsync(`${TOPIC}/${c.name}`, c.bytes, { qos: 1, properties });
        }
        // One publisher, one subscription per node: what was published before 'end' has arrived once 'end' has.
        await publisher.publishAsync(`${TOPIC}/end`, '1', { qos: 1 });
        await eventually(() => HELPERS.every((id) => received[id].some((m) => m.topic === `${TOPIC}/end`)), 'the last message at every node');
    } finally {
        await publisher.endAsync();
    }
    const payloads: Outcome['payloads'] = {};
    for (const id of HELPERS) payloads[id] = Object.fromEntries(received[id].map((m) => [m.topic.slice(TOPIC.length + 1), m.payload]));
    const errors: Outcome['caught'] = {};
    for (const msg of caught) {
        const source: string = msg.error.source.id;
        (errors[source] ??= {})[msg.topic.slice(TOPIC.length + 1)] = msg;
    }
    return { payloads, caught: errors };
}

for (const protocolVersion of [5, 4] as const) {
    describe(`MQTT ${protocolVersion === 5 ? '5' : '3.1.1'} on Mosquitto`, () => {
        const sent = cases(protocolVersion === 5);
        let outcome: Outcome | undefined;
        const result = async () => (outcome ??= await run(protocolVersion, sent));

        test('msg.payload has the type and value each datatype promises', async () => {
            const { payloads } = await result();
            for (const datatype of DATATYPES) {
                for (const c of sent) {
                    const want = expected(c, datatype);
                    const got = payloads[`h-${datatype}`][c.name];
                    const label = `${c.name} under ${datatype}`;
                    if (want instanceof Caught) {
                        assert.equal(got, undefined, `${label}: not sent on`);
                        continue;
                    }
                    if (Buffer.isBuffer(want)) assert.ok(Buffer.isBuffer(got), `${label}: a Buffer`);
                    else assert.equal(typeof got, typeof want, `${label}: a ${typeof want}`);
                    assert.deepEqual(got, want, label);
                }
            }
        });

        test('errors reach a Catch node with topic, QoS, retain and the payload as it arrived', async () => {
            const { caught } = await result();
            for (const datatype of DATATYPES) {
                for (const c of sent) {
                    const want = expected(c, datatype);
                    const error = caught[`in-${datatype}`]?.[c.name];
                    const label = `${c.name} under ${datatype}`;
                    if (!(want instanceof Caught)) {
                        assert.equal(error, undefined, `${label}: no error`);
                        continue;
                    }
                    assert.ok(error, `${label}: the Catch node has the error`);
                    assert.deepEqual(error.payload, want.payload, `${label}: the payload`);
                    assert.equal(error.topic, `${TOPIC}/${c.name}`);
                    assert.equal(error.qos, 1);
                    assert.equal(error.retain, false);
                }
            }
        });

        test('the same payloads and errors as the core mqtt in node', async () => {
            const { payloads, caught } = await result();
            for (const datatype of DATATYPES) {
                assert.deepEqual(payloads[`h-${datatype}`], payloads[`hc-${datatype}`], `payloads under ${datatype}`);
                const ours = Object.keys(caught[`in-${datatype}`] ?? {}).sort();
                const core = Object.keys(caught[`core-${datatype}`] ?? {}).sort();
                assert.deepEqual(ours, core, `the messages that fail under ${datatype}`);
                // Under json the core node's error msg carries the bytes even when they are text.
                if (datatype === 'json') continue;
                for (const name of ours) assert.deepEqual(caught[`in-${datatype}`][name].payload, caught[`core-${datatype}`][name].payload, `${name} under ${datatype}: the error's payload`);
            }
        });
    });
}
