/**
 * A real RabbitMQ 3.10 cluster of three nodes (rabbitmq_mqtt), started once for this file: messages
 * cross from one node to another, and what the README says of RabbitMQ as an MQTT broker is checked
 * where it runs. Failover when a node is killed is not tested here: after a SIGKILL the surviving
 * nodes closed the flow's connection again and again in some runs (the README says so); the
 * package's failover is tested against two Mosquittos (test/delivery/failover.test.ts).
 */
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import * as mqtt from 'mqtt';
import { collect, eventually, externalBroker, getNode, helper, lastStatus, loadFlow, unloadFlow, waitForStatus, waitForSubscribed } from '../support/node-red';
import { RabbitCluster, startRabbitCluster } from '../support/rabbitmq-cluster';
import { statusInWords } from '../support/status-words';

let cluster: RabbitCluster;
let portA = 0;
let portB = 0;
before(async () => {
    // Three nodes: RabbitMQ 3.10's MQTT plugin needs a majority of them up to keep a client id that
    // was on a lost node (with two, node B took the flow's connection after node A died, then closed it).
    cluster = await startRabbitCluster(3);
    [portA, portB] = cluster.nodes.map((node) => node.mqttPort);
    await new Promise<void>((resolve) => helper.startServer(resolve));
});
after(async () => {
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    await cluster?.dispose();
});

const connectTo = (port: number, options: mqtt.IClientOptions = {}) => mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, ...options });
const helperNode = (id: string) => ({ id, type: 'helper' });

describe('RabbitMQ as the broker of this package (3.1.1, nodes A and B of one cluster of three)', () => {
    test('an mqtt-out on node A reaches an mqtt-in on node B', async () => {
        await loadFlow([
            externalBroker('ba', portA),
            externalBroker('bb', portB),
            { id: 'out', type: 'mqtt-out', broker: 'ba', topic: 'cluster/relay', qos: '1', wires: [] },
            { id: 'in', type: 'mqtt-in', broker: 'bb', topic: 'cluster/relay', qos: '2', datatype: 'utf8', wires: [['h']] },
            helperNode('h'),
        ]);
        const grants: number[] = [];
        getNode('bb').connection.on('subscribed', (_filter: string, qos: number) => grants.push(qos));
        const received = collect('h');
        await waitForSubscribed('bb', 'cluster/relay');
        // Asked at QoS 2, granted QoS 1; the node's status does not single that out.
        assert.deepEqual(grants, [1]);
        assert.match(statusInWords(lastStatus('in')), /^connected to 127\.0\.0\.1:\d+$/);
        await waitForStatus('out', (s) => s.fill === 'green', 'out connected');
        getNode('out').receive({ payload: 'across the cluster' });
        await eventually(() => received.length === 1, 'the message on node B');
        assert.equal(received[0].payload, 'across the cluster');
        assert.equal(received[0].topic, 'cluster/relay');
        await unloadFlow();
    });

    test('MQTT 5: RabbitMQ 3.10 closes the connection without a CONNACK, and the status says what to do', async () => {
        // What the broker answers to an MQTT 5 CONNECT, on the wire: nothing, it closes the socket.
        const answer = await new Promise<Buffer>((resolve, reject) => {
            const socket = net.connect(portA, '127.0.0.1');
            const chunks: Buffer[] = [];
            const body = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([5, 0x02, 0, 60, 0, 0, 2]), Buffer.from('v5')]);
            socket.on('connect', () => socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body])));
            socket.on('data', (chunk) => chunks.push(chunk));
            socket.on('close', () => resolve(Buffer.concat(chunks)));
            socket.on('error', reject);
        });
        assert.equal(answer.length, 0, `no CONNACK: ${answer.toString('hex')}`);
        await loadFlow([externalBroker('b5', portA, { protocolVersion: '5' }), { id: 'out', type: 'mqtt-out', broker: 'b5', topic: 't', wires: [] }]);
        const status = await waitForStatus('out', (s) => /closed-v5/.test(String(s.text)), 'the MQTT 5 status');
        assert.match(statusInWords(status), /without answering the MQTT 5 CONNECT: it may speak MQTT 3\.1\.1 only \(as RabbitMQ 3 does\) - choose MQTT 3\.1\.1/);
        await unloadFlow();
    });

    test('QoS 2 is granted as QoS 1, $share is an ordinary topic, retained messages stay on their node and skip wildcards, . and * come back as / and +', async () => {
        const onB = await connectTo(portB);
        const onA = await connectTo(portA);
        try {
            const granted = await onB.subscribeAsync(['cluster/q2', '$share/g/cluster/shared', 'cluster/a.b', 'cluster/s*', 'cluster/end'], { qos: 2 });
            assert.deepEqual(granted.map((g) => g.qos), [1, 1, 1, 1, 1]);
            const seen: { topic: string; qos: number }[] = [];
            onB.on('message', (topic, _payload, packet) => seen.push({ topic, qos: packet.qos }));
            await onA.publishAsync('cluster/q2', 'two', { qos: 2 });
            await onA.publishAsync('cluster/shared', 'shared', { qos: 1 });
            await onA.publishAsync('cluster/a.b', 'dot', { qos: 1 });
            await onA.publishAsync('cluster/s*', 'star', { qos: 1 });
            await onA.publishAsync('cluster/end', 'end', { qos: 1 });
            await eventually(() => seen.some((m) => m.topic === 'cluster/end'), 'the last message');
            // $share/g/cluster/shared got nothing: it is taken as an ordinary filter of that name.
            assert.deepEqual(
                seen.map((m) => `${m.topic} qos ${m.qos}`),
                ['cluster/q2 qos 1', 'cluster/a/b qos 1', 'cluster/s+ qos 1', 'cluster/end qos 1'],
            );

            await onA.publishAsync('cluster/retained', 'kept', { qos: 1, retain: true });
            const retainedOn = async (port: number, filter: string): Promise<string[]> => {
                const late = await connectTo(port);
                const got: string[] = [];
                late.on('message', (topic, payload, packet) => {
                    if (packet.retain) got.push(`${topic}=${payload}`);
                });
                await late.subscribeAsync(filter, { qos: 1 });
                // A marker after the retained message that a subscription gets at once, if any.
                await late.subscribeAsync('cluster/marker', { qos: 1 });
                const marker = new Promise<void>((resolve) => late.on('message', (topic) => topic === 'cluster/marker' && resolve()));
                await late.publishAsync('cluster/marker', 'm', { qos: 1 });
                await marker;
                await late.endAsync(true);
                return got;
            };
            assert.deepEqual(await retainedOn(portA, 'cluster/retained'), ['cluster/retained=kept'], 'on the node it was published to, to the exact topic');
            assert.deepEqual(await retainedOn(portA, 'cluster/+'), [], 'not to a wildcard subscription');
            assert.deepEqual(await retainedOn(portB, 'cluster/retained'), [], 'not on the other node');
        } finally {
            await onA.endAsync(true);
            await onB.endAsync(true);
        }
    });
});
