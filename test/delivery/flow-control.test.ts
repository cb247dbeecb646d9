/**
 * Flow control: 20,000 QoS 2 messages relayed mqtt-in -> mqtt-out as fast as they come, against a
 * Mosquitto with its default in-flight limit (max_inflight_messages 20, sent to MQTT 5 clients as
 * Receive Maximum): none lost, none duplicated, and never more than 20 in flight.
 *
 * One default is lifted: max_queued_messages (1000 per client). With it, Mosquitto drops what it
 * queues for a subscriber that falls more than 1000 messages behind (measured here: the witness
 * subscriber lost 1,000-4,000 of 20,000 when the relay's output came in bursts). That is the
 * broker's policy for slow subscribers; this test is about the publishing side.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as mqtt from 'mqtt';
import { startMosquitto } from '../support/mosquitto';
import { eventually, externalBroker, getNode, loadFlow, waitForStatus, waitForSubscribed, useRuntime } from '../support/node-red';
import { Witness } from '../support/witness';

const COUNT = 20000;
const broker = useRuntime(() => startMosquitto({ extraConfig: ['max_queued_messages 0'] }));

for (const version of ['4', '5'] as const) {
    test(`MQTT ${version === '4' ? '3.1.1' : '5'}: ${COUNT} QoS 2 messages relayed at full speed, none lost, none duplicated`, async () => {
        const id = `relay-${version}-${Date.now()}`;
        await loadFlow([
            externalBroker('b', broker().port, { clientid: id, cleansession: false, protocolVersion: version, queueLimit: '50000', durable: 'off' }),
            { id: 'in', type: 'mqtt-in', broker: 'b', topic: `relay/${id}/in`, qos: '2', datatype: 'utf8', wires: [['out']] },
            { id: 'out', type: 'mqtt-out', broker: 'b', topic: `relay/${id}/out`, qos: '2', retain: '' },
        ]);
        const errors: string[] = [];
        getNode('out').on('call:error', (call: { args: unknown[] }) => errors.push(String(call.args[0])));
        let mostInFlight = 0;
        const sampler = setInterval(() => (mostInFlight = Math.max(mostInFlight, getNode('b').connection.delivery.inFlight)), 5);
        await waitForStatus('in', (s) => s.fill === 'green', 'connected');
        await waitForSubscribed('b', `relay/${id}/in`);
        const witness = await Witness.start(broker().port, `relay/${id}/out`, { qos: 2, protocolVersion: version === '5' ? 5 : 4 });
        const publisher = await mqtt.connectAsync(broker().url, { protocolVersion: version === '5' ? 5 : 4, clientId: `${id}-pub`, clean: false });
        // The publisher keeps its own window of 20 (Mosquitto's limit) so the input side loses nothing.
        let next = 1;
        const sender = async () => {
            while (next <= COUNT) {
                const seq = next++;
                await publisher.publishAsync(`relay/${id}/in`, String(seq), { qos: 2 });
            }
        };
        await Promise.all(Array.from({ length: 20 }, sender));
        await publisher.endAsync();
        const topic = `relay/${id}/out`;
        await eventually(() => witness.distinct(topic) >= COUNT || errors.length > 0, `${COUNT} relayed (have ${witness.distinct(topic)})`, 120000);
        // Time for duplicates to show up at the witness, if any were coming.
        await new Promise((r) => setTimeout(r, 300));
        clearInterval(sampler);
        await witness.stop();
        assert.ok(mostInFlight > 0 && mostInFlight <= 20, `in flight at most 20 (saw ${mostInFlight})`);
        assert.deepEqual(errors, [], 'no publish failed');
        const { missing, duplicates } = witness.check(topic, COUNT);
        assert.equal(missing.length, 0, `missing ${missing.length}, first ${missing.slice(0, 5)}`);
        assert.equal(duplicates, 0, 'QoS 2: no duplicates');
    });
}
