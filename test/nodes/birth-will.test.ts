/**
 * Birth, close and will messages of a broker-config against a real Mosquitto, on MQTT 3.1.1 and 5,
 * with a foreign MQTT.js client as the witness: the birth after every connect (after the
 * subscriptions: the flow's own mqtt-in hears it) and again after a broker restart; the close message
 * on a clean stop and not on a cut link; the will when the link is cut without DISCONNECT and not on a
 * clean stop; an invalid topic reported in words while the connection works without that message.
 * On MQTT 5 the messages carry their properties (the core's birthMsg, closeMsg, willMsg) and the will
 * its delay; msg.broker on a connect action replaces them, and a bad one is refused in words.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as mqtt from 'mqtt';
import { startMosquitto } from '../support/mosquitto';
import { parseBrokerOverride } from '../../dist/lib/actions';
import { allNodes, callsOn, collect, coreNode, eventually, externalBroker, FlowNode, getNode, helper, loadFlow, unloadFlow, useRuntime, waitForStatus, waitForSubscribed } from '../support/node-red';
import { TcpProxy } from '../support/tcp-proxy';
import { statusInWords } from '../support/status-words';

// Persistence keeps the witness's session across a broker restart, so it misses no birth message.
const broker = useRuntime(() => startMosquitto({ persistence: true }));

interface Seen {
    topic: string;
    payload: string;
    qos: number;
    retain: boolean;
}

/** A foreign client subscribed to `prefix/#` on a persistent session, recording what arrives. */
class Witness {
    readonly seen: Seen[] = [];
    private constructor(private readonly client: mqtt.MqttClient) {
        client.on('message', (topic, payload, packet) => this.seen.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain }));
    }

    static async start(port: number, prefix: string): Promise<Witness> {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `witness-${prefix}`, clean: false, reconnectPeriod: 100 });
        const witness = new Witness(client);
        await client.subscribeAsync(`${prefix}/#`, { qos: 2 });
        return witness;
    }

    on(topic: string): Seen[] {
        return this.seen.filter((m) => m.topic === topic);
    }

    /**
     * Publishes a marker and waits until it comes back: whatever the broker did before it handled the
     * marker (a will it was going to publish, say) has reached the witness by then.
     */
    async roundTrip(topic: string): Promise<void> {
        const before = this.on(topic).length;
        await this.client.publishAsync(topic, 'marker', { qos: 1 });
        await eventually(() => this.on(topic).length > before, `the marker on ${topic}`);
    }

    async stop(): Promise<void> {
        await this.client.endAsync(true);
    }
}

for (const version of [4, 5] as const) {
    test(`MQTT ${version}: the birth message after connecting, after the subscriptions, and again after a broker restart`, async () => {
        const prefix = `birth${version}`;
        const witness = await Witness.start(broker().port, prefix);
        try {
            await loadFlow([
                externalBroker('b', broker().port, {
                    protocolVersion: String(version),
                    reconnectDelay: '1',
                    birthTopic: `${prefix}/status`,
                    birthPayload: 'online',
                    birthQos: '1',
                    birthRetain: 'false',
                }),
                { id: 'in', type: 'mqtt-in', broker: 'b', topic: `${prefix}/status`, qos: '1', datatype: 'utf8', wires: [['h']] },
                { id: 'h', type: 'helper' },
            ]);
            const heard = collect('h');
            await eventually(() => witness.on(`${prefix}/status`).length === 1, 'the birth message');
            assert.deepEqual(witness.on(`${prefix}/status`)[0], { topic: `${prefix}/status`, payload: 'online', qos: 1, retain: false });
            // Published after the SUBSCRIBE: the flow's own mqtt-in on the topic hears it too, as with the core node.
            await eventually(() => heard.length === 1, 'the birth message at the flow');
            assert.equal(heard[0].payload, 'online');
            assert.equal(callsOn('b', 'error').length, 0);

            await broker().restart();
            await eventually(() => witness.on(`${prefix}/status`).length === 2, 'the birth message after the restart', 20000);
            assert.equal(witness.on(`${prefix}/status`)[1].payload, 'online');
            await eventually(() => heard.length === 2, 'the second birth message at the flow');
            await unloadFlow();
        } finally {
            await witness.stop();
        }
    });

    test(`MQTT ${version}: the will on a cut link and not on a clean stop; the close message on a clean stop and not on a cut link`, async () => {
        const prefix = `lwt${version}`;
        const witness = await Witness.start(broker().port, prefix);
        const proxy = await new TcpProxy(broker().port).start();
        try {
            await loadFlow([
                externalBroker('b', proxy.port, {
                    protocolVersion: String(version),
                    reconnectDelay: '1',
                    birthTopic: `${prefix}/birth`,
                    birthPayload: 'online',
                    closeTopic: `${prefix}/close`,
                    closePayload: 'offline',
                    closeQos: '1',
                    willTopic: `${prefix}/will`,
                    willPayload: 'lost',
                    willQos: '2',
                    willRetain: 'true',
                }),
                { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' },
            ]);
            await eventually(() => witness.on(`${prefix}/birth`).length === 1, 'the birth message');

            // The proxy closes the socket towards the broker without a DISCONNECT: the broker publishes the will.
            proxy.cut();
            await eventually(() => witness.on(`${prefix}/will`).length === 1, 'the will');
            assert.deepEqual(witness.on(`${prefix}/will`)[0], { topic: `${prefix}/will`, payload: 'lost', qos: 2, retain: false });
            assert.equal(witness.on(`${prefix}/close`).length, 0, 'no close message on a cut link');

            proxy.restore();
            await eventually(() => witness.on(`${prefix}/birth`).length === 2, 'the birth message after the reconnect', 20000);
            await waitForStatus('out', (s) => s.fill === 'green', 'connected again');

            // A clean stop: the close message, then DISCONNECT, and the broker drops the will.
            await unloadFlow();
            await eventually(() => witness.on(`${prefix}/close`).length === 1, 'the close message');
            assert.deepEqual(witness.on(`${prefix}/close`)[0], { topic: `${prefix}/close`, payload: 'offline', qos: 1, retain: false });
            await witness.roundTrip(`${prefix}/marker`);
            assert.equal(witness.on(`${prefix}/will`).length, 1, 'no will on a clean stop');
            assert.equal(witness.on(`${prefix}/birth`).length, 2);
        } finally {
            await proxy.stop();
            await witness.stop();
        }
    });

    test(`MQTT ${version}: invalid birth, close and will settings are reported in words, and the connection works without them`, async () => {
        const prefix = `invalid${version}`;
        const witness = await Witness.start(broker().port, prefix);
        try {
            await loadFlow([
                externalBroker('b', broker().port, {
                    protocolVersion: String(version),
                    birthTopic: `${prefix}/+/status`,
                    birthPayload: 'online',
                    closeTopic: `${prefix}/close`,
                    closeQos: '7',
                    willTopic: `${prefix}/#`,
                    willPayload: 'lost',
                }),
                { id: 'in', type: 'mqtt-in', broker: 'b', topic: `${prefix}/data`, qos: '1', datatype: 'utf8', wires: [['h']] },
                { id: 'out', type: 'mqtt-out', broker: 'b', topic: `${prefix}/data`, qos: '1', retain: '' },
                { id: 'h', type: 'helper' },
            ]);
            const heard = collect('h');
            const birthProblem = `the birth message is off: its topic "${prefix}/+/status" is invalid: a publish topic cannot contain '+' or '#'`;
            const closeProblem = 'the close message is off: its QoS must be 0, 1 or 2, not "7"';
            const willProblem = `the will message is off: its topic "${prefix}/#" is invalid: a publish topic cannot contain '+' or '#'`;
            const status = await waitForStatus('out', (s) => s.shape === 'dot', 'connected');
            assert.equal(status.fill, 'yellow');
            const words = statusInWords(status);
            for (const problem of [birthProblem, closeProblem, willProblem]) assert.ok(words.includes(problem), `status "${words}" says: ${problem}`);
            const logged = callsOn<[string]>('b', 'error').map(([text]) => String(text));
            for (const problem of [birthProblem, closeProblem, willProblem]) assert.ok(logged.some((text) => text.startsWith(problem)), `logged: ${problem}`);

            await waitForSubscribed('b', `${prefix}/data`);
            getNode('out').receive({ payload: 'works' });
            await eventually(() => heard.length === 1 && witness.on(`${prefix}/data`).length === 1, 'the message through the connection');
            assert.equal(heard[0].payload, 'works');

            await unloadFlow();
            await witness.roundTrip(`${prefix}/marker`);
            assert.deepEqual(
                witness.seen.map((m) => m.topic),
                [`${prefix}/data`, `${prefix}/marker`],
                'no birth, close or will message',
            );
        } finally {
            await witness.stop();
        }
    });
}

/** A foreign MQTT 5 client subscribed to `prefix/#` that keeps every PUBLISH with the time it came. */
async function witness5(port: number, prefix: string): Promise<{ client: mqtt.MqttClient; got: (mqtt.IPublishPacket & { at: number })[]; on(topic: string): (mqtt.IPublishPacket & { at: number })[] }> {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: `witness5-${prefix}-${process.pid}`, reconnectPeriod: 100 });
    const got: (mqtt.IPublishPacket & { at: number })[] = [];
    client.on('message', (_topic, _payload, packet) => got.push({ ...packet, at: Date.now() }));
    await client.subscribeAsync(`${prefix}/#`, { qos: 2 });
    return { client, got, on: (topic) => got.filter((p) => p.topic === topic) };
}

/** mqtt-packet gives user properties as an object without a prototype. */
const plain = (value: unknown): unknown => (value && typeof value === 'object' ? { ...value } : value);

test('MQTT 5: the birth, will and close messages carry their properties on the wire, and the will waits its delay', async () => {
    const prefix = 'props5';
    const w = await witness5(broker().port, prefix);
    const proxy = await new TcpProxy(broker().port).start();
    try {
        await loadFlow([
            externalBroker('b', proxy.port, {
                protocolVersion: '5',
                reconnectDelay: '1',
                // A session that outlives the link: without one the broker ends it, and sends the will, at once.
                cleansession: false,
                clientid: `props5-${process.pid}`,
                durable: 'off',
                birthTopic: `${prefix}/birth`,
                birthPayload: 'online',
                birthQos: '1',
                birthMsg: { contentType: 'text/plain', userProps: '{"site":"north","rack":7}', respTopic: `${prefix}/reply`, correl: 'boot-1', expiry: '300' },
                closeTopic: `${prefix}/close`,
                closePayload: 'offline',
                closeQos: '1',
                closeMsg: { contentType: 'text/plain', userProps: '{"why":"stop"}' },
                willTopic: `${prefix}/will`,
                willPayload: '{"state":"lost"}',
                willQos: '1',
                willMsg: { contentType: 'application/json', userProps: '{"why":"lost"}', correl: 'w-1', expiry: '120', delay: '2' },
            }),
            { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' },
        ]);
        await eventually(() => w.on(`${prefix}/birth`).length === 1, 'the birth message');
        const birth = w.on(`${prefix}/birth`)[0];
        assert.equal(String(birth.payload), 'online');
        assert.equal(birth.properties?.contentType, 'text/plain');
        assert.deepEqual(plain(birth.properties?.userProperties), { site: 'north', rack: '7' });
        assert.equal(birth.properties?.responseTopic, `${prefix}/reply`);
        assert.deepEqual(birth.properties?.correlationData, Buffer.from('boot-1'));
        // The broker passes on what is left of the expiry.
        const expiry = birth.properties?.messageExpiryInterval ?? 0;
        assert.ok(expiry > 290 && expiry <= 300, `expiry ${expiry}`);
        assert.equal(callsOn('b', 'error').length, 0);

        // The link is cut without DISCONNECT; the session lives on, so the broker holds the will for its delay.
        const cutAt = Date.now();
        proxy.cut();
        await eventually(() => w.on(`${prefix}/will`).length === 1, 'the will after its delay');
        const will = w.on(`${prefix}/will`)[0];
        assert.ok(will.at - cutAt >= 1500, `the will came ${will.at - cutAt} ms after the cut, not after its 2 s delay`);
        assert.equal(String(will.payload), '{"state":"lost"}');
        assert.equal(will.properties?.contentType, 'application/json');
        assert.deepEqual(plain(will.properties?.userProperties), { why: 'lost' });
        assert.deepEqual(will.properties?.correlationData, Buffer.from('w-1'));
        assert.ok((will.properties?.messageExpiryInterval ?? 0) > 110, 'the will keeps its expiry');

        proxy.restore();
        await eventually(() => w.on(`${prefix}/birth`).length === 2, 'the birth message after the reconnect', 20000);
        await unloadFlow();
        await eventually(() => w.on(`${prefix}/close`).length === 1, 'the close message');
        const close = w.on(`${prefix}/close`)[0];
        assert.equal(String(close.payload), 'offline');
        assert.equal(close.properties?.contentType, 'text/plain');
        assert.deepEqual(plain(close.properties?.userProperties), { why: 'stop' });
        assert.equal(w.on(`${prefix}/will`).length, 1);
    } finally {
        await proxy.stop();
        await w.client.endAsync(true);
    }
});

test('MQTT 5: a bad property turns its message off in words; the others go out', async () => {
    const prefix = 'badprops5';
    const w = await witness5(broker().port, prefix);
    try {
        await loadFlow([
            externalBroker('b', broker().port, {
                protocolVersion: '5',
                birthTopic: `${prefix}/birth`,
                birthPayload: 'online',
                birthMsg: { userProps: '{broken', contentType: 'text/plain' },
                closeTopic: `${prefix}/close`,
                closePayload: 'offline',
                closeMsg: { respTopic: `${prefix}/+` },
                willTopic: `${prefix}/will`,
                willMsg: { delay: 'later' },
            }),
            { id: 'out', type: 'mqtt-out', broker: 'b', topic: `${prefix}/data`, qos: '1', retain: '' },
        ]);
        const status = await waitForStatus('out', (s) => s.shape === 'dot', 'connected');
        assert.equal(status.fill, 'yellow');
        for (const problem of [
            'the birth message is off: its user properties are not valid JSON',
            `the close message is off: its response topic "${prefix}/+" is not a valid topic`,
            'the will message is off: its will delay must be a whole number from 0 to 4294967295, not "later"',
        ]) {
            assert.ok(statusInWords(status).includes(problem), `status "${statusInWords(status)}" says: ${problem}`);
            assert.ok(callsOn<[string]>('b', 'error').some(([text]) => String(text).startsWith(problem)), `logged: ${problem}`);
        }
        getNode('out').receive({ payload: 'works' });
        await eventually(() => w.on(`${prefix}/data`).length === 1, 'a message through the connection');
        await unloadFlow();
        await w.client.publishAsync(`${prefix}/marker`, 'm', { qos: 1 });
        await eventually(() => w.on(`${prefix}/marker`).length === 1, 'the marker');
        assert.deepEqual(w.got.map((p) => p.topic), [`${prefix}/data`, `${prefix}/marker`], 'no birth, close or will message');
    } finally {
        await w.client.endAsync(true);
    }
});

const catchNode = coreNode('common/25-catch.js');

/** Loads a flow on one tab with the core Catch node (it catches within its tab). */
function loadWithCatch(flow: FlowNode[]): Promise<void> {
    const onTab = [{ id: 'tab', type: 'tab' }, ...flow.map((n) => (n.type === 'broker-config' ? n : { z: 'tab', ...n }))];
    return new Promise((resolve, reject) => helper.load([...allNodes, catchNode], onTab, {}, (err?: Error) => (err ? reject(err) : resolve())));
}

test('MQTT 5: msg.broker on connect replaces the birth message, with its properties; a bad one is refused in words and changes nothing', async () => {
    const prefix = 'mbirth5';
    const w = await witness5(broker().port, prefix);
    try {
        await loadWithCatch([
            externalBroker('b', broker().port, { protocolVersion: '5', birthTopic: `${prefix}/first`, birthPayload: 'first' }),
            { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' },
            { id: 'catcher', type: 'catch', scope: ['out'], uncaught: false, wires: [['caught']] },
            { id: 'caught', type: 'helper' },
        ]);
        const caught = collect('caught');
        await eventually(() => w.on(`${prefix}/first`).length === 1, 'the birth message of the flow');

        const birth = { topic: `${prefix}/second`, payload: { up: true }, qos: 1, retain: false, properties: { contentType: 'application/json', userProperties: { via: 'msg.broker' }, messageExpiryInterval: 60 } };
        getNode('out').receive({ action: 'connect', broker: { force: true, birth } });
        await eventually(() => w.on(`${prefix}/second`).length === 1, 'the birth message of msg.broker');
        const second = w.on(`${prefix}/second`)[0];
        assert.equal(String(second.payload), '{"up":true}');
        assert.equal(second.qos, 1);
        assert.equal(second.properties?.contentType, 'application/json');
        assert.deepEqual(plain(second.properties?.userProperties), { via: 'msg.broker' });
        assert.equal(w.on(`${prefix}/first`).length, 1, 'the old birth message is gone');

        const bad: [Record<string, unknown>, string][] = [
            [{ force: true, birth: { topic: `${prefix}/+` } }, `msg.broker.birth: its topic "${prefix}/+" is invalid: a publish topic cannot contain '+' or '#'`],
            [{ force: true, will: { topic: `${prefix}/will`, properties: { delay: 'soon' } } }, 'msg.broker.will: its will delay must be a whole number from 0 to 4294967295, not "soon"'],
            [{ force: true, close: { topic: `${prefix}/close`, qso: 1 } }, 'mqtt-out.action-errors.broker-unknown-key'],
            [{ force: true, birth: 'online' }, 'mqtt-out.action-errors.broker-bad-value'],
        ];
        for (const [broker] of bad) getNode('out').receive({ action: 'connect', broker });
        await eventually(() => caught.length === bad.length, `${bad.length} caught errors`);
        bad.forEach(([, words], i) => assert.ok(String(caught[i].error.message).includes(words), `"${caught[i].error.message}" says ${words}`));
        assert.equal(getNode('b').connection.connected, true, 'still connected');

        // A reconnect (a redeploy of the broker node) keeps the birth message msg.broker gave for this runtime.
        getNode('out').receive({ action: 'disconnect' });
        await eventually(() => getNode('b').connection.status.state === 'idle', 'disconnected');
        getNode('out').receive({ action: 'connect' });
        await eventually(() => w.on(`${prefix}/second`).length === 2, 'the birth message of msg.broker again');
        assert.equal(w.on(`${prefix}/first`).length, 1);
    } finally {
        await w.client.endAsync(true);
    }
});

test('MQTT 5: msg.broker userProps / userProperties become the CONNECT user properties', async () => {
    await loadFlow([externalBroker('b', broker().port, { protocolVersion: '5', userProps: '{"from":"flow"}' })]);
    const target = getNode('b').targetFor(parseBrokerOverride({ userProperties: { from: 'msg', rack: 7 } }));
    assert.deepEqual(target.client.properties.userProperties, { from: 'msg', rack: '7' });
    assert.deepEqual(getNode('b').targetFor(parseBrokerOverride({ userProps: '{"a":"b"}' })).client.properties.userProperties, { a: 'b' });
    assert.throws(() => getNode('b').targetFor(parseBrokerOverride({ userProps: '{broken' })), /user properties must be a JSON object/);
    await unloadFlow();
});
