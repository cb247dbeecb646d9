/**
 * Node-RED's core MQTT nodes' own flow tests (21-mqtt_spec.js at 4.1.8) as a yardstick: each test
 * here loads the flow the core test loads, with only the node types changed (mqtt-broker ->
 * broker-config, mqtt in -> mqtt-in, mqtt out -> mqtt-out), against a Mosquitto started for this
 * file on a free port, and asserts what the core test asserts. Each title names the core test it
 * mirrors. Waits are on the connection's events and on messages instead of the core's polling.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as mqtt from 'mqtt';
import { startMosquitto } from '../support/mosquitto';
import { getNode, useRuntime, waitForSubscribed } from '../support/node-red';
import { TcpProxy } from '../support/tcp-proxy';
import { BROKER_ID, brokersConnected, coreBroker, coreFlow, firstAtHelper, freshTopic, IN_ID, loadCoreFlow, nextAtHelper, OUT_ID } from '../support/core-spec-flow';

const broker = useRuntime(() => startMosquitto());

type Msg = Record<string, unknown>;

/** The core test's comparison of a received msg with the expected one. */
function assertLikeExpected(msg: Msg, expected: Msg): void {
    assert.equal(msg.topic, expected.topic);
    assert.deepEqual(msg.payload, expected.payload);
    if ('retain' in expected) assert.equal(msg.retain, expected.retain);
    assert.equal(msg.qos, 'qos' in expected ? expected.qos : 0);
    for (const property of ['userProperties', 'contentType', 'correlationData', 'responseTopic', 'payloadFormatIndicator', 'messageExpiryInterval']) {
        if (property in expected) assert.deepEqual(msg[property], expected[property], property);
    }
}

/** The error a Catch node of the mqtt-in passes on: its source is the mqtt-in. */
function assertCaughtFromIn(msg: Msg): void {
    assert.equal(typeof msg.error, 'object');
    const source = (msg.error as { source?: { id?: string } }).source;
    assert.equal(typeof source, 'object');
    assert.equal(source?.id, IN_ID);
}

interface SendReceive {
    brokerOptions?: Msg;
    inOptions: Msg;
    send: Msg;
    /** What the helper must receive; without it, the sent msg. */
    expect?: Msg;
    /** The helper receives the Catch node's error for the mqtt-in instead of a message. */
    expectCaught?: boolean;
}

/**
 * The core's send-and-receive round: load the flow, wait for the connection, (subscribe a dynamic
 * mqtt-in to the topic,) hand the msg to mqtt-out and check the first msg at the helper node.
 */
async function sendAndReceive({ brokerOptions = {}, inOptions, send, expect, expectCaught }: SendReceive): Promise<void> {
    await loadCoreFlow(coreFlow(broker().port, brokerOptions, String(send.topic), inOptions));
    const arrived = nextAtHelper();
    await brokersConnected([BROKER_ID]);
    if (inOptions.topicType === 'dynamic') getNode(IN_ID).receive({ action: 'subscribe', topic: send.topic });
    getNode(OUT_ID).receive({ ...send });
    const msg = await arrived;
    if (expectCaught) assertCaughtFromIn(msg);
    else assertLikeExpected(msg, expect ?? send);
}

// The payload '{"prop":"val"}' as bytes.
const jsonBytes = (): Buffer => Buffer.from([0x7b, 0x22, 0x70, 0x72, 0x6f, 0x70, 0x22, 0x3a, 0x22, 0x76, 0x61, 0x6c, 0x22, 0x7d]);

describe('core basic tests', () => {
    test('a QoS 0 string comes back as it was sent, under auto (core: "basic send and receive tests")', async () => {
        const send = { topic: freshTopic(), payload: 'hello', qos: 0 };
        await sendAndReceive({ inOptions: { datatype: 'auto', topicType: 'static' }, send });
    });

    test('JSON text stays a string under auto (core: "should send JSON and receive string (auto mode)")', async () => {
        const send = { topic: freshTopic(), payload: '{"prop":"value1", "num":1}', qos: 1 };
        await sendAndReceive({ inOptions: { datatype: 'auto', topicType: 'static' }, send });
    });

    test('JSON text is parsed under auto-detect (core: "should send JSON and receive object (auto-detect mode)")', async () => {
        const send = { topic: freshTopic(), payload: '{"prop":"value1", "num":1}', qos: 1 };
        await sendAndReceive({ inOptions: { datatype: 'auto-detect', topicType: 'static' }, send, expect: { ...send, payload: { prop: 'value1', num: 1 } } });
    });

    test('text that is not JSON stays a string under auto (core: "should send invalid JSON and receive string (auto mode)")', async () => {
        const send = { topic: freshTopic(), payload: '{prop:"value3", "num":3}' };
        await sendAndReceive({ inOptions: { datatype: 'auto', topicType: 'static' }, send });
    });

    test('text that is not JSON stays a string under auto-detect (core: "should send invalid JSON and receive string (auto-detect mode)")', async () => {
        const send = { topic: freshTopic(), payload: '{prop:"value3", "num":3}' };
        await sendAndReceive({ inOptions: { datatype: 'auto-detect', topicType: 'static' }, send });
    });

    test('JSON text stays a string under utf8, at QoS 2 (core: "should send JSON and receive string (utf8 mode)")', async () => {
        const send = { topic: freshTopic(), payload: '{"prop":"value2", "num":2}', qos: 2 };
        await sendAndReceive({ inOptions: { datatype: 'utf8', topicType: 'static' }, send });
    });

    test('JSON text becomes an object under json (core: "should send JSON and receive Object (json mode)")', async () => {
        const send = { topic: freshTopic(), payload: '{"prop":"value3", "num":3}' };
        await sendAndReceive({ inOptions: { datatype: 'json', topicType: 'static' }, send, expect: { ...send, payload: { prop: 'value3', num: 3 } } });
    });

    test('text that is not JSON under json reaches a Catch node from the mqtt-in (core: "should send invalid JSON and raise error (json mode)")', async () => {
        const send = { topic: freshTopic(), payload: '{prop:"value3", "num":3}' };
        await sendAndReceive({ inOptions: { datatype: 'json', topicType: 'static' }, send, expectCaught: true });
    });

    test('a string arrives as its bytes under buffer (core: "should send String and receive Buffer (buffer mode)")', async () => {
        const send = { topic: freshTopic(), payload: 'a b c' };
        await sendAndReceive({ inOptions: { datatype: 'buffer', topicType: 'static' }, send, expect: { ...send, payload: Buffer.from('a b c') } });
    });

    test('a Buffer of UTF-8 text arrives as a string under auto (core: "should send utf8 Buffer and receive String (auto mode)")', async () => {
        const send = { topic: freshTopic(), payload: Buffer.from([0x78, 0x20, 0x79, 0x20, 0x7a]) };
        await sendAndReceive({ inOptions: { datatype: 'auto', topicType: 'static' }, send, expect: { ...send, payload: 'x y z' } });
    });

    test('bytes that are not UTF-8 arrive as a Buffer under auto (core: "should send non utf8 Buffer and receive Buffer (auto mode)")', async () => {
        const bytes = [0xc0, 0xc1, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff];
        const send = { topic: freshTopic(), payload: Buffer.from(bytes) };
        await sendAndReceive({ inOptions: { datatype: 'auto', topicType: 'static' }, send, expect: { ...send, payload: Buffer.from(bytes) } });
    });

    test('every MQTT 5 property and flag of the msg goes across and comes back on the msg (core: "should send/receive all v5 flags and settings")', async () => {
        const base = freshTopic();
        const send = {
            topic: `${base}/command`,
            payload: Buffer.from('{"version":"v5"}'),
            qos: 1,
            retain: true,
            responseTopic: `${base}/response`,
            userProperties: { prop1: 'val1' },
            contentType: 'text/plain',
            correlationData: Buffer.from([1, 2, 3]),
            payloadFormatIndicator: true,
            messageExpiryInterval: 2000,
        };
        // As in the core test: text/plain under auto gives a string, and payloadFormatIndicator is not compared.
        const { payloadFormatIndicator: _notCompared, ...expect } = { ...send, payload: '{"version":"v5"}' };
        await sendAndReceive({
            brokerOptions: { protocolVersion: 5 },
            inOptions: { datatype: 'auto', topicType: 'static', qos: 1, nl: false, rap: true, rh: 1 },
            send,
            expect,
        });
    });

    test('a string declared text/plain arrives as a string under auto (core: "should send regular string with v5 media type \\"text/plain\\" and receive a string (auto mode)")', async () => {
        const send = { topic: freshTopic(), payload: 'abc', contentType: 'text/plain' };
        await sendAndReceive({ brokerOptions: { protocolVersion: 5 }, inOptions: { datatype: 'auto', topicType: 'static' }, send });
    });

    test('JSON declared text/plain stays a string under auto (core: "should send JSON with v5 media type \\"text/plain\\" and receive a string (auto mode)")', async () => {
        const send = { topic: freshTopic(), payload: '{"prop":"val"}', contentType: 'text/plain' };
        await sendAndReceive({ brokerOptions: { protocolVersion: 5 }, inOptions: { datatype: 'auto', topicType: 'static' }, send });
    });

    test('JSON declared text/plain stays a string under auto-detect (core: "should send JSON with v5 media type \\"text/plain\\" and receive a string (auto-detect mode)")', async () => {
        const send = { topic: freshTopic(), payload: '{"prop":"val"}', contentType: 'text/plain' };
        await sendAndReceive({ brokerOptions: { protocolVersion: 5 }, inOptions: { datatype: 'auto-detect', topicType: 'static' }, send });
    });

    test('JSON declared application/json is parsed under auto-detect (core: "should send JSON with v5 media type \\"application/json\\" and receive an object (auto-detect mode)")', async () => {
        const send = { topic: freshTopic(), payload: '{"prop":"val"}', contentType: 'application/json' };
        await sendAndReceive({ brokerOptions: { protocolVersion: 5 }, inOptions: { datatype: 'auto-detect', topicType: 'static' }, send, expect: { ...send, payload: { prop: 'val' } } });
    });

    test('text declared application/json that is not JSON reaches a Catch node under auto (core: "should send invalid JSON with v5 media type \\"application/json\\" and raise an error (auto mode)")', async () => {
        const send = { topic: freshTopic(), payload: '{prop:"value3", "num":3}', contentType: 'application/json' };
        await sendAndReceive({ brokerOptions: { protocolVersion: 5 }, inOptions: { datatype: 'auto', topicType: 'static' }, send, expectCaught: true });
    });

    test('a Buffer declared application/json is parsed under auto-detect (core: "should send buffer with v5 media type \\"application/json\\" and receive an object (auto-detect mode)")', async () => {
        const send = { topic: freshTopic(), payload: jsonBytes(), contentType: 'application/json' };
        await sendAndReceive({ brokerOptions: { protocolVersion: 5 }, inOptions: { datatype: 'auto-detect', topicType: 'static' }, send, expect: { ...send, payload: { prop: 'val' } } });
    });

    test('a Buffer declared text/plain arrives as a string under auto (core: "should send buffer with v5 media type \\"text/plain\\" and receive a string (auto mode)")', async () => {
        const send = { topic: freshTopic(), payload: jsonBytes(), contentType: 'text/plain' };
        await sendAndReceive({ brokerOptions: { protocolVersion: 5 }, inOptions: { datatype: 'auto', topicType: 'static' }, send, expect: { ...send, payload: '{"prop":"val"}' } });
    });

    test('a Buffer declared application/zip stays a Buffer under auto (core: "should send buffer with v5 media type \\"application/zip\\" and receive a buffer (auto mode)")', async () => {
        const send = { topic: freshTopic(), payload: jsonBytes(), contentType: 'application/zip' };
        await sendAndReceive({ brokerOptions: { protocolVersion: 5 }, inOptions: { datatype: 'auto', topicType: 'static' }, send, expect: { ...send, payload: jsonBytes() } });
    });
});

/** A foreign client subscribed to `filter` that keeps the topics of the live (not retained) messages it receives. */
async function topicWitness(port: number, filter: string): Promise<{ client: mqtt.MqttClient; topics: string[] }> {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `yardstick-witness-${process.pid}-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0 });
    const topics: string[] = [];
    // Retained messages of earlier tests are not news.
    client.on('message', (topic, _payload, packet) => {
        if (!packet.retain) topics.push(topic);
    });
    await client.subscribeAsync(filter, { qos: 2 });
    return { client, topics };
}

describe('core advanced tests', () => {
    test('with auto-connect off nothing connects until a connect action, which connects (core: "should connect via \\"connect\\" action")', async () => {
        await loadCoreFlow(coreFlow(broker().port, { protocolVersion: 5, autoConnect: false }, freshTopic(), { datatype: 'utf8', topicType: 'dynamic' }));
        const connection = getNode(BROKER_ID).connection;
        assert.equal(connection.awaitingConnect, true, 'auto-connect off: waiting for a connect action');
        assert.equal(connection.status.state, 'idle', 'not connecting by itself');
        getNode(IN_ID).receive({ action: 'connect' });
        await brokersConnected([BROKER_ID]);
    });

    test('a dynamic subscribe followed at once by a publish to it delivers the message (core: "should subscribe dynamically via action")', async () => {
        const topic = freshTopic();
        await loadCoreFlow(coreFlow(broker().port, { protocolVersion: 5 }, topic, { datatype: 'utf8', topicType: 'dynamic' }));
        await brokersConnected([BROKER_ID]);
        const arrived = nextAtHelper();
        // In one tick, as the core test does: the SUBSCRIBE must reach the broker before the PUBLISH.
        getNode(IN_ID).receive({ action: 'subscribe', topic });
        getNode(OUT_ID).receive({ topic, payload: 'abc' });
        const msg = await arrived;
        assert.equal(msg.topic, topic);
        assert.equal(msg.payload, 'abc');
    });

    test('a disconnect action on mqtt-out shows a disconnected status to a Status node (core: "should disconnect via \\"disconnect\\" action")', async () => {
        const flow = coreFlow(broker().port, { protocolVersion: 5 }, freshTopic());
        flow.push({ id: 'status.node', type: 'status', name: 'status_node', scope: [OUT_ID], wires: [['helper.node']] });
        await loadCoreFlow(flow);
        assert.equal(getNode(BROKER_ID).connection.awaitingConnect, false, 'auto-connect on: it connects by itself');
        // The Status node passes on the "connected" status after the connection is up; the core test's polling waits past it.
        const connectedStatus = firstAtHelper((m) => m.status?.fill === 'green', 'the connected status at the Status node');
        await brokersConnected([BROKER_ID]);
        await connectedStatus;
        const next = nextAtHelper();
        getNode(OUT_ID).receive({ action: 'disconnect' });
        const msg = await next;
        assert.equal(typeof msg.status?.text, 'string', 'a status message');
        assert.ok(msg.status.text.includes('disconnect'), `status text "${msg.status.text}" says disconnected`);
    });

    test('a connect action on a static mqtt-in connects and the birth message reaches its own mqtt-in (core: "should publish birth message")', async () => {
        const birthTopic = `${freshTopic()}/birth`;
        const brokerOptions = { autoConnect: false, protocolVersion: 4, birthTopic, birthPayload: 'broker birth', birthQos: 2 };
        await loadCoreFlow(coreFlow(broker().port, brokerOptions, birthTopic));
        const arrived = nextAtHelper();
        getNode(IN_ID).receive({ action: 'connect' });
        assertLikeExpected(await arrived, { topic: birthTopic, payload: 'broker birth', qos: 2 });
    });

    test('a birth topic with a wildcard is discarded safely: the flow loads and connects, and no birth is published (core: "should safely discard bad birth topic")', async () => {
        const base = freshTopic();
        const birthTopic = `${base}#`;
        const witness = await topicWitness(broker().port, `${base.split('/')[0]}/#`);
        try {
            await loadCoreFlow(coreFlow(broker().port, { protocolVersion: 4, birthTopic, birthPayload: 'broker connected', birthQos: 2 }, birthTopic));
            await brokersConnected([BROKER_ID]);
            // A marker through the same connection: had a birth been published, it would have arrived first.
            const marker = `${base}/marker`;
            getNode(OUT_ID).receive({ topic: marker, payload: 'marker', qos: 1 });
            await new Promise<void>((resolve) => witness.client.on('message', (topic) => topic === marker && resolve()));
            assert.deepEqual(witness.topics, [marker], 'nothing but the marker: no birth message');
        } finally {
            await witness.client.endAsync();
        }
    });

    test('a disconnect action publishes the close message, which another broker connection receives (core: "should publish close message")', async () => {
        const closeTopic = `${freshTopic()}/close`;
        const flow = coreFlow(broker().port, { id: 'mqtt.broker1' }, closeTopic, { datatype: 'json' }, { broker: 'mqtt.broker2' });
        flow.push(coreBroker('mqtt.broker2', broker().port, { closeTopic, closePayload: '{"msg":"close"}', closeQos: 1 }));
        await loadCoreFlow(flow);
        await brokersConnected(['mqtt.broker1', 'mqtt.broker2']);
        await waitForSubscribed('mqtt.broker1', closeTopic);
        const arrived = nextAtHelper();
        getNode(OUT_ID).receive({ action: 'disconnect' });
        const msg = await arrived;
        assert.equal(msg.topic, closeTopic);
        assert.deepEqual(msg.payload, { msg: 'close' });
        assert.equal(msg.qos, 1);
    });

    test('a link that ends without DISCONNECT makes the broker publish the will, which another broker connection receives (core: "should publish will message")', async () => {
        const willTopic = `${freshTopic()}/will`;
        // The second connection goes through a proxy: cutting it ends the link without DISCONNECT, as the core test's forced end does.
        const proxy = await new TcpProxy(broker().port).start();
        try {
            const flow = coreFlow(broker().port, { id: 'mqtt.broker1' }, willTopic, { datatype: 'utf8' }, { broker: 'mqtt.broker2' });
            flow.push(coreBroker('mqtt.broker2', proxy.port, { willTopic, willPayload: '{"msg":"will"}', willQos: 2 }));
            await loadCoreFlow(flow);
            await brokersConnected(['mqtt.broker1', 'mqtt.broker2']);
            await waitForSubscribed('mqtt.broker1', willTopic);
            const arrived = nextAtHelper();
            proxy.cut();
            const msg = await arrived;
            assert.equal(msg.topic, willTopic);
            assert.equal(msg.payload, '{"msg":"will"}');
            assert.equal(msg.qos, 2);
        } finally {
            await proxy.stop();
        }
    });

    test('the will carries its MQTT 5 properties to the receiving mqtt-in (core: "should publish will message with V5 properties")', async () => {
        const base = freshTopic();
        const willTopic = `${base}/will`;
        const proxy = await new TcpProxy(broker().port).start();
        try {
            const flow = coreFlow(broker().port, { id: 'mqtt.broker1', protocolVersion: 5 }, willTopic, { datatype: 'utf8' }, { broker: 'mqtt.broker2' });
            // willMsg as the core editor saves it, with the payload format indicator the core test also sets.
            const willMsg = { contentType: 'application/json', userProps: { will: 'value' }, respTopic: `${base}/resp`, correl: Buffer.from('abc'), expiry: 2000, payloadFormatIndicator: true };
            flow.push(coreBroker('mqtt.broker2', proxy.port, { protocolVersion: 5, willTopic, willPayload: '{"msg":"will"}', willQos: 2, willMsg }));
            await loadCoreFlow(flow);
            await brokersConnected(['mqtt.broker1', 'mqtt.broker2']);
            await waitForSubscribed('mqtt.broker1', willTopic);
            const arrived = nextAtHelper();
            proxy.cut();
            const msg = await arrived;
            assert.equal(msg.topic, willTopic);
            assert.equal(msg.payload, '{"msg":"will"}');
            assert.equal(msg.qos, 2);
            assert.equal(msg.contentType, 'application/json');
            assert.deepEqual(msg.userProperties, { will: 'value' });
            assert.equal(msg.responseTopic, `${base}/resp`);
            assert.deepEqual(msg.correlationData, Buffer.from('abc'));
            assert.equal(msg.messageExpiryInterval, 2000);
        } finally {
            await proxy.stop();
        }
    });
});
