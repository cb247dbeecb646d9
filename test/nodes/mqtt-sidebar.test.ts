/**
 * The MQTT sidebar's admin endpoint, on Mosquitto and on the embedded broker: a foreign MQTT.js client
 * publishes, and GET mqtt-wire/sidebar tells the state, the subscriptions and the nodes holding them,
 * the counts and the topics seen with their last payload, QoS and retain flag.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as mqtt from 'mqtt';
import { startMosquitto } from '../support/mosquitto';
import { collect, embeddedBroker, eventually, externalBroker, FlowNode, getNode, helper, lastStatus, loadFlow, unloadFlow, waitForStatus, waitForSubscribed, useRuntime } from '../support/node-red';
import { freePort } from '../support/shared/ports';

const broker = useRuntime(() => startMosquitto());

/** The node of a sidebar topic tree at `levels`. */
function at(tree: any[], ...levels: string[]): any {
    let nodes = tree;
    let found: any;
    for (const level of levels) {
        found = nodes.find((n) => n.level === level);
        if (!found) return undefined;
        nodes = found.children;
    }
    return found;
}

async function sidebar(): Promise<any> {
    const res = await helper.request().get('/mqtt-wire/sidebar').expect(200);
    return res.body;
}

for (const kind of ['mosquitto', 'embedded']) {
    test(`${kind}: the sidebar endpoint shows state, subscriptions with their nodes, counts and the topics seen`, async () => {
        const port = kind === 'mosquitto' ? broker().port : await freePort();
        const extra = { name: 'Home broker', monitor: true };
        const b: FlowNode = kind === 'mosquitto' ? externalBroker('b', port, extra) : embeddedBroker('b', port, extra);
        const quiet = externalBroker('quiet', port);
        const flow: FlowNode[] = [
            b,
            quiet,
            { id: 'in1', type: 'mqtt-in', name: 'Kitchen', broker: 'b', topic: 'sb/+/temp', qos: '1', datatype: 'auto-detect', wires: [['h']] },
            { id: 'in2', type: 'mqtt-in', broker: 'b', topic: 'sb/+/temp', qos: '2', datatype: 'buffer', wires: [['h']] },
            { id: 'dyn', type: 'mqtt-in', name: 'Dynamic', broker: 'b', topic: '', inputs: 1, datatype: 'utf8', wires: [['h2']] },
            { id: 'out', type: 'mqtt-out', broker: 'b', topic: 'sb/lamp/set', qos: '1', retain: 'true' },
            { id: 'quietIn', type: 'mqtt-in', broker: 'quiet', topic: 'sb/quiet', qos: '0', datatype: 'utf8', wires: [[]] },
            { id: 'h', type: 'helper' },
            { id: 'h2', type: 'helper' },
        ];
        const secret = 'sidebar-secret-p4ss';
        const before = Date.now();
        await loadFlow(flow, { b: kind === 'mosquitto' ? { user: 'nodered', password: secret } : {} });
        const got = collect('h');
        const gotDynamic = collect('h2');
        await waitForStatus('in1', (s) => s.fill === 'green', 'connected');
        await waitForSubscribed('b', 'sb/+/temp');
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, clientId: `sidebar-foreign-${process.pid}` });
        try {
            await client.publishAsync('sb/kitchen/temp', '21.5', { qos: 1 });
            await client.publishAsync('sb/hall/temp', Buffer.from([0x00, 0x01, 0x02, 0xff]), { qos: 0 });
            // in1 and in2 each send both messages on.
            await eventually(() => got.length === 4, 'both messages at both mqtt-in nodes');
            // Retained before the dynamic subscription: it arrives with the retain flag set.
            await client.publishAsync('sb/dyn/state', 'ready', { qos: 1, retain: true });
            getNode('dyn').receive({ action: 'subscribe', topic: { topic: 'sb/dyn/#', qos: 1 } });
            await eventually(() => gotDynamic.length === 1, 'the retained message at the dynamic subscription');

            await client.subscribeAsync('sb/lamp/set', { qos: 1 });
            const lamp = new Promise<void>((resolve) => client.on('message', (topic) => topic === 'sb/lamp/set' && resolve()));
            getNode('out').receive({ payload: 'on' });
            await lamp;

            const body = await sidebar();
            const text = JSON.stringify(body);
            assert.ok(!text.includes(secret), 'the password is never in the answer');
            const view = body.brokers.find((x: any) => x.id === 'b');
            assert.ok(view, 'broker-config b is listed');
            assert.equal(view.name, 'Home broker');
            assert.equal(view.mode, kind === 'mosquitto' ? 'external' : 'embedded');
            assert.equal(view.state, 'connected');
            assert.equal(view.status.fill, 'green');
            // The same words as the status of its nodes.
            assert.equal(view.status.text, lastStatus('in1')?.text);
            assert.equal(view.address, `127.0.0.1:${port}`);
            assert.ok(view.connectedSince >= before && view.connectedSince <= Date.now(), `connected since ${view.connectedSince}`);

            const subs = Object.fromEntries(view.subscriptions.map((s: any) => [s.filter, s]));
            assert.deepEqual(Object.keys(subs).sort(), ['sb/+/temp', 'sb/dyn/#']);
            assert.equal(subs['sb/+/temp'].qos, 2);
            assert.equal(subs['sb/+/temp'].subscribed, true);
            assert.deepEqual(
                subs['sb/+/temp'].holders.map((h: any) => [h.id, h.name, h.type]).sort(),
                [
                    ['in1', 'Kitchen', 'mqtt-in'],
                    ['in2', '', 'mqtt-in'],
                ],
            );
            assert.deepEqual(subs['sb/dyn/#'].holders, [{ id: 'dyn', name: 'Dynamic', type: 'mqtt-in' }]);
            assert.equal(subs['sb/dyn/#'].qos, 1);

            assert.equal(view.monitor, true);
            // One broker subscription takes both messages once, whatever the number of nodes behind it.
            assert.deepEqual(view.traffic.totals, { in: 3, out: 1 });
            assert.equal(view.traffic.topicCount, 4);
            assert.deepEqual(view.traffic.limits, { maxTopics: 1000, maxPayloadBytes: 256 });
            const kitchen = at(view.traffic.tree, 'sb', 'kitchen', 'temp');
            assert.equal(kitchen.topic, 'sb/kitchen/temp');
            assert.deepEqual(kitchen.last.payload, { kind: 'text', text: '21.5', size: 4, truncated: false });
            assert.equal(kitchen.last.retain, false);
            assert.equal(kitchen.last.qos, 1);
            assert.equal(kitchen.last.direction, 'in');
            const hall = at(view.traffic.tree, 'sb', 'hall', 'temp');
            assert.deepEqual(hall.last.payload, { kind: 'binary', hex: '000102ff', size: 4, truncated: false });
            assert.equal(hall.last.retain, false);
            assert.equal(hall.last.qos, 0);
            const state = at(view.traffic.tree, 'sb', 'dyn', 'state');
            assert.deepEqual(state.last.payload, { kind: 'text', text: 'ready', size: 5, truncated: false });
            assert.equal(state.last.retain, true);
            assert.equal(state.last.qos, 1);
            const set = at(view.traffic.tree, 'sb', 'lamp', 'set');
            assert.deepEqual(set.last.payload, { kind: 'text', text: 'on', size: 2, truncated: false });
            assert.equal(set.last.direction, 'out');
            assert.equal(set.last.retain, true);
            assert.equal(set.last.qos, 1);

            const topics = await helper.request().get('/mqtt-wire/sidebar/b/topics').expect(200);
            assert.deepEqual(topics.body, { monitor: true, topics: ['sb/dyn/state', 'sb/hall/temp', 'sb/kitchen/temp', 'sb/lamp/set'] });

            // A broker-config with the monitor off is listed with its subscriptions, without traffic.
            const quietView = body.brokers.find((x: any) => x.id === 'quiet');
            assert.equal(quietView.monitor, false);
            assert.equal(quietView.traffic, undefined);
            assert.deepEqual(quietView.subscriptions.map((s: any) => [s.filter, s.holders.map((h: any) => h.id)]), [['sb/quiet', ['quietIn']]]);
            const quietTopics = await helper.request().get('/mqtt-wire/sidebar/quiet/topics').expect(200);
            assert.deepEqual(quietTopics.body, { monitor: false, topics: [] });
            await helper.request().get('/mqtt-wire/sidebar/nosuch/topics').expect(404);
        } finally {
            // The retained messages go, for the other tests of this broker.
            await client.publishAsync('sb/dyn/state', '', { qos: 1, retain: true });
            await client.publishAsync('sb/lamp/set', '', { qos: 1, retain: true });
            await client.endAsync();
        }
    });
}

test('a broker-config whose configuration is wrong is listed with the reason, and a closed one is gone', async () => {
    await loadFlow([{ id: 'bad', type: 'broker-config', mode: 'external', broker: 'tcp://', port: '1883' }]);
    const body = await sidebar();
    const view = body.brokers.find((x: any) => x.id === 'bad');
    assert.equal(view.state, 'config-error');
    assert.equal(view.status.fill, 'red');
    assert.ok(view.status.text.length > 0, 'the reason in words');
    assert.deepEqual(view.subscriptions, []);
    await unloadFlow();
    assert.deepEqual((await sidebar()).brokers, []);
});
