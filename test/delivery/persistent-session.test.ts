/**
 * Persistent sessions (clean session off): stopping Node-RED keeps the subscriptions at the broker,
 * which queues for it, and the next start receives everything; removing a node unsubscribes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as mqtt from 'mqtt';
import { startMosquitto } from '../support/mosquitto';
import { eventually, externalBroker, FlowNode, getNode, helper, loadFlow, unloadFlow, waitForStatus, waitForSubscribed, useRuntime } from '../support/node-red';
import { subscribedOn } from '../support/subscriptions';

const broker = useRuntime(() => startMosquitto({ extraConfig: ['log_type subscribe', 'log_type unsubscribe', 'max_queued_messages 5000'] }));

function receiver(clientid: string, version: '4' | '5'): FlowNode[] {
    return [
        externalBroker('b', broker().port, { clientid, cleansession: false, protocolVersion: version, durable: 'off' }),
        { id: 'in', type: 'mqtt-in', broker: 'b', topic: 'down/+', qos: '1', datatype: 'utf8', wires: [['h']] },
        { id: 'h', type: 'helper' },
    ];
}

for (const version of ['4', '5'] as const) {
    test(`MQTT ${version === '4' ? '3.1.1' : '5'}: 1,000 QoS 1 messages published while the receiving Node-RED is stopped all arrive when it starts again`, async () => {
        const clientid = `receiver-${version}-${Date.now()}`;
        await loadFlow(receiver(clientid, version));
        await waitForStatus('in', (s) => s.fill === 'green', 'connected');
        await waitForSubscribed('b', 'down/+');
        await unloadFlow(); // Node-RED stops: the node closes without being removed

        const publisher = await mqtt.connectAsync(broker().url, { protocolVersion: 4 });
        for (let i = 1; i <= 1000; i++) await publisher.publishAsync(`down/${version}`, String(i), { qos: 1 });
        await publisher.endAsync();

        await loadFlow(receiver(clientid, version));
        const got: number[] = [];
        getNode('h').on('input', (msg: any) => got.push(Number(msg.payload)));
        await eventually(() => new Set(got).size === 1000, `1000 messages (have ${got.length})`, 20000);
        const unique = new Set(got);
        for (let i = 1; i <= 1000; i++) assert.ok(unique.has(i), `message ${i}`);
        // Mosquitto logs a subscribe as "<client> <qos> <filter>" and an unsubscribe as "<client> <filter>".
        assert.match(broker().log, new RegExp(`^\\d+: ${clientid} 1 down/\\+$`, 'm'), 'subscribed');
        assert.doesNotMatch(broker().log, new RegExp(`^\\d+: ${clientid} down/\\+$`, 'm'), 'never unsubscribed');
    });
}

test('removing an mqtt-in node from the flow unsubscribes its filter at the broker', async () => {
    const { Connection } = require('../../dist/lib/connection');
    const clientId = `remove-${Date.now()}`;
    const connection = new Connection({ url: broker().url, address: `127.0.0.1:${broker().port}`, client: { clientId, clean: false, protocolVersion: 4 } });
    const user = {};
    connection.attach(user);
    const subscriber = { filter: 'removed/#', qos: 1, deliver() {}, refused() {} };
    connection.subscribe(subscriber);
    await subscribedOn(connection, 'removed/#');
    const unsubscribed = new RegExp(`^\\d+: ${clientId} removed/#$`, 'm');
    assert.doesNotMatch(broker().log, unsubscribed);
    connection.unsubscribe(subscriber, { now: true });
    await connection.detach(user);
    assert.equal(connection.brokerFilters.has('removed/#'), false);
    await eventually(() => unsubscribed.test(broker().log), 'the UNSUBSCRIBE at the broker');
});

test('a filter the restarted flow no longer uses is unsubscribed once it is back (persistent session, durable store)', async () => {
    const fs = require('node:fs');
    const os = require('node:os');
    const path = require('node:path');
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-resub-'));
    helper.settings({ userDir });
    const clientid = `resub-${Date.now()}`;
    const flow = (topic: string): FlowNode[] => [
        externalBroker('b', broker().port, { clientid, cleansession: false, durable: 'on' }),
        { id: 'in', type: 'mqtt-in', broker: 'b', topic, qos: '1', datatype: 'utf8', wires: [[]] },
    ];
    try {
        await loadFlow(flow('old/#'));
        await waitForSubscribed('b', 'old/#');
        await unloadFlow(); // stopped, not removed: the broker keeps old/#
        const unsubscribedOld = new RegExp(`^\\d+: ${clientid} old/#$`, 'm');
        assert.doesNotMatch(broker().log, unsubscribedOld);
        await loadFlow(flow('new/#')); // the flow was edited while Node-RED was down
        await waitForSubscribed('b', 'new/#');
        await eventually(() => unsubscribedOld.test(broker().log), 'old/# unsubscribed at the broker');
        assert.deepEqual([...getNode('b').connection.brokerFilters.keys()], ['new/#']);
    } finally {
        helper.settings({ userDir: undefined });
        fs.rmSync(userDir, { recursive: true, force: true });
    }
});
