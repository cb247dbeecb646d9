/**
 * The embedded broker keeps the MQTT 3.1.1 topic rules where plain aedes does not, as a device on
 * the network meets it: a real EmbeddedBroker on a free loopback port, raw clients (mqtt-packet
 * over a socket, to send what MQTT.js would refuse).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EmbeddedBroker } from '../../dist/lib/embedded-broker';
import { freePort } from '../support/shared/ports';
import { Packet, RawClient, encode, mqttPacket } from '../mosquitto/raw-mqtt-client';

const v4 = { protocolVersion: 4 };
let broker: EmbeddedBroker;
let port = 0;

before(async () => {
    port = await freePort();
    broker = new EmbeddedBroker('127.0.0.1', port);
    await broker.start();
});
after(() => broker.stop());

async function connect(): Promise<RawClient> {
    return RawClient.connect(port, 4);
}

/** Publishes a retained message at QoS 2 and waits for PUBREC: aedes sends it once the message is stored. */
async function publishRetained(client: RawClient, topic: string, messageId: number): Promise<void> {
    client.send(mqttPacket.generate({ cmd: 'publish', qos: 2, retain: true, messageId, topic, payload: Buffer.from(topic) }, v4));
    const rec = await client.next((p) => p.cmd === 'pubrec' && p.messageId === messageId);
    assert.ok(typeof rec !== 'string', `no PUBREC for ${topic}: ${rec}`);
    client.send(mqttPacket.generate({ cmd: 'pubrel', messageId }, v4));
    await client.next((p) => p.cmd === 'pubcomp' && p.messageId === messageId);
}

/** A packet whose topic holds `marker` (one ASCII byte), with that byte replaced by `byte`. */
function withByte(packet: Buffer, marker: string, byte: number): Buffer {
    const at = packet.indexOf(Buffer.from(marker));
    assert.ok(at > 0);
    const out = Buffer.from(packet);
    out[at] = byte;
    return out;
}

const END = '$end';

/**
 * The topics of the retained messages a new subscription to `filter` gets. It subscribes to
 * `filter` and END in one SUBSCRIBE: the broker sends the retained messages filter by filter, so
 * the retained END closes those of `filter`.
 */
async function retainedFor(filter: string): Promise<string[]> {
    const client = await connect();
    try {
        const topics: string[] = [];
        const done = new Promise<void>((resolve) => {
            client.onPublish = (p: Packet) => {
                if (p.topic === END) resolve();
                else topics.push(p.topic ?? '');
            };
        });
        client.send(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }, { topic: END, qos: 0 }] }, v4));
        const ack = await client.next((p) => p.cmd === 'suback');
        assert.ok(typeof ack !== 'string' && ack.granted?.every((g) => g === 0), `SUBACK: ${JSON.stringify(ack)}`);
        await done;
        return topics.sort();
    } finally {
        client.close();
    }
}

describe('the embedded broker: retained messages go where the topic rules say', () => {
    before(async () => {
        const publisher = await connect();
        let id = 1;
        for (const topic of ['a/', '/finance', '$x', 'solo', 'a/b', END]) await publishRetained(publisher, topic, id++);
        publisher.close();
    });

    test("a new subscription to 'a/+' gets the retained 'a/' ('+' matches an empty level)", async () => {
        assert.deepEqual(await retainedFor('a/+'), ['a/', 'a/b']);
    });

    test("a new subscription to '+/+' gets the retained '/finance'", async () => {
        assert.deepEqual(await retainedFor('+/+'), ['/finance', 'a/', 'a/b']);
    });

    test("'#' and '+' do not get the retained '$x' (a filter starting with a wildcard does not match '$' topics)", async () => {
        assert.deepEqual(await retainedFor('#'), ['/finance', 'a/', 'a/b', 'solo']);
        assert.deepEqual(await retainedFor('+'), ['solo']);
    });

    test("'$x' itself gets the retained '$x'", async () => {
        assert.deepEqual(await retainedFor('$x'), ['$x']);
    });
});

describe('the embedded broker: a malformed SUBSCRIBE closes the connection', () => {
    // A malformed Topic Filter is a protocol violation [MQTT-4.8.0-1], and a string with U+0000 or
    // ill-formed UTF-8 must close the connection [MQTT-1.5.3-1] [MQTT-1.5.3-2]: no SUBACK.
    const cases: Array<[string, (id: number) => Buffer]> = [
        ['a#', (id) => encode({ cmd: 'subscribe', messageId: id, subscriptions: [{ topic: 'a#', qos: 0 }] }, 'a#', 4)],
        ['+a', (id) => encode({ cmd: 'subscribe', messageId: id, subscriptions: [{ topic: '+a', qos: 0 }] }, '+a', 4)],
        ['a/+b', (id) => encode({ cmd: 'subscribe', messageId: id, subscriptions: [{ topic: 'a/+b', qos: 0 }] }, 'a/+b', 4)],
        ['a/\\u0000', (id) => encode({ cmd: 'subscribe', messageId: id, subscriptions: [{ topic: 'a/\u0000', qos: 0 }] }, 'a/\u0000', 4)],
        ['a/ and a lone surrogate (bytes ED A0 80)', (id) => encode({ cmd: 'subscribe', messageId: id, subscriptions: [{ topic: 'a/\ud800', qos: 0 }] }, 'a/\ud800', 4)],
        ['a/ and the byte FF', (id) => withByte(mqttPacket.generate({ cmd: 'subscribe', messageId: id, subscriptions: [{ topic: 'a/~', qos: 0 }] }, v4), '~', 0xff)],
    ];
    for (const [filter, packet] of cases) {
        test(`SUBSCRIBE ${filter}`, async () => {
            const client = await connect();
            client.send(packet(0x0203));
            const answer = await client.next((p) => p.cmd === 'suback');
            assert.equal(answer, 'closed');
        });
    }

    test("a valid filter next to them is granted, and '$share/g/a' is refused with 0x80 (aedes has no shared subscriptions)", async () => {
        const client = await connect();
        try {
            client.send(mqttPacket.generate({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: 'a/+/\ufffd', qos: 1 }, { topic: '$share/g/a', qos: 0 }] }, v4));
            const ack = await client.next((p) => p.cmd === 'suback');
            assert.ok(typeof ack !== 'string', `no SUBACK: ${ack}`);
            assert.deepEqual(ack.granted, [1, 0x80]);
        } finally {
            client.close();
        }
    });
});

describe('the embedded broker: a malformed PUBLISH closes the connection and is not delivered', () => {
    const cases: Array<[string, (id: number) => Buffer]> = [
        ['p/\\u0000', (id) => encode({ cmd: 'publish', qos: 1, messageId: id, topic: 'p/\u0000', payload: Buffer.from('bad') }, 'p/\u0000', 4)],
        ['p/ and a lone surrogate (bytes ED A0 80)', (id) => encode({ cmd: 'publish', qos: 1, messageId: id, topic: 'p/\ud800', payload: Buffer.from('bad') }, 'p/\ud800', 4)],
        ['p/ and the byte FF', (id) => withByte(mqttPacket.generate({ cmd: 'publish', qos: 1, messageId: id, topic: 'p/~', payload: Buffer.from('bad') }, v4), '~', 0xff)],
        ['p/+', (id) => encode({ cmd: 'publish', qos: 1, messageId: id, topic: 'p/+', payload: Buffer.from('bad') }, 'p/+', 4)],
    ];
    for (const [name, packet] of cases) {
        test(`PUBLISH to ${name}`, async () => {
            const subscriber = await connect();
            try {
                const got: string[] = [];
                const good = new Promise<void>((resolve) => {
                    subscriber.onPublish = (p: Packet) => {
                        got.push(`${p.topic}: ${p.payload?.toString()}`);
                        if (p.payload?.toString() === 'good') resolve();
                    };
                });
                subscriber.send(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'p/#', qos: 0 }] }, v4));
                await subscriber.next((p) => p.cmd === 'suback');

                const bad = await connect();
                bad.send(packet(0x0203));
                assert.equal(await bad.next((p) => p.cmd === 'puback'), 'closed');

                // A U+FFFD that was sent is no ill-formed UTF-8: delivered.
                const next = await connect();
                next.send(mqttPacket.generate({ cmd: 'publish', qos: 0, topic: 'p/\ufffd', payload: Buffer.from('good') }, v4));
                await good;
                next.close();
                assert.deepEqual(got, ['p/\ufffd: good']);
            } finally {
                subscriber.close();
            }
        });
    }

    test('a CONNECT with a Will Topic holding a wildcard, or a client id with U+0000, is closed without CONNACK', async () => {
        const connects = [
            { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: RawClient.newClientId(), will: { topic: 'a/#', payload: Buffer.from('w'), qos: 0, retain: false } },
            { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, keepalive: 0, clientId: 'x\u0000y' },
        ];
        for (const connectPacket of connects) {
            const client = await RawClient.open(port, 4);
            client.send(mqttPacket.generate(connectPacket, v4));
            assert.equal(await client.next((p) => p.cmd === 'connack'), 'closed', JSON.stringify(connectPacket));
        }
    });
});
