/**
 * What the package relies on inside MQTT.js, checked with a real client against a broker played on a
 * raw TCP socket:
 * - the durable store's send barrier (delivery/send-barrier.ts) wraps MqttClient's internal
 *   _writePacket: every packet the client writes must pass it, and a PUBLISH, PUBREL or PUBREC may
 *   leave only once the sync covering its record has completed. If an MQTT.js upgrade writes some
 *   other way, a message could reach the broker before it is on disk, and these tests fail.
 * - a store's handOver sees MQTT.js's put of the PUBLISH during client.publish(). MQTT.js defers a
 *   publish while it replays its store after a reconnect and emits 'connect' only after that replay,
 *   which is what the Connection waits for before it sends.
 */
import assert from 'node:assert/strict';
import { after, test, TestContext } from 'node:test';
import { EventEmitter, once } from 'node:events';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import * as mqtt from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import type { MqttClient } from 'mqtt';
import { FileDeliveryStore } from '../../dist/lib/delivery/file-store';
import { installSendBarrier } from '../../dist/lib/delivery/send-barrier';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'mqttjs-internals-test-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let fileCount = 0;

/** A broker played by hand: it answers CONNECT with a CONNACK and records what arrives; the test sends the rest. */
class HandBroker extends EventEmitter {
    readonly received: { connection: number; packet: mqttPacket.Packet }[] = [];
    private readonly server = net.createServer((socket) => this.accept(socket));
    private socket: net.Socket | null = null;
    private connections = 0;

    async start(): Promise<number> {
        this.server.listen(0, '127.0.0.1');
        await once(this.server, 'listening');
        return (this.server.address() as net.AddressInfo).port;
    }

    private accept(socket: net.Socket): void {
        const connection = ++this.connections;
        this.socket = socket;
        const parser = mqttPacket.parser({ protocolVersion: 4 });
        parser.on('packet', (packet: mqttPacket.Packet) => {
            this.received.push({ connection, packet });
            if (packet.cmd === 'connect') this.send({ cmd: 'connack', returnCode: 0, sessionPresent: true } as mqttPacket.Packet);
            this.emit('packet', packet, connection);
        });
        socket.on('data', (chunk) => parser.parse(chunk));
        socket.on('error', () => undefined);
    }

    send(packet: mqttPacket.Packet): void {
        (this.socket as net.Socket).write(mqttPacket.generate(packet));
    }

    /** Resolves with the next packet to arrive of `cmd` (and message id, when given). */
    next(cmd: string, messageId?: number): Promise<mqttPacket.Packet> {
        return new Promise((resolve) => {
            const listener = (packet: mqttPacket.Packet): void => {
                if (packet.cmd !== cmd || (messageId !== undefined && packet.messageId !== messageId)) return;
                this.off('packet', listener);
                resolve(packet);
            };
            this.on('packet', listener);
        });
    }

    dropConnection(): void {
        this.socket?.destroy();
    }

    async stop(): Promise<void> {
        this.socket?.destroy();
        if (this.server.listening) await new Promise((resolve) => this.server.close(resolve));
    }
}

/**
 * The store's asynchronous fdatasync, held while `holding`: each sync waits until the test releases
 * it. Syncs are numbered in the order they are asked for (the store runs one at a time), and
 * `completed` counts those that have called back.
 */
class HeldSyncs {
    holding = false;
    completed = 0;
    private requests = 0;
    private readonly held: { number: number; run: () => void }[] = [];
    private readonly requested = new EventEmitter();

    readonly fdatasync = (fd: number, done: (error: NodeJS.ErrnoException | null) => void): void => {
        const run = (): void =>
            fs.fdatasync(fd, (error) => {
                this.completed++;
                done(error);
            });
        const number = ++this.requests;
        if (!this.holding) return run();
        this.held.push({ number, run });
        this.requested.emit('sync');
    };

    /** Resolves once the store has asked for a sync that is held; returns that sync's number. */
    async nextRequest(): Promise<number> {
        if (this.held.length === 0) await once(this.requested, 'sync');
        return this.held[0].number;
    }

    release(): void {
        this.holding = false;
        for (const { run } of this.held.splice(0)) run();
    }
}

/** A packet as the client wrote it: whether it was inside the store's barrier, and how many syncs had completed. */
interface Written {
    cmd: string;
    messageId?: number;
    inBarrier: boolean;
    syncsCompleted: number;
}

/**
 * A file store with a held fdatasync and an MQTT.js client set up as the Connection sets it up (the
 * store as both packet stores, the send barrier installed), connected to a HandBroker.
 */
async function setUp(t: TestContext) {
    const syncs = new HeldSyncs();
    const store = FileDeliveryStore.open(path.join(root, `store-${++fileCount}.mqwj`), { fdatasync: syncs.fdatasync });
    // Marks what runs through the barrier, to tell whether each packet written passed it.
    let inBarrier = 0;
    const afterDurable = store.afterDurable.bind(store);
    store.afterDurable = (send) =>
        afterDurable(() => {
            inBarrier++;
            try {
                send();
            } finally {
                inBarrier--;
            }
        });
    const broker = new HandBroker();
    const port = await broker.start();
    const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, {
        manualConnect: true,
        reconnectPeriod: 0,
        resubscribe: false,
        clean: false,
        clientId: 'mqttjs-internals',
        keepalive: 0,
        incomingStore: store.incoming,
        outgoingStore: store.outgoing,
    });
    installSendBarrier(client, store);
    t.after(async () => {
        client.end(true);
        syncs.release();
        await store.close();
        await broker.stop();
    });
    const written: Written[] = [];
    const writes = new EventEmitter();
    // MQTT.js emits packetsend from inside _writePacket, right before it writes the packet to the socket.
    client.on('packetsend', (packet: mqttPacket.Packet) => {
        written.push({ cmd: packet.cmd, messageId: packet.messageId, inBarrier: inBarrier > 0, syncsCompleted: syncs.completed });
        writes.emit('written');
    });
    client.on('error', () => undefined);
    const connected = nextEvent(client, 'connect');
    client.connect();
    await connected;
    const wasWritten = (cmd: string, messageId: number): Written | undefined => written.find((w) => w.cmd === cmd && w.messageId === messageId);

    /**
     * Waits until the store asks for a sync (held) or the client writes packet `cmd` `messageId`,
     * whichever comes first; checks that the packet has not been written, and returns the held sync's number.
     */
    async function heldBeforeWritten(cmd: string, messageId: number): Promise<number> {
        const writtenFirst = new Promise<void>((resolve) => {
            const check = (): void => {
                if (!wasWritten(cmd, messageId)) return;
                writes.off('written', check);
                resolve();
            };
            writes.on('written', check);
            check();
        });
        const sync = await Promise.race([syncs.nextRequest(), writtenFirst.then(() => 0)]);
        assert.equal(wasWritten(cmd, messageId), undefined, `the ${cmd.toUpperCase()} waits while its sync is held`);
        return sync;
    }

    /** Lets the held sync go and waits for the packet at the broker; checks it was written after that sync completed. */
    async function writtenAfter(sync: number, cmd: string, messageId: number): Promise<void> {
        const arrives = broker.next(cmd, messageId);
        syncs.release();
        await arrives;
        assert.ok((wasWritten(cmd, messageId) as Written).syncsCompleted >= sync, `the ${cmd.toUpperCase()} left after its sync completed`);
    }

    /** Ends the client and checks that the broker received exactly the packets written, each through the barrier. */
    async function finish(): Promise<void> {
        syncs.release();
        const disconnect = broker.next('disconnect');
        await new Promise<void>((resolve) => client.end(false, () => resolve()));
        await disconnect;
        assert.deepEqual(
            broker.received.map(({ packet }) => packet.cmd),
            written.map((w) => w.cmd),
            'the broker received what the client wrote through _writePacket, and nothing else',
        );
        assert.deepEqual(
            written.filter((w) => !w.inBarrier),
            [],
            'every packet written passed the send barrier',
        );
    }
    return { syncs, store, broker, client, heldBeforeWritten, writtenAfter, finish };
}

/** MQTT.js types its events for `on`, not for events.once. */
function nextEvent(client: MqttClient, event: 'connect' | 'close' | 'message'): Promise<unknown[]> {
    return new Promise((resolve) => (client as unknown as EventEmitter).once(event, (...args: unknown[]) => resolve(args)));
}

function publish(client: MqttClient, topic: string, qos: 1 | 2): Promise<void> {
    return new Promise((resolve, reject) => client.publish(topic, Buffer.from(topic), { qos }, (err) => (err ? reject(err) : resolve())));
}

const message = (topic: string, qos: 1 | 2) => ({ topic, payload: Buffer.from(topic), qos, retain: false });

test('with a durable store no PUBLISH, PUBREL or PUBREC leaves before the sync of its record has completed', { timeout: 20000 }, async (t) => {
    const { syncs, store, broker, client, heldBeforeWritten, writtenAfter, finish } = await setUp(t);

    // An outgoing QoS 2 message, handed over as the Connection does.
    syncs.holding = true;
    const seq = store.enqueue(message('out/2', 2));
    let delivered: Promise<void> | undefined;
    const id = store.handOver(seq, () => (delivered = publish(client, 'out/2', 2))) as number;
    assert.equal(typeof id, 'number', 'handOver saw the put of the PUBLISH');
    await writtenAfter(await heldBeforeWritten('publish', id), 'publish', id);

    // The broker's PUBREC: MQTT.js puts the PUBREL into the store, then sends it.
    syncs.holding = true;
    broker.send({ cmd: 'pubrec', messageId: id } as mqttPacket.Packet);
    await writtenAfter(await heldBeforeWritten('pubrel', id), 'pubrel', id);
    broker.send({ cmd: 'pubcomp', messageId: id } as mqttPacket.Packet);
    await delivered;

    // An incoming QoS 2 message: MQTT.js puts it into the incoming store, then answers PUBREC.
    syncs.holding = true;
    broker.send({ cmd: 'publish', topic: 'in/2', payload: Buffer.from('in'), qos: 2, messageId: 7, retain: false, dup: false } as mqttPacket.Packet);
    const pubrecSync = await heldBeforeWritten('pubrec', 7);
    assert.deepEqual(store.incoming.messageIds(), [7]);
    await writtenAfter(pubrecSync, 'pubrec', 7);
    const pubcompArrives = broker.next('pubcomp', 7);
    const released = nextEvent(client, 'message');
    broker.send({ cmd: 'pubrel', messageId: 7 } as mqttPacket.Packet);
    assert.equal((await released)[0], 'in/2');
    await pubcompArrives;
    assert.deepEqual(store.incoming.messageIds(), []);

    await finish();
});

test("handOver sees MQTT.js's put at 'connect' after a reconnect that replayed a non-empty store", { timeout: 20000 }, async (t) => {
    const { store, broker, client, finish } = await setUp(t);

    // A QoS 1 message the broker does not acknowledge before the link drops.
    const first = store.enqueue(message('out/first', 1));
    let firstDelivered: Promise<void> | undefined;
    const firstId = store.handOver(first, () => (firstDelivered = publish(client, 'out/first', 1))) as number;
    assert.equal(typeof firstId, 'number');
    await broker.next('publish', firstId);
    const closed = nextEvent(client, 'close');
    broker.dropConnection();
    await closed;
    assert.deepEqual(store.outgoing.messageIds(), [firstId], 'the unacknowledged PUBLISH stays in the store');

    // Reconnect with the same stores, as the Connection does. MQTT.js sends the stored PUBLISH again
    // before it emits 'connect'; the message queued meanwhile is handed over at 'connect'.
    const second = store.enqueue(message('out/second', 1));
    const atConnect = new Promise<{ id: number | undefined; outgoing: number[]; queued: number[]; delivered: Promise<void> | undefined }>((resolve) => {
        client.once('connect', () => {
            let delivered: Promise<void> | undefined;
            const id = store.handOver(second, () => (delivered = publish(client, 'out/second', 1)));
            resolve({ id, outgoing: store.outgoing.messageIds(), queued: store.queued().map((q) => q.seq), delivered });
        });
    });
    const resent = broker.next('publish', firstId);
    client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore });
    await resent;
    const publishes = broker.received.filter(({ packet }) => packet.cmd === 'publish');
    assert.deepEqual(publishes.map(({ connection }) => connection), [1, 2], 'the stored PUBLISH is sent again on the new connection');
    broker.send({ cmd: 'puback', messageId: firstId } as mqttPacket.Packet);
    await firstDelivered;

    const handed = await atConnect;
    assert.equal(typeof handed.id, 'number', 'handOver saw the put of the PUBLISH');
    assert.ok(handed.outgoing.includes(handed.id as number), 'the PUBLISH was in the outgoing store when handOver returned');
    assert.ok(!handed.queued.includes(second), 'and the queued message had left the queue in the same step');
    const secondPublish = (await broker.next('publish', handed.id)) as mqttPacket.IPublishPacket;
    assert.equal(secondPublish.topic, 'out/second');
    broker.send({ cmd: 'puback', messageId: handed.id } as mqttPacket.Packet);
    await handed.delivered;
    assert.deepEqual(store.outgoing.messageIds(), []);

    await finish();
});

// Connection installTopicCheck checks the raw bytes of each stream before MQTT.js parses them: without
// this hook a malformed PUBLISH topic name would reach the flow again.
test('MQTT.js makes the stream of each connection with its streamBuilder field, read at connect()', () => {
    const { Duplex } = require('node:stream') as typeof import('node:stream');
    let built = 0;
    const client = new mqtt.MqttClient(() => new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } }), { manualConnect: true });
    const internals = client as unknown as { streamBuilder: (c: unknown) => unknown };
    const build = internals.streamBuilder;
    assert.equal(typeof build, 'function');
    internals.streamBuilder = (c) => {
        built++;
        return build(c);
    };
    client.connect();
    assert.equal(built, 1);
    client.end(true);
});
