/**
 * One connection per broker-config, shared by all its nodes; each distinct filter subscribed once;
 * redeploys leave no connection, socket or timer behind. Mosquitto's own log is the witness.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startMosquitto } from '../support/mosquitto';
import { embeddedBroker, eventually, externalBroker, FlowNode, getNode, loadFlow, unloadFlow, waitForStatus, waitForSubscribed, useRuntime } from '../support/node-red';
import { subscribedOn } from '../support/subscriptions';
import { freePort } from '../support/shared/ports';

const broker = useRuntime(() => startMosquitto({ extraConfig: ['log_type notice', 'log_type subscribe', 'log_type unsubscribe'] }));

const count = (pattern: RegExp): number => (broker().log.match(new RegExp(pattern.source, 'gm')) ?? []).length;

function sharedFlow(clientid: string): FlowNode[] {
    return [
        externalBroker('b', broker().port, { clientid }),
        { id: 'in1', type: 'mqtt-in', broker: 'b', topic: 'share/+/t', qos: '1', datatype: 'utf8', wires: [['h1']] },
        { id: 'in2', type: 'mqtt-in', broker: 'b', topic: 'share/+/t', qos: '2', datatype: 'utf8', wires: [['h2']] },
        { id: 'out', type: 'mqtt-out', broker: 'b', topic: 'share/x/t', qos: '1', retain: '' },
        { id: 'h1', type: 'helper' },
        { id: 'h2', type: 'helper' },
    ];
}

test('two mqtt-in and one mqtt-out open one connection and one subscription to the shared filter', async () => {
    const id = `share-${Date.now()}`;
    await loadFlow(sharedFlow(id));
    const got1: any[] = [];
    const got2: any[] = [];
    getNode('h1').on('input', (m: any) => got1.push(m));
    getNode('h2').on('input', (m: any) => got2.push(m));
    await waitForStatus('in1', (s) => s.fill === 'green', 'connected');
    await eventually(() => count(new RegExp(`^\\d+: ${id} \\d share/\\+/t$`)) >= 1, 'the SUBSCRIBE in the broker log');
    getNode('out').receive({ payload: 'once' });
    await eventually(() => got1.length === 1 && got2.length === 1, 'one message at each mqtt-in');
    // Time for a duplicate, or a second connection or SUBSCRIBE, to show up if one were coming.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(count(new RegExp(`New client connected from .* as ${id} `)), 1, 'one connection for three nodes');
    assert.equal(count(new RegExp(`^\\d+: ${id} \\d share/\\+/t$`)), 1, 'the filter is subscribed once');
    assert.match(broker().log, new RegExp(`^\\d+: ${id} 2 share/\\+/t$`, 'm'), 'at the higher of the two QoS');
    assert.equal(got1[0].qos, 1);
    assert.equal(got2[0].qos, 1, 'min(publish 1, subscribe 2)');
    assert.equal(got1.length + got2.length, 2, 'no duplicates');
});

test('a subscription shared by two nodes is removed only when the last one goes', async () => {
    const { Connection } = require('../../dist/lib/connection');
    const connection = new Connection({ url: broker().url, address: `127.0.0.1:${broker().port}`, client: { clientId: `refs-${Date.now()}`, protocolVersion: 4 }, unsubscribeDelayMs: 0 });
    const user = {};
    connection.attach(user);
    const a = { filter: 'refs/#', qos: 1, deliver() {}, refused() {} };
    const b = { filter: 'refs/#', qos: 1, deliver() {}, refused() {} };
    connection.subscribe(a);
    connection.subscribe(b);
    await subscribedOn(connection, 'refs/#');
    connection.unsubscribe(a);
    // Time for an UNSUBSCRIBE to go out, if one were coming (there is no event for one that is not).
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(connection.brokerFilters.has('refs/#'), true, 'still subscribed for the second node');
    assert.equal(count(/ refs\/#$/), 1);
    connection.unsubscribe(b);
    await eventually(() => !connection.brokerFilters.has('refs/#'), 'unsubscribed after the last');
    await eventually(() => /Received UNSUBSCRIBE|refs\/#/.test(broker().log), 'broker log');
    await connection.detach(user);
});

function resources(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
    return counts;
}

/**
 * Short-lived timers (Node-RED's own close timeouts, MQTT.js's last writes) may still run for a
 * moment after a redeploy; a leak is what is still there after that.
 */
async function assertNothingLeft(before: Record<string, number>): Promise<void> {
    const kinds = ['TCPSocketWrap', 'Timeout', 'TCPServerWrap'];
    const settled = () => kinds.every((kind) => (resources()[kind] ?? 0) <= (before[kind] ?? 0));
    await eventually(settled, 'sockets and timers to go', 5000).catch(() => undefined);
    const after = resources();
    for (const kind of kinds) {
        assert.ok((after[kind] ?? 0) <= (before[kind] ?? 0), `${kind}: ${before[kind] ?? 0} before, ${after[kind] ?? 0} after 20 redeploys`);
    }
}

/**
 * Deploys the flow once (until `nodeId` is connected) and stops it, then counts the resources: what
 * the runtime keeps from a first deploy is the baseline, not a leak.
 */
async function resourcesAfterOneDeploy(flow: FlowNode[], nodeId: string): Promise<Record<string, number>> {
    await loadFlow(flow);
    await waitForStatus(nodeId, (s) => s.fill === 'green', 'connected');
    await unloadFlow();
    // The short-lived timers of that first deploy's close end on their own, with no event to wait for.
    await new Promise((r) => setTimeout(r, 300));
    return resources();
}

test('20 redeploys against Mosquitto leave no connection, socket or timer behind', async () => {
    const id = `redeploy-${Date.now()}`;
    const before = await resourcesAfterOneDeploy(sharedFlow(id), 'in1');
    for (let i = 0; i < 20; i++) {
        await loadFlow(sharedFlow(id));
        await waitForStatus('in1', (s) => s.fill === 'green', `connected in deploy ${i}`);
        await unloadFlow();
    }
    await eventually(() => count(new RegExp(`Client ${id} disconnected`)) === 21, 'every connection closed at the broker', 5000);
    assert.equal(count(new RegExp(`New client connected from .* as ${id} `)), 21);
    await assertNothingLeft(before);
});

test('20 redeploys of the embedded broker on the same port: each one listens again, nothing leaks', async () => {
    const port = await freePort();
    const flow = (): FlowNode[] => [
        embeddedBroker('b', port),
        { id: 'in', type: 'mqtt-in', broker: 'b', topic: 'e/#', qos: '1', datatype: 'utf8', wires: [['h']] },
        { id: 'out', type: 'mqtt-out', broker: 'b', topic: 'e/1', qos: '1', retain: '' },
        { id: 'h', type: 'helper' },
    ];
    const before = await resourcesAfterOneDeploy(flow(), 'in');
    for (let i = 0; i < 20; i++) {
        await loadFlow(flow());
        const got: any[] = [];
        getNode('h').on('input', (m: any) => got.push(m));
        await waitForStatus('in', (s) => s.fill === 'green', `connected in deploy ${i}`);
        await waitForSubscribed('b', 'e/#');
        getNode('out').receive({ payload: i });
        await eventually(() => got.length === 1, `message in deploy ${i}`);
        await unloadFlow();
    }
    await assertNothingLeft(before);
});
