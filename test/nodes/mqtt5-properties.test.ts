/**
 * MQTT 5 properties end to end, against Mosquitto, under the core nodes' names: mqtt-out sends them
 * from its fields or from the msg, mqtt-in puts the received ones on its msg, topic aliases work as in
 * the core node, the broker's Maximum Packet Size is kept before sending, bad values reach a Catch
 * node, MQTT 3.1.1 ignores them, and queued messages keep them across a durable-store restart. A
 * foreign MQTT.js client is the witness of what the broker passes on; a recording proxy shows the
 * packets on the wire.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as mqtt from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { allNodes, collect, coreNode, eventually, externalBroker, FlowNode, getNode, helper, unloadFlow, useRuntime, waitForStatus, waitForSubscribed } from '../support/node-red';
import { freePort } from '../support/shared/ports';

const catchNode = coreNode('common/25-catch.js');

const MAX_PACKET = 4096;
const broker = useRuntime(() => startMosquitto({ extraConfig: [`max_packet_size ${MAX_PACKET}`, 'max_topic_alias 4'] }));

/** Loads a flow on one tab (a Catch node catches within its tab), with the core Catch node. */
function load(flow: FlowNode[]): Promise<void> {
    const onTab = [{ id: 'tab', type: 'tab' }, ...flow.map((n) => (n.type === 'broker-config' ? n : { z: 'tab', ...n }))];
    return new Promise((resolve, reject) => helper.load([...allNodes, catchNode], onTab, {}, (err?: Error) => (err ? reject(err) : resolve())));
}

/** mqtt-packet gives user properties as an object without a prototype. */
const plain = (value: unknown): unknown => (value && typeof value === 'object' ? { ...value } : value);

/** A foreign MQTT 5 client subscribed to `filter` that keeps every PUBLISH it receives. */
async function witness(port: number, filter: string, protocolVersion: 4 | 5 = 5): Promise<{ client: mqtt.MqttClient; got: mqtt.IPublishPacket[] }> {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion, clientId: `witness-${process.pid}-${Math.random()}` });
    const got: mqtt.IPublishPacket[] = [];
    client.on('message', (_topic, _payload, packet) => got.push(packet));
    await client.subscribeAsync(filter, { qos: 1 });
    return { client, got };
}

/** A pass-through proxy in front of the broker that parses what the client sends (MQTT 5). */
class WireRecorder {
    port = 0;
    readonly toBroker: mqttPacket.Packet[] = [];
    private server: net.Server | null = null;
    private readonly sockets = new Set<net.Socket>();

    constructor(private readonly targetPort: number) {}

    async start(): Promise<this> {
        this.server = net.createServer((client) => {
            const upstream = net.connect(this.targetPort, '127.0.0.1');
            this.sockets.add(client).add(upstream);
            const parser = mqttPacket.parser({ protocolVersion: 5 });
            parser.on('packet', (packet: mqttPacket.Packet) => this.toBroker.push(packet));
            parser.on('error', () => undefined);
            client.on('data', (chunk) => {
                parser.parse(chunk);
                upstream.write(chunk);
            });
            upstream.on('data', (chunk) => client.write(chunk));
            const end = (): void => {
                client.destroy();
                upstream.destroy();
            };
            client.on('close', end).on('error', end);
            upstream.on('close', end).on('error', end);
        });
        await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
        this.port = (this.server.address() as net.AddressInfo).port;
        return this;
    }

    publishes(): mqttPacket.IPublishPacket[] {
        return this.toBroker.filter((p): p is mqttPacket.IPublishPacket => p.cmd === 'publish');
    }

    async stop(): Promise<void> {
        for (const socket of this.sockets) socket.destroy();
        await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    }
}

const v5Broker = (port: number, extra: Record<string, unknown> = {}): FlowNode => externalBroker('b', port, { protocolVersion: '5', ...extra });

describe('mqtt-out sends MQTT 5 properties', () => {
    test("from the node's fields (the core node's respTopic, correl, contentType, expiry, userProps)", async () => {
        const w = await witness(broker().port, 'props/node');
        try {
            await load([
                v5Broker(broker().port),
                { id: 'out', type: 'mqtt-out', broker: 'b', topic: 'props/node', qos: '1', retain: '', userProps: '{"site":"north","n":3}', respTopic: 'props/reply', correl: 'req-42', contentType: 'text/plain', expiry: '600' },
            ]);
            await waitForStatus('out', (s) => s.fill === 'green', 'connected');
            // The node's fields win over the msg's, as in the core node.
            getNode('out').receive({ payload: 'hello', contentType: 'application/json', userProperties: { site: 'south' } });
            await eventually(() => w.got.length === 1, 'the message at the witness');
            const props = w.got[0].properties!;
            assert.deepEqual(plain(props.userProperties), { site: 'north', n: '3' });
            assert.equal(props.responseTopic, 'props/reply');
            assert.deepEqual(props.correlationData, Buffer.from('req-42'));
            assert.equal(props.contentType, 'text/plain');
            assert.ok(props.messageExpiryInterval! > 590 && props.messageExpiryInterval! <= 600, `expiry ${props.messageExpiryInterval}`);
        } finally {
            await w.client.endAsync();
        }
    });

    test('from the msg, each property under its core name', async () => {
        const w = await witness(broker().port, 'props/msg/#');
        try {
            await load([v5Broker(broker().port), { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' }]);
            await waitForStatus('out', (s) => s.fill === 'green', 'connected');
            getNode('out').receive({
                topic: 'props/msg',
                payload: '{"a":1}',
                qos: 1,
                userProperties: { who: 'flow', count: 2 },
                responseTopic: 'props/answer',
                correlationData: Buffer.from([0, 1, 254, 255]),
                contentType: 'application/json',
                messageExpiryInterval: 120,
                payloadFormatIndicator: true,
            });
            // No topic but a response topic: the reply goes to the response topic, as in the core node.
            getNode('out').receive({ payload: 'reply', responseTopic: 'props/msg/reply' });
            await eventually(() => w.got.length === 2, 'both messages at the witness');
            const [first, reply] = w.got;
            assert.deepEqual(plain(first.properties?.userProperties), { who: 'flow', count: '2' });
            assert.equal(first.properties?.responseTopic, 'props/answer');
            assert.deepEqual(first.properties?.correlationData, Buffer.from([0, 1, 254, 255]));
            assert.equal(first.properties?.contentType, 'application/json');
            assert.ok(first.properties!.messageExpiryInterval! > 110 && first.properties!.messageExpiryInterval! <= 120);
            assert.equal(first.properties?.payloadFormatIndicator, true);
            assert.equal(reply.topic, 'props/msg/reply');
            assert.equal(reply.properties?.responseTopic, undefined);
        } finally {
            await w.client.endAsync();
        }
    });
});

test('mqtt-in puts the received properties on its msg under the core names', async () => {
    await load([
        v5Broker(broker().port),
        { id: 'in', type: 'mqtt-in', broker: 'b', topic: 'props/in', qos: '1', datatype: 'utf8', wires: [['h']] },
        { id: 'h', type: 'helper' },
    ]);
    const got = collect('h');
    await waitForSubscribed('b', 'props/in');
    const sender = await mqtt.connectAsync(broker().url, { protocolVersion: 5 });
    try {
        await sender.publishAsync('props/in', 'body', {
            qos: 1,
            properties: {
                userProperties: { a: 'b', twice: ['x', 'y'] },
                responseTopic: 'props/back',
                correlationData: Buffer.from('id-7'),
                contentType: 'text/plain',
                messageExpiryInterval: 300,
                payloadFormatIndicator: true,
            },
        });
        await eventually(() => got.length === 1, 'the msg');
        const msg = got[0];
        assert.equal(msg.payload, 'body');
        assert.deepEqual(msg.userProperties, { a: 'b', twice: '["x","y"]' });
        assert.equal(msg.responseTopic, 'props/back');
        assert.ok(Buffer.isBuffer(msg.correlationData));
        assert.equal(msg.correlationData.toString(), 'id-7');
        assert.equal(msg.contentType, 'text/plain');
        assert.ok(msg.messageExpiryInterval > 290 && msg.messageExpiryInterval <= 300);
        assert.equal(msg.payloadFormatIndicator, true);
    } finally {
        await sender.endAsync();
    }
});

describe('on the wire', () => {
    let recorder: WireRecorder;
    before(async () => {
        recorder = await new WireRecorder(broker().port).start();
    });
    after(() => recorder.stop());

    test('CONNECT carries the user properties of the broker-config and asks for response and problem information', async () => {
        await load([v5Broker(recorder.port, { userProps: '{"site":"north","rack":7}' }), { id: 'out', type: 'mqtt-out', broker: 'b', topic: 't', qos: '0', retain: '' }]);
        await waitForStatus('out', (s) => s.fill === 'green', 'connected');
        const connect = recorder.toBroker.filter((p) => p.cmd === 'connect').at(-1) as mqttPacket.IConnectPacket;
        assert.deepEqual(plain(connect.properties?.userProperties), { site: 'north', rack: '7' });
        assert.equal(connect.properties?.requestResponseInformation, true);
        assert.equal(connect.properties?.requestProblemInformation, true);
    });

    test('a topic alias round trip: the topic goes once, then the alias alone; both arrive whole; an alias over the broker maximum is refused', async () => {
        const w = await witness(broker().port, 'alias/#');
        try {
            await load([
                v5Broker(recorder.port),
                { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' },
                { id: 'in', type: 'mqtt-in', broker: 'b', topic: 'alias/#', qos: '1', datatype: 'utf8', wires: [['h']] },
                { id: 'h', type: 'helper' },
                { id: 'catcher', type: 'catch', scope: ['out'], uncaught: false, wires: [['caught']] },
                { id: 'caught', type: 'helper' },
            ]);
            const got = collect('h');
            const caught = collect('caught');
            await waitForSubscribed('b', 'alias/#');
            const before = recorder.publishes().length;
            getNode('out').receive({ topic: 'alias/long/topic/name', payload: '1', qos: 1, topicAlias: 2 });
            await eventually(() => got.length === 1, 'the first message');
            getNode('out').receive({ topic: 'alias/long/topic/name', payload: '2', qos: 1, topicAlias: 2 });
            await eventually(() => got.length === 2 && w.got.length === 2, 'the second message, at mqtt-in and at the witness');
            const sent = recorder.publishes().slice(before).filter((p) => p.properties?.topicAlias === 2);
            assert.equal(sent.length, 2);
            assert.equal(sent[0].topic, 'alias/long/topic/name');
            assert.equal(sent[1].topic, '', 'the alias alone');
            assert.deepEqual(got.map((m) => m.topic), ['alias/long/topic/name', 'alias/long/topic/name']);
            assert.deepEqual(w.got.map((p) => p.topic), ['alias/long/topic/name', 'alias/long/topic/name']);

            getNode('out').receive({ topic: 'alias/other', payload: 'x', topicAlias: 5 });
            await eventually(() => caught.length === 1, 'the refusal at the Catch node');
            assert.match(caught[0].error.message, /mqtt-out\.errors\.publish-failed/);
            assert.equal(getNode('b').connection.connected, true, 'the link stays up');
        } finally {
            await w.client.endAsync();
        }
    });
});

test("a message over the broker's Maximum Packet Size is refused before it is sent; the node keeps working", async () => {
    const w = await witness(broker().port, 'big/#');
    try {
        await load([
            v5Broker(broker().port),
            { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' },
            { id: 'catcher', type: 'catch', scope: ['out'], uncaught: false, wires: [['caught']] },
            { id: 'caught', type: 'helper' },
        ]);
        const caught = collect('caught');
        await waitForStatus('out', (s) => s.fill === 'green', 'connected');
        const connection = getNode('b').connection;
        // The words, as the connection gives them to the node (the test helper shows catalogue keys only).
        await assert.rejects(connection.publish({ topic: 'big/direct', payload: Buffer.alloc(MAX_PACKET), qos: 1, retain: false, properties: {} }), (err: Error) =>
            new RegExp(`not sent: the message is \\d+ bytes, more than the broker's maximum packet size of ${MAX_PACKET} bytes`).test(err.message),
        );
        getNode('out').receive({ topic: 'big/one', payload: Buffer.alloc(MAX_PACKET), qos: 1 });
        getNode('out').receive({ topic: 'big/zero', payload: Buffer.alloc(MAX_PACKET * 2), qos: 0 });
        getNode('out').receive({ topic: 'big/small', payload: 'fits', qos: 1 });
        await eventually(() => caught.length === 2 && w.got.length === 1, 'two refusals and the small message');
        assert.equal(w.got[0].topic, 'big/small');
        for (const msg of caught) assert.match(msg.error.message, /mqtt-out\.errors\.publish-failed/);
        assert.equal(connection.connected, true, 'the broker did not drop the link');
        assert.equal(connection.status.attempt, 0);
    } finally {
        await w.client.endAsync();
    }
});

test('property values of the wrong type reach a Catch node with the msg; Node-RED runs on and the good message arrives', async () => {
    const w = await witness(broker().port, 'bad/#');
    try {
        await load([
            v5Broker(broker().port),
            { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' },
            { id: 'catcher', type: 'catch', scope: ['out'], uncaught: false, wires: [['caught']] },
            { id: 'caught', type: 'helper' },
        ]);
        const caught = collect('caught');
        await waitForStatus('out', (s) => s.fill === 'green', 'connected');
        const bad = [
            { userProperties: 'not an object' },
            { contentType: 42 },
            { messageExpiryInterval: -1 },
            { responseTopic: 'a/#' },
            { correlationData: 7 },
            { payloadFormatIndicator: 'maybe' },
            { topicAlias: 0 },
        ];
        bad.forEach((props, i) => getNode('out').receive({ topic: `bad/${i}`, payload: 'x', ...props }));
        getNode('out').receive({ topic: 'bad/good', payload: 'fine' });
        await eventually(() => caught.length === bad.length && w.got.length === 1, 'every refusal and the good message');
        for (const msg of caught) assert.match(msg.error.message, /mqtt-out\.errors\.invalid-property/);
        assert.deepEqual(caught.map((m) => m.topic).sort(), bad.map((_, i) => `bad/${i}`).sort(), 'each error carries its msg');
        assert.equal(w.got[0].topic, 'bad/good');
    } finally {
        await w.client.endAsync();
    }
});

test("a node field that cannot be used refuses each message with the reason", async () => {
    await load([
        v5Broker(broker().port),
        { id: 'out', type: 'mqtt-out', broker: 'b', topic: 't', qos: '0', retain: '', userProps: '{broken' },
        { id: 'catcher', type: 'catch', scope: ['out'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
    ]);
    const caught = collect('caught');
    getNode('out').receive({ payload: 1 });
    await eventually(() => caught.length === 1, 'the refusal');
    assert.match(caught[0].error.message, /mqtt-out\.errors\.invalid-property/);
});

test('on MQTT 3.1.1 the properties are ignored, as in the core node: the message goes without them', async () => {
    const w = await witness(broker().port, 'v4/#');
    try {
        await load([
            externalBroker('b', broker().port, { protocolVersion: '4', userProps: '{"ignored":"yes"}' }),
            { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '', contentType: 'text/plain', respTopic: 'v4/reply' },
            { id: 'catcher', type: 'catch', scope: ['out'], uncaught: false, wires: [['caught']] },
            { id: 'caught', type: 'helper' },
        ]);
        const caught = collect('caught');
        await waitForStatus('out', (s) => s.fill === 'green', 'connected');
        getNode('out').receive({ topic: 'v4/t', payload: 'x', qos: 1, userProperties: { a: 'b' }, correlationData: Buffer.from('c'), messageExpiryInterval: -1, topicAlias: 3 });
        await eventually(() => w.got.length === 1, 'the message');
        assert.equal(w.got[0].topic, 'v4/t');
        assert.equal(w.got[0].properties, undefined, 'no properties');
        assert.equal(caught.length, 0);
    } finally {
        await w.client.endAsync();
    }
});

test('queued messages keep their properties across a restart with the durable store', async () => {
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-props-'));
    helper.settings({ userDir });
    const late = new Mosquitto();
    late.port = await freePort();
    const clientid = `props-durable-${process.pid}`;
    const flow = (): FlowNode[] => [
        v5Broker(late.port, { clientid, durable: 'on', reconnectDelay: '1', reconnectDelayMax: '1' }),
        { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' },
    ];
    try {
        await load(flow());
        await waitForStatus('out', (s) => s.fill === 'red', 'reconnecting: nothing listens yet');
        for (let i = 1; i <= 3; i++) {
            getNode('out').receive({
                topic: 'durable/props',
                payload: String(i),
                qos: 1,
                userProperties: { seq: String(i) },
                correlationData: Buffer.from([i, 0, 255]),
                contentType: 'text/plain',
                responseTopic: 'durable/reply',
            });
        }
        await eventually(() => getNode('b').connection.delivery.queued === 3, 'three messages queued');
        await unloadFlow(); // Node-RED stops; the durable store keeps the queue

        await late.start();
        const w = await witness(late.port, 'durable/#');
        try {
            await load(flow());
            await eventually(() => w.got.length === 3, 'the three messages from the restored queue');
            w.got.forEach((packet, i) => {
                assert.equal(packet.payload.toString(), String(i + 1));
                assert.deepEqual(plain(packet.properties?.userProperties), { seq: String(i + 1) });
                assert.deepEqual(packet.properties?.correlationData, Buffer.from([i + 1, 0, 255]));
                assert.equal(packet.properties?.contentType, 'text/plain');
                assert.equal(packet.properties?.responseTopic, 'durable/reply');
            });
        } finally {
            await w.client.endAsync();
        }
    } finally {
        await unloadFlow();
        helper.settings({ userDir: undefined });
        await late.dispose();
        fs.rmSync(userDir, { recursive: true, force: true });
    }
});
