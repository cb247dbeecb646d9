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
