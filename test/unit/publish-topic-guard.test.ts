import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import type { MqttClient } from 'mqtt';
import * as mqttPacket from 'mqtt-packet';
import { guardPublishTopics } from '../../dist/lib/publish-topic-guard';

/** A stream as MQTT.js's streamBuilder returns one, recording what reaches its listeners. */
function fakeStream() {
    const stream = Object.assign(new EventEmitter(), {
        destroyed: false,
        destroy() {
            stream.destroyed = true;
        },
    });
    const passed: Buffer[] = [];
    const events: string[] = [];
    stream.on('data', (chunk: Uint8Array) => passed.push(Buffer.from(chunk)));
    stream.on('close', () => events.push('close'));
    return { stream, passed, events };
}

function guardedClient() {
    const { stream, passed, events } = fakeStream();
    const client = { streamBuilder: () => stream } as unknown as MqttClient;
    const found: string[] = [];
    guardPublishTopics(client, (detail) => found.push(detail));
    const built = (client as unknown as { streamBuilder: (c: MqttClient) => EventEmitter }).streamBuilder(client);
    assert.equal(built, stream, 'the stream MQTT.js gets is the one built');
    return { stream, passed, events, found };
}

const publish = (topic: string): Buffer => mqttPacket.generate({ cmd: 'publish', topic, payload: 'x', qos: 0, dup: false, retain: false });

test('well-formed packets pass through unchanged', () => {
    const { stream, passed, found } = guardedClient();
    const chunk = Buffer.concat([publish('a/b'), publish('c')]);
    stream.emit('data', chunk);
    assert.deepEqual(passed, [chunk]);
    assert.deepEqual(found, []);
    assert.equal(stream.destroyed, false);
});

test('a PUBLISH with a wildcard in its topic name is cut off with what follows it, reported, and the stream closed', () => {
    const { stream, passed, events, found } = guardedClient();
    const good = publish('a/b');
    stream.emit('data', Buffer.concat([good, publish('a/+'), publish('c')]));
    stream.emit('data', publish('d'));
    assert.deepEqual(passed, [good], 'only the packet before it reaches MQTT.js');
    assert.deepEqual(found, ['a PUBLISH topic name with a wildcard (a/+)']);
    assert.equal(stream.destroyed, true);
    stream.emit('close');
    assert.deepEqual(events, ['close'], 'other events still reach MQTT.js');
});

test('a client without streamBuilder (another MQTT.js) is left as it is', () => {
    const client = {} as MqttClient;
    guardPublishTopics(client, () => assert.fail('nothing to check'));
    assert.deepEqual(Object.keys(client), []);
});
