import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as mqttPacket from 'mqtt-packet';
import { decodeRecord, enqueueRecord, RECORD_OVERHEAD, RecordType } from '../../dist/lib/delivery/journal';
import type { OutgoingMessage } from '../../dist/lib/delivery/types';
import { PropertyError, publishPacketSize, publishProperties, readNodeProperties, receivedMsgProperties } from '../../dist/lib/message-properties';

test("a core mqtt-out node's fields become PUBLISH properties", () => {
    const props = readNodeProperties({ userProps: '{"site":"north","n":5}', respTopic: 'reply/here', correl: 'req-1', contentType: 'text/plain', expiry: '60' });
    assert.deepEqual(props, {
        userProperties: { site: 'north', n: '5' },
        responseTopic: 'reply/here',
        correlationData: Buffer.from('req-1'),
        contentType: 'text/plain',
        messageExpiryInterval: 60,
    });
    assert.deepEqual(readNodeProperties({ userProps: '', respTopic: '', correl: '', contentType: '', expiry: '' }), {});
    assert.deepEqual(readNodeProperties({}), {});
});

test("a node field it cannot use is refused with the reason", () => {
    assert.throws(() => readNodeProperties({ userProps: '{not json' }), (err: Error) => err instanceof PropertyError && /user properties are not valid JSON/.test(err.message));
    assert.throws(() => readNodeProperties({ userProps: '[1,2]' }), /user properties must be an object of name: value pairs, not an array/);
    assert.throws(() => readNodeProperties({ expiry: '-5' }), /message expiry must be a whole number from 0 to 4294967295, not "-5"/);
    assert.throws(() => readNodeProperties({ respTopic: 'a/+/b' }), /response topic "a\/\+\/b" is not a valid topic/);
});

test("the node's fields win over the msg's, as in the core node; the msg fills what the node leaves empty", () => {
    const fixed = readNodeProperties({ contentType: 'application/json', expiry: '30' });
    const props = publishProperties(fixed, {
        contentType: 'text/plain',
        messageExpiryInterval: 5,
        userProperties: { a: 'b', n: 1, obj: { x: 1 }, gone: null },
        responseTopic: 'r/t',
        correlationData: Buffer.from([0, 1, 2]),
        payloadFormatIndicator: 'true',
        topicAlias: '3',
    });
    assert.deepEqual(props, {
        contentType: 'application/json',
        messageExpiryInterval: 30,
        userProperties: { a: 'b', n: '1', obj: '{"x":1}' },
        responseTopic: 'r/t',
        correlationData: Buffer.from([0, 1, 2]),
        payloadFormatIndicator: true,
        topicAlias: 3,
    });
    assert.deepEqual(publishProperties({}, { correlationData: 'text' }), { correlationData: Buffer.from('text') });
    assert.deepEqual(publishProperties({}, { userProperties: {} }), {}, 'no pairs: no user properties');
    assert.deepEqual(publishProperties({}, { messageExpiryInterval: 0, payloadFormatIndicator: false }), { messageExpiryInterval: 0, payloadFormatIndicator: false });
});

test('a msg property of the wrong type is refused, naming it and its value', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
        [{ userProperties: 'a=b' }, /^msg\.userProperties must be an object of name: value pairs, not "a=b"$/],
        [{ userProperties: ['a'] }, /^msg\.userProperties must be an object .* not an array$/],
        [{ contentType: 5 }, /^msg\.contentType must be a string, not number 5$/],
        [{ responseTopic: {} }, /^msg\.responseTopic must be a string, not an object$/],
        [{ responseTopic: 'a/#' }, /^msg\.responseTopic "a\/#" is not a valid topic/],
        [{ correlationData: 42 }, /^msg\.correlationData must be a Buffer or a string, not number 42$/],
        [{ messageExpiryInterval: -1 }, /^msg\.messageExpiryInterval must be a whole number from 0 to 4294967295, not number -1$/],
        [{ messageExpiryInterval: 1.5 }, /messageExpiryInterval must be a whole number/],
        [{ messageExpiryInterval: 'soon' }, /messageExpiryInterval must be a whole number .* not "soon"$/],
        [{ messageExpiryInterval: 2 ** 32 }, /messageExpiryInterval must be a whole number/],
        [{ payloadFormatIndicator: 'yes' }, /^msg\.payloadFormatIndicator must be true or false, not "yes"$/],
        [{ topicAlias: 0 }, /^msg\.topicAlias must be a whole number from 1 to 65535, not number 0$/],
        [{ topicAlias: 70000 }, /^msg\.topicAlias must be a whole number from 1 to 65535/],
    ];
    for (const [msg, pattern] of cases) {
        assert.throws(() => publishProperties({}, msg), (err: Error) => err instanceof PropertyError && pattern.test(err.message), JSON.stringify(msg));
    }
});

test('received properties land on the msg under the core names; a repeated user property as the JSON of its values', () => {
    const msg = receivedMsgProperties({
        responseTopic: 'reply',
        correlationData: Buffer.from('c'),
        contentType: 'application/json',
        messageExpiryInterval: 99,
        payloadFormatIndicator: true,
        reasonString: 'why',
        userProperties: { a: 'b', twice: ['x', 'y'] },
    });
    assert.deepEqual(msg, {
        responseTopic: 'reply',
        correlationData: Buffer.from('c'),
        contentType: 'application/json',
        messageExpiryInterval: 99,
        payloadFormatIndicator: true,
        reasonString: 'why',
        userProperties: { a: 'b', twice: '["x","y"]' },
    });
    assert.deepEqual(receivedMsgProperties(undefined), {});
    assert.deepEqual(receivedMsgProperties({}), {});
});

test("publishPacketSize is the length of the packet mqtt-packet writes", () => {
    const props = {
        userProperties: { site: 'north', 'ключ': 'значение' },
        responseTopic: 'r/t',
        correlationData: Buffer.from([1, 2, 3]),
        contentType: 'text/plain',
        messageExpiryInterval: 60,
        payloadFormatIndicator: true,
        topicAlias: 2,
    };
    for (const length of [0, 1, 100, 127, 128, 16383, 16384, 2097151, 2097152]) {
        for (const qos of [0, 1, 2] as const) {
            for (const [version, properties] of [[4, undefined], [5, {}], [5, props]] as const) {
                const payload = Buffer.alloc(length, 7);
                const packet = { cmd: 'publish', topic: 'top/ïc', payload, qos, retain: false, dup: false, messageId: qos ? 1 : undefined, properties } as mqttPacket.IPublishPacket;
                const written = mqttPacket.generate(packet, { protocolVersion: version }).length;
                assert.equal(publishPacketSize('top/ïc', length, qos, properties), written, `MQTT ${version}, QoS ${qos}, ${length} bytes, ${properties ? Object.keys(properties).length : 'no'} properties`);
            }
        }
    }
});

test('a queued message keeps its properties through the journal, and a record without them still reads', () => {
    const message: OutgoingMessage = {
        topic: 't',
        payload: Buffer.from('p'),
        qos: 1,
        retain: false,
        properties: { correlationData: Buffer.from([0, 255]), userProperties: { a: 'b' }, messageExpiryInterval: 10, contentType: 'c', responseTopic: 'r', payloadFormatIndicator: true },
    };
    const body = (record: Buffer): Buffer => record.subarray(RECORD_OVERHEAD);
    const decoded = decodeRecord(body(enqueueRecord(5, message)));
    assert.equal(decoded.type, RecordType.Enqueue);
    assert.deepEqual((decoded as { message: OutgoingMessage }).message, message);
    assert.ok(Buffer.isBuffer((decoded as { message: OutgoingMessage }).message.properties?.correlationData));
    const plain = decodeRecord(body(enqueueRecord(6, { topic: 't', payload: Buffer.from('p'), qos: 2, retain: true })));
    assert.deepEqual((plain as { message: OutgoingMessage }).message, { topic: 't', payload: Buffer.from('p'), qos: 2, retain: true });
});
