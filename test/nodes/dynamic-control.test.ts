/**
 * msg.action on real Mosquitto brokers, with foreign MQTT.js clients on the wire: dynamic
 * subscriptions of mqtt-in, connect and disconnect on either node (also to another broker with
 * msg.broker), auto-connect off, the MQTT 5 subscription options, and bad actions caught by a
 * Catch node while the connection goes on working.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as mqtt from 'mqtt';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { allNodes, collect, coreNode, eventually, externalBroker, FlowNode, getNode, helper, useRuntime, waitForStatus, waitForSubscribed } from '../support/node-red';

const broker = useRuntime(() => startMosquitto());

const catchNode = coreNode('common/25-catch.js');
const completeNode = coreNode('common/24-complete.js');

function load(flow: FlowNode[]): Promise<void> {
    return new Promise((resolve, reject) => helper.load([...allNodes, catchNode, completeNode], flow, {}, (err?: Error) => (err ? reject(err) : resolve())));
}

/** A dynamic mqtt-in wired to helper `h`, a Complete node for it wired to `done`, and an mqtt-out taking its topic from msg.topic. */
function dynamicFlow(port: number, version: 4 | 5, brokerExtra: Record<string, unknown> = {}): FlowNode[] {
    return [
        externalBroker('b', port, { protocolVersion: String(version), ...brokerExtra }),
        { id: 'in', type: 'mqtt-in', broker: 'b', topic: '', qos: '2', datatype: 'utf8', inputs: 1, wires: [['h']] },
        { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' },
        { id: 'h', type: 'helper' },
        { id: 'on-complete', type: 'complete', scope: ['in', 'out'], wires: [['done']] },
        { id: 'done', type: 'helper' },
        { id: 'on-error', type: 'catch', scope: ['in', 'out'], uncaught: false, wires: [['caught']] },
        { id: 'caught', type: 'helper' },
    ];
}

async function client(port: number, version: 4 | 5 = 4): Promise<mqtt.MqttClient> {
    return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: version, reconnectPeriod: 0, clientId: `witness-${process.pid}-${Math.random().toString(16).slice(2)}` });
}

const payloadsOn = (msgs: any[], topic: string): string[] => msgs.filter((m) => m.topic === topic).map((m) => String(m.payload));

for (const version of [4, 5] as const) {
    describe(`dynamic subscriptions on MQTT ${version === 5 ? '5' : '3.1.1'}`, () => {
        test('subscribe (a string, an object, an array), getSubscriptions, unsubscribe one and then all', async () => {
            await load(dynamicFlow(broker().port, version));
            const got = collect('h');
            const completed = collect('done');
            await waitForStatus('in', (s) => s.fill === 'green', 'connected');
            assert.equal(getNode('b').connection.brokerFilters.size, 0, 'a dynamic node subscribes nothing by itself');
            const publisher = await client(broker().port);
            try {
                getNode('in').receive({ action: 'subscribe', topic: 'dyn/a' });
                getNode('in').receive({ action: 'subscribe', topic: { topic: 'dyn/b/+', qos: 1 } });
                getNode('in').receive({ action: 'subscribe', topic: ['dyn/c', { topic: 'dyn/d', qos: '0' }] });
                await Promise.all(['dyn/a', 'dyn/b/+', 'dyn/c', 'dyn/d'].map((f) => waitForSubscribed('b', f)));
                await eventually(() => completed.length === 3, 'three completed subscribe actions');
                assert.deepEqual(completed[2].subscriptions.map((s: any) => s.topic), ['dyn/a', 'dyn/b/+', 'dyn/c', 'dyn/d'], 'msg.subscriptions lists what the node holds');

                for (const topic of ['dyn/a', 'dyn/b/x', 'dyn/c', 'dyn/d']) await publisher.publishAsync(topic, topic, { qos: 1 });
                await eventually(() => got.length === 4, 'one message per subscription');
                assert.deepEqual(got.map((m) => [m.topic, m.payload, m.qos]), [['dyn/a', 'dyn/a', 1], ['dyn/b/x', 'dyn/b/x', 1], ['dyn/c', 'dyn/c', 1], ['dyn/d', 'dyn/d', 0]]);

                getNode('in').receive({ action: 'getSubscriptions', _keep: 'me' });
                await eventually(() => got.length === 5, 'the subscription list on the output');
                const listing = got[4];
                assert.equal(listing.topic, 'subscriptions');
                assert.equal(listing._keep, 'me', 'the rest of the msg goes on');
                const expected: any[] = [
                    { topic: 'dyn/a', qos: 2 },
                    { topic: 'dyn/b/+', qos: 1 },
                    { topic: 'dyn/c', qos: 2 },
                    { topic: 'dyn/d', qos: 0 },
                ];
                assert.deepEqual(listing.payload, version === 5 ? expected.map((s) => ({ ...s, rh: 0, rap: true })) : expected);

                getNode('in').receive({ action: 'unsubscribe', topic: 'dyn/a' });
                await eventually(() => !getNode('b').connection.brokerFilters.has('dyn/a'), 'dyn/a unsubscribed');
                await publisher.publishAsync('dyn/a', 'gone', { qos: 1 });
                await publisher.publishAsync('dyn/c', 'after', { qos: 1 });
                await eventually(() => payloadsOn(got, 'dyn/c').includes('after'), 'the message after the unsubscribed one');
                assert.deepEqual(payloadsOn(got, 'dyn/a'), ['dyn/a'], 'nothing arrives on an unsubscribed filter');

                getNode('in').receive({ action: 'unsubscribe', topic: true });
                await eventually(() => getNode('b').connection.brokerFilters.size === 0, 'every filter unsubscribed');
                getNode('in').receive({ action: 'getSubscriptions' });
                await eventually(() => got.filter((m) => m.topic === 'subscriptions').length === 2, 'the second listing');
                assert.deepEqual(got[got.length - 1].payload, []);
            } finally {
                await publisher.endAsync();
            }
        });

        test('overlapping dynamic and static filters deliver once to each node', async () => {
            const flow = dynamicFlow(broker().port, version);
            flow.push({ id: 'static', type: 'mqtt-in', broker: 'b', topic: 'ov/#', qos: '1', datatype: 'utf8', wires: [['hs']] }, { id: 'hs', type: 'helper' });
            await load(flow);
            const dynamicGot = collect('h');
            const staticGot = collect('hs');
            await waitForStatus('in', (s) => s.fill === 'green', 'connected');
            getNode('in').receive({ action: 'subscribe', topic: ['ov/+', 'ov/a', { topic: 'ov/#', qos: 1 }] });
            await waitForSubscribed('b', 'ov/#');
            if (version === 5) await Promise.all([waitForSubscribed('b', 'ov/+'), waitForSubscribed('b', 'ov/a')]);
            const publisher = await client(broker().port);
            try {
                await publisher.publishAsync('ov/a', 'one', { qos: 1 });
                await publisher.publishAsync('ov/end', 'end', { qos: 1 });
                await eventually(() => payloadsOn(dynamicGot, 'ov/end').length > 0 && payloadsOn(staticGot, 'ov/end').length > 0, 'the closing message at both nodes');
                assert.deepEqual(payloadsOn(dynamicGot, 'ov/a'), ['one'], 'the dynamic node gets it once');
                assert.deepEqual(payloadsOn(staticGot, 'ov/a'), ['one'], 'the static node gets it once');
                assert.equal(dynamicGot.find((m) => m.topic === 'ov/a').qos, 1, 'with the highest QoS of its matching subscriptions');
            } finally {
                await publisher.endAsync();
            }
        });
    });
}

describe('connect and disconnect', () => {
    let second: Mosquitto;
    before(async () => {
        second = await startMosquitto();
    });
    after(async () => {
        await second.dispose();
    });

    test('disconnect, then connect: QoS 1 waits meanwhile and is sent once connected; subscriptions come back', async () => {
        await load(dynamicFlow(broker().port, 4));
        const got = collect('h');
        const completed = collect('done');
        await waitForStatus('out', (s) => s.fill === 'green', 'connected');
        getNode('in').receive({ action: 'subscribe', topic: 'dc/t' });
        await waitForSubscribed('b', 'dc/t');

        getNode('out').receive({ action: 'disconnect' });
        await eventually(() => completed.length === 2, 'the disconnect completed');
        assert.equal(getNode('b').connection.status.state, 'idle');
        await waitForStatus('out', (s) => s.fill === 'red' && /disconnected/.test(String(s.text)), 'disconnected status');
        getNode('out').receive({ topic: 'dc/t', payload: 'kept', qos: 1 });
        await eventually(() => getNode('b').connection.delivery.queued === 1, 'the message waiting');

        getNode('in').receive({ action: 'connect' });
        await eventually(() => payloadsOn(got, 'dc/t').includes('kept'), 'the waiting message delivered after connect');
        await eventually(() => completed.length === 4, 'connect and publish completed');
        assert.equal(getNode('b').connection.connected, true);
    });

    test('connect with msg.broker moves to a second Mosquitto, with what waits in the outbox', async () => {
        await load(dynamicFlow(broker().port, 5));
        const got = collect('h');
        const caught = collect('caught');
        const completed = collect('done');
        await waitForStatus('out', (s) => s.fill === 'green', 'connected');
        const witness = await client(second.port, 5);
        const onSecond: string[] = [];
        witness.on('message', (topic, payload) => onSecond.push(`${topic} ${payload}`));
        await witness.subscribeAsync('move/#', { qos: 1 });
        try {
            getNode('out').receive({ action: 'connect', broker: { port: second.port } });
            await eventually(() => caught.length === 1, 'refused while connected without force');
            assert.match(caught[0].error.message, /mqtt-out\.action-errors\.already-connected/);

            getNode('out').receive({ action: 'disconnect' });
            await eventually(() => getNode('b').connection.status.state === 'idle', 'disconnected');
            getNode('out').receive({ topic: 'move/waiting', payload: 'w', qos: 1 });
            getNode('out').receive({ action: 'connect', broker: { broker: '127.0.0.1', port: String(second.port), clientid: 'moved-client' } });
            await eventually(() => onSecond.includes('move/waiting w'), 'the waiting message at the second broker');
            assert.equal(getNode('b').connection.status.address, `127.0.0.1:${second.port}`);

            getNode('in').receive({ action: 'subscribe', topic: 'back/t' });
            await waitForSubscribed('b', 'back/t');
            await witness.publishAsync('back/t', 'from second', { qos: 1 });
            await eventually(() => payloadsOn(got, 'back/t').includes('from second'), 'a dynamic subscription at the second broker');

            getNode('out').receive({ action: 'connect', broker: { port: broker().port, force: true } });
            await eventually(() => getNode('b').connection.connected && getNode('b').connection.status.address === `127.0.0.1:${broker().port}`, 'back on the first broker with force');
            await eventually(() => completed.filter((m) => m.action === 'connect').length === 2, 'both connects completed');
            assert.equal(caught.length, 1);
        } finally {
            await witness.endAsync();
        }
    });

    test('auto-connect off: nothing connects until a connect action', async () => {
        await load(dynamicFlow(broker().port, 4, { autoConnect: false }));
        const got = collect('h');
        await waitForStatus('in', (s) => s.fill === 'grey' && /auto-connect-off/.test(String(s.text)), 'auto-connect off status');
        getNode('out').receive({ topic: 'ac/t', payload: 'early', qos: 1 });
        getNode('in').receive({ action: 'subscribe', topic: 'ac/t' });
        await eventually(() => getNode('b').connection.delivery.queued === 1, 'the message waiting');
        assert.equal(getNode('b').connection.status.state, 'idle', 'no connection attempt');

        getNode('in').receive({ action: 'connect' });
        await waitForStatus('in', (s) => s.fill === 'green', 'connected');
        await eventually(() => payloadsOn(got, 'ac/t').includes('early'), 'the early message after connect');
    });
});

describe('bad actions are caught and the connection goes on working', () => {
    test('every bad input reaches the Catch node with its msg; Node-RED and the connection run on', async () => {
        await load(dynamicFlow(broker().port, 5));
        const got = collect('h');
        const caught = collect('caught');
        await waitForStatus('in', (s) => s.fill === 'green', 'connected');
        const cases: [string, string, Record<string, unknown>, RegExp][] = [
            ['in', 'an unknown action', { action: 'explode' }, /mqtt-in\.action-errors\.unknown-action/],
            ['in', 'no action', { payload: 1 }, /mqtt-in\.action-errors\.unknown-action/],
            ['in', 'a filter with # inside', { action: 'subscribe', topic: 'a/#/b' }, /mqtt-in\.action-errors\.invalid-topic/],
            ['in', 'an empty filter in a list', { action: 'subscribe', topic: ['ok/1', ''] }, /mqtt-in\.action-errors\.invalid-topic/],
            ['in', 'a number as topic', { action: 'subscribe', topic: 42 }, /mqtt-in\.action-errors\.bad-subscription/],
            ['in', 'QoS 3', { action: 'subscribe', topic: { topic: 'ok/2', qos: 3 } }, /mqtt-in\.action-errors\.invalid-qos/],
            ['in', 'rh 5', { action: 'subscribe', topic: { topic: 'ok/3', rh: 5 } }, /mqtt-in\.action-errors\.invalid-option/],
            ['in', 'nl "yes"', { action: 'subscribe', topic: { topic: 'ok/4', nl: 'yes' } }, /mqtt-in\.action-errors\.invalid-option/],
            ['in', 'unsubscribe a number', { action: 'unsubscribe', topic: 5 }, /mqtt-in\.action-errors\.bad-subscription/],
            ['in', 'msg.broker a string', { action: 'connect', broker: 'nonsense' }, /mqtt-in\.action-errors\.broker-not-object/],
            ['in', 'msg.broker with an unknown key', { action: 'connect', broker: { prot: 1883, force: true } }, /mqtt-in\.action-errors\.broker-unknown-key/],
            ['out', 'an unknown action', { action: 'subscribe' }, /mqtt-out\.action-errors\.unknown-action/],
            ['out', 'msg.broker port out of range', { action: 'connect', broker: { port: 99999, force: true } }, /mqtt-out\.action-errors\.broker-settings/],
            ['out', 'msg.broker port not a number', { action: 'connect', broker: { port: 'abc', force: true } }, /mqtt-out\.action-errors\.broker-bad-value/],
        ];
        for (const [node, , msg] of cases) getNode(node).receive(msg);
        await eventually(() => caught.length === cases.length, `${cases.length} caught errors`);
        cases.forEach(([node, what, msg, pattern], i) => {
            assert.match(caught[i].error.message, pattern, what);
            assert.equal(caught[i].error.source.id, node, `${what}: from ${node}`);
            assert.equal(caught[i]._msgid, (msg as any)._msgid, `${what}: the caught msg is the one sent`);
        });
        assert.equal(getNode('b').connection.connected, true, 'still connected');
        assert.equal(getNode('b').connection.brokerFilters.size, 0, 'a list with a bad entry subscribes none of it');

        getNode('in').receive({ action: 'subscribe', topic: 'still/works' });
        await waitForSubscribed('b', 'still/works');
        getNode('out').receive({ topic: 'still/works', payload: 'yes', qos: 1 });
        await eventually(() => payloadsOn(got, 'still/works').includes('yes'), 'a message through the same connection');
    });
});

describe('a datatype of its own in a subscribe object', () => {
    test("each dynamic subscription converts its payloads with its own datatype, the others with the node's; a bad one is caught", async () => {
        await load(dynamicFlow(broker().port, 5));
        const got = collect('h');
        const caught = collect('caught');
        await waitForStatus('in', (s) => s.fill === 'green', 'connected');
        const publisher = await client(broker().port, 5);
        try {
            getNode('in').receive({ action: 'subscribe', topic: [{ topic: 'dt/json', datatype: 'json' }, { topic: 'dt/buffer', qos: 1, datatype: 'buffer' }, 'dt/node', { topic: 'dt/b64', datatype: 'base64' }] });
            await Promise.all(['dt/json', 'dt/buffer', 'dt/node', 'dt/b64'].map((f) => waitForSubscribed('b', f)));
            for (const topic of ['dt/json', 'dt/buffer', 'dt/node', 'dt/b64']) await publisher.publishAsync(topic, '{"n":1}', { qos: 1 });
            await eventually(() => got.length === 4, 'four messages');
            const byTopic = Object.fromEntries(got.map((m) => [m.topic, m.payload]));
            assert.deepEqual(byTopic['dt/json'], { n: 1 }, 'json: parsed');
            assert.ok(Buffer.isBuffer(byTopic['dt/buffer']) && byTopic['dt/buffer'].toString() === '{"n":1}', 'buffer: the bytes');
            assert.equal(byTopic['dt/node'], '{"n":1}', "no datatype: the node's (utf8)");
            assert.equal(byTopic['dt/b64'], Buffer.from('{"n":1}').toString('base64'), 'base64');

            // Not JSON on a json subscription: an error with the msg, as for a node with datatype json.
            await publisher.publishAsync('dt/json', 'not json', { qos: 1 });
            await eventually(() => caught.length === 1, 'the conversion error');
            assert.equal(caught[0].topic, 'dt/json');

            getNode('in').receive({ action: 'getSubscriptions' });
            await eventually(() => got.length === 5, 'the list');
            assert.deepEqual(got[4].payload, [
                { topic: 'dt/json', qos: 2, rh: 0, rap: true, datatype: 'json' },
                { topic: 'dt/buffer', qos: 1, rh: 0, rap: true, datatype: 'buffer' },
                { topic: 'dt/node', qos: 2, rh: 0, rap: true },
                { topic: 'dt/b64', qos: 2, rh: 0, rap: true, datatype: 'base64' },
            ]);

            const bad = { action: 'subscribe', topic: ['dt/ok', { topic: 'dt/text', datatype: 'text' }] };
            getNode('in').receive(bad);
            await eventually(() => caught.length === 2, 'the bad datatype');
            assert.match(caught[1].error.message, /mqtt-in\.action-errors\.invalid-datatype/);
            assert.equal(caught[1]._msgid, (bad as any)._msgid);
            assert.equal(getNode('b').connection.brokerFilters.has('dt/ok'), false, 'a list with a bad datatype subscribes none of it');
        } finally {
            await publisher.endAsync();
        }
    });
});

describe('subscription options on the wire', () => {
    test('MQTT 5: no-local keeps the node from its own connection\'s publishes; a subscription without it gets them', async () => {
        await load(dynamicFlow(broker().port, 5));
        const got = collect('h');
        const completed = collect('done');
        await waitForStatus('in', (s) => s.fill === 'green', 'connected');
        getNode('in').receive({ action: 'subscribe', topic: [{ topic: 'nl/t', nl: true }, { topic: 'echo/t' }] });
        await Promise.all([waitForSubscribed('b', 'nl/t'), waitForSubscribed('b', 'echo/t')]);
        getNode('out').receive({ topic: 'nl/t', payload: 'own', qos: 1 });
        getNode('out').receive({ topic: 'echo/t', payload: 'own', qos: 1 });
        await eventually(() => completed.length === 3, 'both publishes acknowledged');
        const foreign = await client(broker().port, 5);
        try {
            await foreign.publishAsync('nl/t', 'foreign', { qos: 1 });
            await eventually(() => payloadsOn(got, 'nl/t').includes('foreign') && payloadsOn(got, 'echo/t').includes('own'), 'the foreign message and the echo');
            assert.deepEqual(payloadsOn(got, 'nl/t'), ['foreign'], 'the own publish did not come back');
        } finally {
            await foreign.endAsync();
        }
    });

    test('MQTT 3.1.1: no-local is not sent (the protocol has none), so the own publish comes back', async () => {
        await load(dynamicFlow(broker().port, 4));
        const got = collect('h');
        await waitForStatus('in', (s) => s.fill === 'green', 'connected');
        getNode('in').receive({ action: 'subscribe', topic: { topic: 'nl4/t', nl: true } });
        await waitForSubscribed('b', 'nl4/t');
        getNode('out').receive({ topic: 'nl4/t', payload: 'own', qos: 1 });
        await eventually(() => payloadsOn(got, 'nl4/t').includes('own'), 'the own publish');
    });

    test('MQTT 5: retain-as-published and retain handling', async () => {
        await load(dynamicFlow(broker().port, 5));
        const got = collect('h');
        await waitForStatus('in', (s) => s.fill === 'green', 'connected');
        const foreign = await client(broker().port, 5);
        try {
            await foreign.publishAsync('rh/never', 'stored', { qos: 1, retain: true });
            await foreign.publishAsync('rh/always', 'stored', { qos: 1, retain: true });
            getNode('in').receive({ action: 'subscribe', topic: [{ topic: 'rh/never', rh: 2 }, { topic: 'rh/always', rh: '0' }, { topic: 'rap/yes', rap: true }, { topic: 'rap/no', rap: 'false' }] });
            await Promise.all(['rh/never', 'rh/always', 'rap/yes', 'rap/no'].map((f) => waitForSubscribed('b', f)));
            await foreign.publishAsync('rap/yes', 'live', { qos: 1, retain: true });
            await foreign.publishAsync('rap/no', 'live', { qos: 1, retain: true });
            await foreign.publishAsync('rh/never', 'live', { qos: 1 });
            await eventually(() => ['rh/always', 'rap/yes', 'rap/no', 'rh/never'].every((t) => payloadsOn(got, t).length > 0), 'a message on each');
            assert.deepEqual(payloadsOn(got, 'rh/never'), ['live'], 'rh 2: no retained message on subscribing');
            assert.deepEqual(payloadsOn(got, 'rh/always'), ['stored'], 'rh 0: the retained message');
            assert.equal(got.find((m) => m.topic === 'rap/yes').retain, true, 'rap: the retain flag as published');
            assert.equal(got.find((m) => m.topic === 'rap/no').retain, false, 'without rap: cleared on a live message');
        } finally {
            for (const topic of ['rh/never', 'rh/always', 'rap/yes', 'rap/no']) await foreign.publishAsync(topic, '', { qos: 1, retain: true });
            await foreign.endAsync();
        }
    });

    test("MQTT 5: a static node's nl, rap and rh (the core's properties) reach the broker", async () => {
        await load([
            externalBroker('b', broker().port, { protocolVersion: '5' }),
            { id: 'in', type: 'mqtt-in', broker: 'b', topic: 'st/t', qos: '1', datatype: 'utf8', nl: true, rap: true, rh: '2', wires: [['h']] },
            { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' },
            { id: 'h', type: 'helper' },
        ]);
        const got = collect('h');
        const foreign = await client(broker().port, 5);
        try {
            await waitForSubscribed('b', 'st/t');
            getNode('out').receive({ topic: 'st/t', payload: 'own', qos: 1 });
            await eventually(() => getNode('b').connection.delivery.queued === 0 && getNode('b').connection.delivery.inFlight === 0, 'the own publish acknowledged');
            await foreign.publishAsync('st/t', 'foreign', { qos: 1, retain: true });
            await eventually(() => got.length > 0, 'the foreign message');
            assert.deepEqual(got.map((m) => [m.payload, m.retain]), [['foreign', true]], 'no own message, retain flag as published');
        } finally {
            await foreign.publishAsync('st/t', '', { qos: 1, retain: true });
            await foreign.endAsync();
        }
    });
});
