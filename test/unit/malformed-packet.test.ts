/**
 * A PUBLISH from the broker with a malformed Topic Name (MQTT 5.0 sections 1.5.4 and 3.3.2.1) is found
 * in the raw bytes; the parser errors of mqtt-packet are told in words.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as mqttPacket from 'mqtt-packet';
import { describeConnectionError } from '../../dist/index';
import { describeParserError } from '../../dist/lib/errors';
import { PublishTopicCheck, publishTopicProblem } from '../../dist/lib/malformed-packet';

const bytes = (...list: number[]): Buffer => Buffer.from(list);
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

describe('publishTopicProblem', () => {
    test('well-formed names without wildcards or U+0000 are fine', () => {
        for (const name of ['a', 'f1/ok', '$SYS/broker', 'ü/€/𝄞', '\uFEFFbom', 'sp ace', '\u0001\u007f\uffff']) {
            assert.equal(publishTopicProblem(utf8(name)), null, name);
        }
        // U+FFFD sent as its own well-formed bytes EF BF BD.
        assert.equal(publishTopicProblem(bytes(0x66, 0x31, 0x2f, 0xef, 0xbf, 0xbd)), null);
    });

    test('wildcards, U+0000 and ill-formed UTF-8 are malformed', () => {
        assert.equal(publishTopicProblem(utf8('f1/#')), 'a PUBLISH topic name with a wildcard (f1/#)');
        assert.equal(publishTopicProblem(utf8('f1/+')), 'a PUBLISH topic name with a wildcard (f1/+)');
        assert.equal(publishTopicProblem(utf8('f1/a+b')), 'a PUBLISH topic name with a wildcard (f1/a+b)');
        assert.equal(publishTopicProblem(utf8('f1/\u0000')), 'a PUBLISH topic name with U+0000');
        const invalid = 'a PUBLISH topic name that is not valid UTF-8';
        assert.equal(publishTopicProblem(bytes(0x66, 0x31, 0x2f, 0xff, 0xfe)), invalid);
        // A 4-byte sequence cut short decodes to one U+FFFD of the same byte length: still found.
        assert.equal(publishTopicProblem(bytes(0xf0, 0x9f, 0x98, 0x41)), invalid);
        assert.equal(publishTopicProblem(bytes(0xed, 0xa0, 0x80)), invalid, 'an encoded surrogate');
        assert.equal(publishTopicProblem(bytes(0xc0, 0xaf)), invalid, 'an overlong encoding');
        assert.equal(publishTopicProblem(bytes(0xe2, 0x82)), invalid, 'a sequence cut off at the end');
        assert.equal(publishTopicProblem(bytes(0x80)), invalid, 'a lone continuation byte');
    });
});

describe('PublishTopicCheck', () => {
    const v4 = { protocolVersion: 4 } as const;
    const publish = (topic: string | Buffer, extra: Record<string, unknown> = {}, opts: object = v4): Buffer =>
        mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.from('p'), qos: 0, retain: false, dup: false, ...extra } as mqttPacket.IPublishPacket, opts as never);
    const connack = mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false } as mqttPacket.IConnackPacket);
    const suback = mqttPacket.generate({ cmd: 'suback', messageId: 1, granted: [1] } as mqttPacket.ISubackPacket);
    const pingresp = mqttPacket.generate({ cmd: 'pingresp' } as mqttPacket.IPingrespPacket);

    /** Feeds `stream` in chunks of `size`; returns how many bytes go on before the malformed packet, and its detail. */
    function feed(stream: Buffer, size: number): { passed: number; detail: string | null } {
        const check = new PublishTopicCheck();
        let passed = 0;
        for (let at = 0; at < stream.length; at += size) {
            const chunk = stream.subarray(at, at + size);
            const found = check.scan(chunk);
            if (found) return { passed: passed + found.before, detail: found.detail };
            passed += chunk.length;
        }
        return { passed, detail: null };
    }

    const good = Buffer.concat([
        connack,
        suback,
        publish('f1/ok', { qos: 1, messageId: 7 }),
        publish(bytes(0x66, 0x31, 0x2f, 0xef, 0xbf, 0xbd)),
        pingresp,
        publish('big', { qos: 2, messageId: 8, payload: Buffer.alloc(300000, 0x23) }), // '#' in the payload is fine
        publish('', { properties: { topicAlias: 3 } }, { protocolVersion: 5 }),
        publish('v5/t', { qos: 1, messageId: 9, properties: { userProperties: { k: 'v' }, contentType: 'text/plain' } }, { protocolVersion: 5 }),
    ]);

    test('a stream of good packets passes whole, in any chunk size', () => {
        for (const size of [1, 2, 3, 7, 64, 1000, good.length]) assert.deepEqual(feed(good, size), { passed: good.length, detail: null }, `chunks of ${size}`);
    });

    for (const [what, bad, detail] of [
        ["'#'", publish('f1/#', { qos: 1, messageId: 2 }), 'a PUBLISH topic name with a wildcard (f1/#)'],
        ["'+'", publish('f1/+'), 'a PUBLISH topic name with a wildcard (f1/+)'],
        ['U+0000', publish('f1/\u0000'), 'a PUBLISH topic name with U+0000'],
        ['ill-formed UTF-8', publish(bytes(0x66, 0x31, 0x2f, 0xff, 0xfe), { qos: 2, messageId: 3 }), 'a PUBLISH topic name that is not valid UTF-8'],
    ] as [string, Buffer, string][]) {
        test(`a PUBLISH with ${what}: found, and it never passes whole, in any chunk size`, () => {
            const stream = Buffer.concat([good, bad, publish('after')]);
            // In one chunk: exactly the packets before it pass.
            assert.deepEqual(feed(stream, stream.length), { passed: good.length, detail });
            for (const size of [1, 2, 5, 13, 100]) {
                const { passed, detail: found } = feed(stream, size);
                assert.equal(found, detail, `chunks of ${size}`);
                // Chunks passed before the one that completes its Topic Name may hold its first bytes.
                assert.ok(passed >= good.length && passed < good.length + bad.length - 1, `chunks of ${size}: ${passed} bytes passed`);
            }
        });
    }

    test('after a malformed PUBLISH it reports nothing more', () => {
        const check = new PublishTopicCheck();
        assert.ok(check.scan(publish('f1/#')));
        assert.equal(check.scan(publish('f1/#')), null);
    });
});

describe("mqtt-packet's parser errors", () => {
    test('in words, as a malformed-packet reason', () => {
        const qos3 = describeConnectionError(new Error('Packet must not have both QoS bits set to 1'), 'h:1883');
        assert.equal(qos3.code, 'malformed-packet');
        assert.equal(qos3.text, 'the broker sent a malformed packet: a PUBLISH with QoS 3');
        assert.equal(describeParserError('Invalid header flag bits, must be 0x0 for connack packet'), 'a CONNACK with reserved header flags set wrong');
        assert.equal(describeParserError('Invalid suback code'), 'a packet that cannot be parsed (Invalid suback code)');
        assert.equal(describeParserError('Cannot parse topic'), 'a packet that cannot be parsed (Cannot parse topic)');
        assert.equal(describeParserError('Invalid variable byte integer'), 'a packet that cannot be parsed (Invalid variable byte integer)');
    });

    test("MQTT.js's own errors and socket errors keep their reasons", () => {
        assert.equal(describeParserError('connack timeout'), null);
        assert.equal(describeParserError('Packet has no Authentication Method'), null);
        assert.equal(describeConnectionError(new Error('Keepalive timeout'), 'h:1883').code, 'timeout');
        assert.equal(describeConnectionError(Object.assign(new Error('Invalid x'), { code: 'ECONNRESET' }), 'h:1883').code, 'connection-reset');
        assert.equal(describeConnectionError(new Error('something else'), 'h:1883').code, 'other');
    });
});
