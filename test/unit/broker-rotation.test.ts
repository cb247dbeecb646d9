import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as mqtt from 'mqtt';
import { resolveBrokerEndpoints } from '../../dist/lib/broker-list';
import { BrokerRotation, pointClientAt } from '../../dist/lib/broker-rotation';
import { PacketMap } from '../../dist/lib/delivery/packet-map';
import { brokerProblem, propertyProblem, resolveBrokerSettings } from '../../dist/lib/broker-settings';
import { parseBrokerOverride, mergeBrokerOverride } from '../../dist/lib/actions';

const three = resolveBrokerEndpoints({ broker: 'a.example\nmqtts://b.example:8884\n\n  c.example  ', port: 1884 });

test('the Broker field: one broker a line, each read as a single field would be', () => {
    assert.deepEqual(
        three.map((b) => b.url),
        ['mqtt://a.example:1884', 'mqtts://b.example:8884', 'mqtt://c.example:1884'],
    );
    assert.deepEqual(three.map((b) => b.address), ['a.example:1884', 'b.example:8884', 'c.example:1884']);
    // The settings are the first broker's.
    assert.equal(resolveBrokerSettings({ broker: 'a.example\nb.example', port: 1884 }).address, 'a.example:1884');
    // The embedded broker listens on one address.
    assert.deepEqual(resolveBrokerEndpoints({ mode: 'embedded', broker: '127.0.0.1\n0.0.0.0', port: 1885 }).map((b) => b.address), ['127.0.0.1:1885']);
});

test('every line is checked, by the runtime and by the dialog', () => {
    assert.throws(() => resolveBrokerEndpoints({ broker: 'a.example\nfoo://b.example' }), /unknown scheme "foo"/);
    assert.equal(brokerProblem('a.example\nfoo://b.example', 'external')?.code, 'broker-scheme');
    assert.equal(brokerProblem('a.example\nb example', 'external')?.code, 'broker-space');
    assert.equal(brokerProblem('a.example\n\nb.example', 'external'), null);
    assert.equal(brokerProblem('127.0.0.1\n0.0.0.0', 'embedded')?.code, 'embedded-list');
    // The Port field serves the lines that are not URLs.
    assert.equal(propertyProblem('port', { broker: 'mqtt://a:1\nmqtt://b:2', port: 'x' }), null);
    assert.equal(propertyProblem('port', { broker: 'mqtt://a:1\nb', port: 'x' })?.code, 'port');
});

test('msg.broker.broker (or .url) may list several brokers', () => {
    const override = parseBrokerOverride({ broker: ['mqtt://a:1', 'mqtt://b:2'] });
    assert.ok(override);
    const merged = mergeBrokerOverride({ broker: 'old' }, {}, override);
    assert.deepEqual(resolveBrokerEndpoints(merged.props).map((b) => b.address), ['a:1', 'b:2']);
    assert.equal(parseBrokerOverride({ url: 'mqtt://a:1' })?.props.broker, 'mqtt://a:1');
    assert.throws(() => parseBrokerOverride({ broker: [] }), /msg.broker.broker cannot be \[\]/);
    assert.throws(() => parseBrokerOverride({ broker: ['a', 2] }), /msg.broker.broker cannot be/);
});

test('round robin: the next broker at once, the backoff only after every broker has failed in turn', () => {
    const rotation = new BrokerRotation(three);
    assert.equal(rotation.current.host, 'a.example');
    assert.equal(rotation.failed(), 'at-once');
    assert.equal(rotation.current.host, 'b.example');
    assert.equal(rotation.failed(), 'at-once');
    assert.equal(rotation.current.host, 'c.example');
    assert.equal(rotation.failed(), 'after-backoff');
    assert.equal(rotation.current.host, 'a.example');
    assert.equal(rotation.failures, 3);
    // b accepts the client; when it is lost, c is tried at once, and the round ends back at b.
    rotation.failed();
    rotation.reset();
    assert.equal(rotation.failures, 0);
    assert.equal(rotation.current.host, 'b.example');
    assert.deepEqual([rotation.failed(), rotation.failed(), rotation.failed()], ['at-once', 'at-once', 'after-backoff']);
    assert.equal(rotation.current.host, 'b.example');
});

test('one broker needs no rotation', () => {
    assert.equal(BrokerRotation.of(undefined, new PacketMap()), null);
    assert.equal(BrokerRotation.of(three.slice(0, 1), new PacketMap()), null);
    assert.ok(BrokerRotation.of(three, new PacketMap()));
    assert.throws(() => new BrokerRotation([]));
});

test('pointClientAt: the MQTT.js client reconnects to the new host, port and protocol, with a TLS server name of its own', () => {
    const client = mqtt.connect('mqtts://a.example:8883', { manualConnect: true, reconnectPeriod: 0 });
    const options = client.options as Record<string, unknown>;
    // As MQTT.js's TLS stream builder leaves it after a connection to a.example.
    options.servername = 'a.example';
    pointClientAt(client, resolveBrokerEndpoints({ broker: 'mqtt://x\nwss://b.example:9443/ws' })[1], undefined);
    assert.deepEqual([options.protocol, options.host, options.hostname, options.port, options.path, options.servername], ['wss', 'b.example', 'b.example', 9443, '/ws', undefined]);
    pointClientAt(client, three[0], 'given.example');
    assert.deepEqual([options.protocol, options.hostname, options.port, options.path, options.servername], ['mqtt', 'a.example', 1884, undefined, 'given.example']);
});

test('QoS 2 across a change of broker: a message the lost broker acknowledged (PUBREC) goes to the next one as a PUBLISH again', () => {
    const outgoing = new PacketMap();
    const rotation = BrokerRotation.of(three, outgoing);
    assert.ok(rotation);
    const publish = (messageId: number, qos: 1 | 2) => ({ cmd: 'publish' as const, messageId, qos, dup: false, retain: false, topic: `t/${messageId}`, payload: Buffer.from(String(messageId)) });
    const stored = (messageId: number) => {
        let found: { cmd: string; payload?: Buffer } | undefined;
        outgoing.get({ messageId }, (_err, packet) => (found = packet as typeof found));
        return found;
    };
    const noop = () => undefined;
    outgoing.put(publish(1, 2), noop);
    outgoing.put({ cmd: 'pubrel', messageId: 1 }, noop);
    outgoing.put(publish(2, 2), noop); // no PUBREC yet: MQTT.js sends this PUBLISH again anyway
    outgoing.put(publish(3, 1), noop);
    outgoing.put(publish(4, 2), noop);
    outgoing.put({ cmd: 'pubrel', messageId: 4 }, noop);
    outgoing.del({ messageId: 4 }, noop); // complete (PUBCOMP): forgotten
    const client = mqtt.connect('mqtt://a.example', { manualConnect: true, reconnectPeriod: 0 });
    rotation.moveOn(client, undefined);
    assert.equal(stored(1)?.cmd, 'publish');
    assert.equal(String(stored(1)?.payload), '1');
    assert.equal(stored(2)?.cmd, 'publish');
    assert.equal(stored(3)?.cmd, 'publish');
    assert.equal(stored(4), undefined);
    assert.deepEqual(outgoing.messageIds(), [1, 2, 3], 'the order MQTT.js sends them in is kept');
});
