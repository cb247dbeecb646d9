/**
 * A broker that breaks the protocol: a hand-made one (a net server speaking through mqtt-packet) sends
 * a PUBLISH that is malformed (MQTT 5.0 sections 1.5.4 and 3.3.2.1; 3.1.1 sections 1.5.3 and
 * 3.3.2.1). The package closes the network connection, delivers nothing of it, does not acknowledge
 * it, says why in words, and reconnects with the usual backoff.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { test } from 'node:test';
import * as mqttPacket from 'mqtt-packet';
import { callsOn, collect, eventually, externalBroker, getNode, loadFlow, useRuntime } from '../support/node-red';
import { freePort } from '../support/shared/ports';

useRuntime();

interface FakeConnection {
    /** What the client sent, by command. */
    received: string[];
    closed: boolean;
}

/**
 * Answers CONNECT and SUBSCRIBE; after the SUBACK on connection number n (from 0) it writes
 * `publishes(n)`, once `go` has resolved. It never closes a connection itself.
 */
class FakeBroker {
    readonly connections: FakeConnection[] = [];
    private readonly server: net.Server;
    private readonly sockets = new Set<net.Socket>();

    private constructor(
        readonly port: number,
        private readonly publishes: (n: number) => Buffer[],
        private readonly go: Promise<void>,
    ) {
        this.server = net.createServer((socket) => this.accept(socket));
    }

    static async start(publishes: (n: number) => Buffer[], go: Promise<void>): Promise<FakeBroker> {
        const broker = new FakeBroker(await freePort(), publishes, go);
        await new Promise<void>((resolve) => broker.server.listen(broker.port, '127.0.0.1', resolve));
        return broker;
    }

    private accept(socket: net.Socket): void {
        const n = this.connections.length;
        const connection: FakeConnection = { received: [], closed: false };
        this.connections.push(connection);
        this.sockets.add(socket);
        const parser = mqttPacket.parser({ protocolVersion: 4 });
        parser.on('packet', (packet: mqttPacket.Packet) => {
            connection.received.push(packet.cmd);
            if (packet.cmd === 'connect') {
                socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
            } else if (packet.cmd === 'subscribe') {
                const granted = packet.subscriptions.map((s) => s.qos);
                socket.write(mqttPacket.generate({ cmd: 'suback', messageId: packet.messageId as number, granted }));
                void this.go.then(() => {
                    for (const bytes of this.publishes(n)) if (!socket.destroyed) socket.write(bytes);
                });
            } else if (packet.cmd === 'pingreq') {
                socket.write(mqttPacket.generate({ cmd: 'pingresp' }));
            }
        });
        socket.on('data', (chunk) => parser.parse(chunk));
        socket.on('error', () => undefined);
        socket.on('close', () => {
            connection.closed = true;
            this.sockets.delete(socket);
        });
    }

    close(): Promise<void> {
        for (const socket of this.sockets) socket.destroy();
        return new Promise((resolve) => this.server.close(() => resolve()));
    }
}

/** A PUBLISH at QoS 1 with message id `id`; the topic as raw bytes, so that it can be anything. */
function publish(topic: Buffer | string, payload: string, id: number): Buffer {
    // mqtt-packet writes a Buffer topic as it is (its types say string).
    const raw = (typeof topic === 'string' ? Buffer.from(topic, 'utf8') : topic) as unknown as string;
    return mqttPacket.generate({ cmd: 'publish', topic: raw, payload: Buffer.from(payload), qos: 1, messageId: id, retain: false, dup: false });
}

const good = (): Buffer => publish('f1/ok', 'good', 2);

/** Loads broker-config (retrying after 1 s) -> mqtt-in on f1/# -> helper, against `broker`. */
async function startFlow(broker: FakeBroker): Promise<{ got: any[]; reasons: string[] }> {
    await loadFlow([
        externalBroker('b', broker.port, { reconnectDelay: '1', reconnectDelayMax: '1' }),
        { id: 'in', type: 'mqtt-in', broker: 'b', topic: 'f1/#', qos: '1', datatype: 'utf8', wires: [['h']] },
        { id: 'h', type: 'helper' },
    ]);
    const got = collect('h');
    const reasons: string[] = [];
    getNode('b').connection.on('status', (link: { reason?: { text: string } }) => {
        if (link.reason) reasons.push(link.reason.text);
    });
    return { got, reasons };
}

/** What broker-config 'b' logged with node.warn (its reasons, in words: RED._ of the test helper returns the key, so the English fallback is used). */
function warningsOf(nodeId: string): string[] {
    return callsOn(nodeId, 'warn').map(([text]) => String(text));
}

const cases: [string, () => Buffer, string][] = [
    ["a wildcard '#'", () => publish('f1/#', 'bad', 1), 'a PUBLISH topic name with a wildcard (f1/#)'],
    ["a wildcard '+'", () => publish('f1/+', 'bad', 1), 'a PUBLISH topic name with a wildcard (f1/+)'],
    ['U+0000', () => publish('f1/a\u0000b', 'bad', 1), 'a PUBLISH topic name with U+0000'],
    ['bytes that are not valid UTF-8 (66 31 2f ff fe)', () => publish(Buffer.from([0x66, 0x31, 0x2f, 0xff, 0xfe]), 'bad', 1), 'a PUBLISH topic name that is not valid UTF-8'],
    [
        'QoS 3',
        () => {
            const bytes = publish('f1/qos3', 'bad', 1);
            bytes[0] |= 0x06; // both QoS bits set
            return bytes;
        },
        'a PUBLISH with QoS 3',
    ],
];

for (const [what, bad, detail] of cases) {
    test(`a PUBLISH with ${what}: connection closed, nothing delivered or acknowledged, the reason in words, the next connection delivers`, async () => {
        let go!: () => void;
        const broker = await FakeBroker.start((n) => (n === 0 ? [bad()] : [good()]), new Promise<void>((resolve) => (go = resolve)));
        try {
            const { got, reasons } = await startFlow(broker);
            go();
            await eventually(() => got.length > 0, 'the good PUBLISH of the next connection', 15000);
            // Anything more from the bad packet would have come long before; give it a moment anyway.
            await new Promise((r) => setTimeout(r, 200));
            assert.deepEqual(
                got.map((msg) => [msg.topic, msg.payload]),
                [['f1/ok', 'good']],
                'only the good message reached the flow',
            );

            const [first, second] = broker.connections;
            assert.equal(first.closed, true, 'the client closed the first connection');
            assert.deepEqual(first.received, ['connect', 'subscribe'], 'the bad PUBLISH was not acknowledged');
            assert.ok(second, 'the client connected again');

            const expected = `the broker sent a malformed packet: ${detail}`;
            // (The status of the retry keeps the reason, so it may come more than once.)
            assert.deepEqual([...new Set(reasons)], [expected], 'the reconnecting status gave the reason in words');
            assert.equal(warningsOf('b').filter((w) => /malformed packet/.test(w)).length, 1, `logged once: ${warningsOf('b').join(' | ')}`);
            assert.ok(warningsOf('b').includes(expected));
            await eventually(() => second.received.includes('puback'), 'the PUBACK of the good message');
        } finally {
            await broker.close();
        }
    });
}

test('a topic that holds U+FFFD as the well-formed bytes EF BF BD is delivered and acknowledged', async () => {
    let go!: () => void;
    const topic = Buffer.from([0x66, 0x31, 0x2f, 0xef, 0xbf, 0xbd]);
    const broker = await FakeBroker.start(() => [publish(topic, 'fffd', 1)], new Promise<void>((resolve) => (go = resolve)));
    try {
        const { got, reasons } = await startFlow(broker);
        go();
        await eventually(() => got.length > 0, 'the message');
        assert.equal(got[0].topic, 'f1/\uFFFD');
        assert.equal(got[0].payload, 'fffd');
        await eventually(() => broker.connections[0].received.includes('puback'), 'the PUBACK');
        assert.equal(broker.connections.length, 1, 'no reconnect');
        assert.equal(broker.connections[0].closed, false);
        assert.deepEqual(reasons, []);
    } finally {
        await broker.close();
    }
});
