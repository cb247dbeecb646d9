/**
 * The nodes against ejabberd 23.01's MQTT broker (mod_mqtt), a broker other than Mosquitto: one
 * node on MQTT 5 and 3.1.1, two clustered nodes (publish on one, receive on the other), and a
 * shared subscription, which ejabberd does not do.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as mqtt from 'mqtt';
import { EJABBERD_LOGIN, EjabberdCluster, startEjabberd } from '../support/ejabberd';
import { collect, eventually, externalBroker, FlowNode, getNode, helper, loadFlow, unloadFlow, waitForStatus, waitForSubscribed } from '../support/node-red';
import { statusInWords } from '../support/status-words';

let cluster: EjabberdCluster | undefined;
const ejabberd = (): EjabberdCluster => {
    if (!cluster) throw new Error('ejabberd has not started');
    return cluster;
};

before(async () => {
    cluster = await startEjabberd(2);
    await new Promise<void>((resolve) => helper.startServer(resolve));
});
after(async () => {
    await unloadFlow();
    await cluster?.dispose();
    await new Promise<void>((resolve) => helper.stopServer(resolve));
});

const credentials = (...ids: string[]): Record<string, unknown> => Object.fromEntries(ids.map((id) => [id, { ...EJABBERD_LOGIN }]));

/** mqtt-out on `outPort`, three mqtt-in (QoS 0, 1, 2) on `inPort`; resolves with what each receives once subscribed. */
async function pubSubFlow(outPort: number, inPort: number, protocolVersion: '4' | '5'): Promise<any[][]> {
    const flow: FlowNode[] = [
        externalBroker('bOut', outPort, { protocolVersion }),
        externalBroker('bIn', inPort, { protocolVersion }),
        { id: 'out', type: 'mqtt-out', broker: 'bOut', topic: '', qos: '', retain: '' },
    ];
    for (const q of [0, 1, 2]) {
        flow.push({ id: `in${q}`, type: 'mqtt-in', broker: 'bIn', topic: `ej/sub${q}/+`, qos: String(q), datatype: 'utf8', wires: [[`h${q}`]] });
        flow.push({ id: `h${q}`, type: 'helper' });
    }
    await loadFlow(flow, credentials('bOut', 'bIn'));
    const received = [0, 1, 2].map((q) => collect(`h${q}`));
    await waitForStatus('out', (s) => s.fill === 'green', 'mqtt-out connected');
    for (const q of [0, 1, 2]) await waitForSubscribed('bIn', `ej/sub${q}/+`);
    return received;
}

async function publishEachPair(received: any[][]): Promise<void> {
    for (const subQos of [0, 1, 2]) {
        for (const pubQos of [0, 1, 2]) getNode('out').receive({ topic: `ej/sub${subQos}/pub${pubQos}`, payload: `p${pubQos}`, qos: pubQos });
    }
    await eventually(() => received.every((r) => r.length === 3), 'three messages at each mqtt-in');
    for (const subQos of [0, 1, 2]) {
        const seen = received[subQos].map((m) => `${m.topic} ${m.payload} qos ${m.qos}`).sort();
        assert.deepEqual(seen, [0, 1, 2].map((pubQos) => `ej/sub${subQos}/pub${pubQos} p${pubQos} qos ${Math.min(subQos, pubQos)}`));
    }
}

for (const protocolVersion of ['5', '4'] as const) {
    const version = protocolVersion === '5' ? 'MQTT 5' : 'MQTT 3.1.1';
    describe(`ejabberd on ${version}`, () => {
        test('mqtt-out to mqtt-in through one node at QoS 0, 1 and 2: each arrives once, at min(publish, subscribe) QoS', async () => {
            const port = ejabberd().nodes[0].port;
            await publishEachPair(await pubSubFlow(port, port, protocolVersion));
            await unloadFlow();
        });

        test('across the cluster: mqtt-out on node 1, mqtt-in on node 2', async () => {
            const [one, two] = ejabberd().nodes;
            await publishEachPair(await pubSubFlow(one.port, two.port, protocolVersion));
            await unloadFlow();
        });
    });
}

test('without a user name ejabberd refuses the connection, and the status says "not authorized"', async () => {
    await loadFlow([externalBroker('b', ejabberd().nodes[0].port, { protocolVersion: '5' }), { id: 'in', type: 'mqtt-in', broker: 'b', topic: 'ej/x', qos: '1', wires: [[]] }]);
    const status = await waitForStatus('in', (s) => s.fill === 'red' && /attempt/.test(statusInWords(s)), 'a refused connection');
    assert.match(statusInWords(status), /^reconnecting \(attempt \d+\): not authorized - check the user name and password/);
    await unloadFlow();
});

describe('a shared subscription', () => {
    test('MQTT 5: ejabberd answers DISCONNECT 0x9E, and the status says it does not do shared subscriptions', async () => {
        // What ejabberd itself answers, seen by a plain MQTT.js client.
        const probe = await mqtt.connectAsync(ejabberd().nodes[0].url, { protocolVersion: 5, username: EJABBERD_LOGIN.user, password: EJABBERD_LOGIN.password, reconnectPeriod: 0 });
        const disconnect = new Promise<mqtt.IDisconnectPacket>((resolve) => probe.once('disconnect', resolve));
        probe.subscribe('$share/workers/jobs/#', { qos: 1 }, () => undefined);
        const packet = await disconnect;
        assert.equal(packet.reasonCode, 0x9e);
        assert.match(packet.properties?.reasonString ?? '', /Shared Subscriptions not supported/);
        probe.end(true);

        await loadFlow(
            [
                externalBroker('b', ejabberd().nodes[0].port, { protocolVersion: '5' }),
                { id: 'in', type: 'mqtt-in', broker: 'b', topic: '$share/workers/jobs/#', qos: '1', wires: [[]] },
            ],
            credentials('b'),
        );
        const status = await waitForStatus('in', (s) => /^reconnecting.*shared subscriptions/.test(statusInWords(s)), 'a reconnect that names shared subscriptions', 15000);
        assert.match(statusInWords(status), /^reconnecting \(attempt \d+\): the broker closed the connection: it does not do shared subscriptions \(\$share\/\.\.\.\) \(reason code 0x9e\)$/);
        await unloadFlow();
    });

    test('MQTT 3.1.1: ejabberd closes the connection, and the status says why', async () => {
        await loadFlow(
            [
                externalBroker('b', ejabberd().nodes[0].port, { protocolVersion: '4' }),
                { id: 'in', type: 'mqtt-in', broker: 'b', topic: '$share/workers/jobs/#', qos: '1', wires: [[]] },
            ],
            credentials('b'),
        );
        // No reason comes with the close: the mqtt-in says what a closed link on a $share SUBSCRIBE means.
        const status = await waitForStatus('in', (s) => /refused the subscription/.test(statusInWords(s)), 'the subscription refused', 15000);
        assert.match(statusInWords(status), /^the broker refused the subscription to \$share\/workers\/jobs\/\\?#: the broker closed the connection instead of answering - does it do shared subscriptions \(\$share\/\.\.\.\)\?$/);
        await unloadFlow();
    });
});
