/**
 * Birth, close and will messages of a broker-config against a real Mosquitto, on MQTT 3.1.1 and 5,
 * with a foreign MQTT.js client as the witness: the birth after every connect (after the
 * subscriptions: the flow's own mqtt-in hears it) and again after a broker restart; the close message
 * on a clean stop and not on a cut link; the will when the link is cut without DISCONNECT and not on a
 * clean stop; an invalid topic reported in words while the connection works without that message.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as mqtt from 'mqtt';
import { startMosquitto } from '../support/mosquitto';
import { callsOn, collect, eventually, externalBroker, getNode, loadFlow, unloadFlow, useRuntime, waitForStatus, waitForSubscribed } from '../support/node-red';
import { TcpProxy } from '../support/tcp-proxy';

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
            for (const problem of [birthProblem, closeProblem, willProblem]) assert.ok(status.text?.includes(problem), `status "${status.text}" says: ${problem}`);
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
