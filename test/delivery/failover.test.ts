/**
 * Failover between two private Mosquittos (not bridged: each message is only where it was sent): a
 * broker-config that lists A then B moves to B at once when A is killed, shows B in its status,
 * subscribes again there, and sends B what A had not finished: QoS 1 messages A never acknowledged,
 * and QoS 2 messages A acknowledged with PUBREC but never saw released.
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { afterEach, before, after, describe, test } from 'node:test';
import * as mqtt from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { collect, eventually, externalBroker, getNode, helper, lastStatus, loadFlow, unloadFlow, waitForStatus, waitForSubscribed } from '../support/node-red';
import { statusInWords } from '../support/status-words';
import { Witness } from '../support/witness';

/** A proxy in front of a broker that swallows the client's packets of the kinds in `drop`. */
class DroppingProxy {
    port = 0;
    readonly drop = new Set<string>();
    /** Packets the broker sent back, by kind. */
    readonly fromBroker = new Map<string, number>();
    private server: net.Server | null = null;

    constructor(private readonly targetPort: number) {}

    async start(): Promise<this> {
        const server = net.createServer((client) => {
            const upstream = net.connect(this.targetPort, '127.0.0.1');
            const toBroker = mqttPacket.parser({ protocolVersion: 4 });
            const answers = mqttPacket.parser({ protocolVersion: 4 });
            toBroker.on('packet', (packet) => {
                if (!this.drop.has(packet.cmd)) upstream.write(mqttPacket.generate(packet, { protocolVersion: 4 }));
            });
            answers.on('packet', (packet) => this.fromBroker.set(packet.cmd, (this.fromBroker.get(packet.cmd) ?? 0) + 1));
            client.on('data', (chunk) => toBroker.parse(chunk));
            upstream.on('data', (chunk) => {
                answers.parse(chunk);
                client.write(chunk);
            });
            const end = () => {
                client.destroy();
                upstream.destroy();
            };
            client.on('close', end).on('error', end);
            upstream.on('close', end).on('error', end);
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        this.server = server;
        this.port = (server.address() as net.AddressInfo).port;
        return this;
    }

    stop(): Promise<void> {
        return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    }
}

before(() => new Promise<void>((resolve) => helper.startServer(resolve)));
after(() => new Promise<void>((resolve) => helper.stopServer(resolve)));

describe('failover between two Mosquittos', () => {
    let a: Mosquitto;
    let b: Mosquitto;
    let proxy: DroppingProxy;
    let witness: Witness;
    const addressOf = (port: number) => `127.0.0.1:${port}`;

    async function startFlow(qos: '1' | '2'): Promise<unknown[]> {
        a = await startMosquitto();
        b = await startMosquitto();
        proxy = await new DroppingProxy(a.port).start();
        witness = await Witness.start(b.port, 'failover/#', { qos: 2 });
        // A reconnect delay of 20 s: the first attempt after a lost link would wait 4 s at the least.
        await loadFlow([
            externalBroker('f', a.port, { broker: `mqtt://${addressOf(proxy.port)}\nmqtt://${addressOf(b.port)}`, reconnectDelay: '20', reconnectDelayMax: '60' }),
            { id: 'out', type: 'mqtt-out', broker: 'f', topic: 'failover/n', qos, wires: [] },
            { id: 'in', type: 'mqtt-in', broker: 'f', topic: 'failover/back', qos: '1', datatype: 'utf8', wires: [['h']] },
            { id: 'h', type: 'helper' },
        ]);
        const received = collect('h');
        await waitForSubscribed('f', 'failover/back');
        assert.match(statusInWords(lastStatus('out')), new RegExp(`connected to ${addressOf(proxy.port)}`));
        return received;
    }

    /** Kills A; resolves with how long the flow took to be connected to B. */
    async function killAndFailOver(): Promise<number> {
        const killedAt = Date.now();
        await a.kill();
        await waitForStatus('out', (s) => s.fill === 'green' && String(s.text).includes(addressOf(b.port)), 'connected to B');
        return Date.now() - killedAt;
    }

    afterEach(async () => {
        await unloadFlow();
        await witness?.stop();
        await proxy?.stop();
        await a?.dispose();
        await b?.dispose();
    });

    test('QoS 1 that A never acknowledged reaches B; B at once, named in the status, subscriptions back', async () => {
        const received = await startFlow('1');
        // A gets no PUBLISH: the messages stay in flight at A.
        proxy.drop.add('publish');
        const N = 30;
        for (let i = 1; i <= N; i++) getNode('out').receive({ payload: String(i) });
        await eventually(() => getNode('f').connection.delivery.inFlight === 20 && getNode('f').connection.delivery.queued === N - 20, 'messages in flight at A and queued');
        const failoverMs = await killAndFailOver();
        assert.ok(failoverMs < 4000, `connected to B ${failoverMs} ms after the kill, before the backoff's first attempt`);
        assert.match(statusInWords(lastStatus('out')), new RegExp(`connected to ${addressOf(b.port)}`));
        await eventually(() => witness.distinct('failover/n') === N, `all ${N} at B`);
        assert.deepEqual(witness.check('failover/n', N).missing, []);

        await waitForSubscribed('f', 'failover/back');
        const publisher = await mqtt.connectAsync(`mqtt://${addressOf(b.port)}`, { reconnectPeriod: 0 });
        await publisher.publishAsync('failover/back', 'from B', { qos: 1 });
        await publisher.endAsync(true);
        await eventually(() => received.length === 1, 'the message published to B');
    });

    test('QoS 2 that A acknowledged (PUBREC) and never saw released goes to B as a PUBLISH, not as a PUBREL B does not know', async () => {
        await startFlow('2');
        proxy.drop.add('pubrel');
        const N = 5;
        for (let i = 1; i <= N; i++) getNode('out').receive({ payload: String(i) });
        await eventually(() => proxy.fromBroker.get('pubrec') === N, 'A acknowledged every message with PUBREC');
        // Mosquitto passes a QoS 2 message on at its PUBREL: a witness on A would not have them either.
        assert.equal(getNode('f').connection.delivery.inFlight, N);
        await killAndFailOver();
        await eventually(() => witness.distinct('failover/n') === N, `all ${N} at B`);
        const check = witness.check('failover/n', N);
        assert.deepEqual(check.missing, []);
        assert.equal(check.duplicates, 0);
        await eventually(() => getNode('f').connection.delivery.inFlight === 0, 'every message complete');
    });
});
