/**
 * The durable store's send barrier wraps one internal function of MQTT.js (Connection
 * installSendBarrier). Without it the package still works, syncing before each put callback, but
 * QoS 2 with the durable store becomes several times slower: an MQTT.js upgrade that renames it
 * must show up here, not in a user's throughput.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as mqtt from 'mqtt';

test("MQTT.js writes every packet through MqttClient.prototype._writePacket(packet, cb)", () => {
    const write = (mqtt.MqttClient.prototype as unknown as { _writePacket?: unknown })._writePacket;
    assert.equal(typeof write, 'function');
    assert.equal((write as (...args: unknown[]) => unknown).length, 2);
});

// Connection installTopicCheck checks the raw bytes of each stream before MQTT.js parses them: without
// this hook a malformed PUBLISH topic name would reach the flow again.
test('MQTT.js makes the stream of each connection with its streamBuilder field, read at connect()', () => {
    const { Duplex } = require('node:stream') as typeof import('node:stream');
    let built = 0;
    const client = new mqtt.MqttClient(() => new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } }), { manualConnect: true });
    const internals = client as unknown as { streamBuilder: (c: unknown) => unknown };
    const build = internals.streamBuilder;
    assert.equal(typeof build, 'function');
    internals.streamBuilder = (c) => {
        built++;
        return build(c);
    };
    client.connect();
    assert.equal(built, 1);
    client.end(true);
});
