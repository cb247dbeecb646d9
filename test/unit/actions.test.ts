import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ActionError, describeSubscription, IN_ACTIONS, mergeBrokerOverride, OUT_ACTIONS, parseAction, parseBrokerOverride, parseSubscriptions, parseUnsubscriptions } from '../../dist/lib/actions';
import { readLifecycleMessages } from '../../dist/lib/lifecycle-messages';
import { resolveBrokerSettings } from '../../dist/lib/broker-settings';
import { mergeOptions } from '../../dist/lib/subscriptions';

/** The code of the ActionError `run` throws. */
function codeOf(run: () => unknown): string {
    try {
        run();
    } catch (err) {
        assert.ok(err instanceof ActionError, `an ActionError, not ${err}`);
        return err.code;
    }
    assert.fail('no error thrown');
}

describe('parseAction', () => {
    test('takes the core names, each node its own', () => {
        assert.equal(parseAction('getSubscriptions', IN_ACTIONS), 'getSubscriptions');
        assert.equal(parseAction('connect', OUT_ACTIONS), 'connect');
        for (const bad of ['subscribe', 'Connect', '', undefined, 1, {}]) assert.equal(codeOf(() => parseAction(bad, OUT_ACTIONS)), 'unknown-action', String(bad));
    });
});

describe('parseSubscriptions', () => {
    test("a string, an object or an array of them, with the core's defaults", () => {
        assert.deepEqual(parseSubscriptions('a/+'), [{ topic: 'a/+', qos: 2, rap: true, rh: 0 }]);
        assert.deepEqual(parseSubscriptions([{ topic: 'b/#', qos: '1', nl: 'true', rap: false, rh: '2' }, 'c']), [
            { topic: 'b/#', qos: 1, nl: true, rap: false, rh: 2 },
            { topic: 'c', qos: 2, rap: true, rh: 0 },
        ]);
        assert.deepEqual(parseSubscriptions([]), []);
    });

    test('refuses bad filters, QoS and options, and any list that holds one', () => {
        const cases: [unknown, string][] = [
            ['a/#/b', 'invalid-topic'],
            ['', 'invalid-topic'],
            [{ qos: 1 }, 'invalid-topic'],
            [['ok', 'x+'], 'invalid-topic'],
            [42, 'bad-subscription'],
            [undefined, 'bad-subscription'],
            [[7], 'bad-subscription'],
            [{ topic: 'a', qos: 3 }, 'invalid-qos'],
            [{ topic: 'a', qos: 1.5 }, 'invalid-qos'],
            [{ topic: 'a', rh: 3 }, 'invalid-option'],
            [{ topic: 'a', rap: 'yes' }, 'invalid-option'],
            [{ topic: 'a', nl: 1 }, 'invalid-option'],
        ];
        for (const [topic, code] of cases) assert.equal(codeOf(() => parseSubscriptions(topic)), code, JSON.stringify(topic));
    });

    test("a datatype of the core's names is the subscription's own; empty leaves the node's; another is refused in words", () => {
        assert.deepEqual(parseSubscriptions([{ topic: 'j', datatype: 'json' }, { topic: 'b', datatype: 'buffer', qos: 1 }, { topic: 'n', datatype: '' }]), [
            { topic: 'j', qos: 2, rap: true, rh: 0, datatype: 'json' },
            { topic: 'b', qos: 1, rap: true, rh: 0, datatype: 'buffer' },
            { topic: 'n', qos: 2, rap: true, rh: 0 },
        ]);
        for (const datatype of ['auto-detect', 'auto', 'utf8', 'base64']) assert.equal(parseSubscriptions({ topic: 't', datatype })[0].datatype, datatype);
        for (const datatype of ['JSON', 'text', 3, true, {}]) assert.equal(codeOf(() => parseSubscriptions(['ok', { topic: 't', datatype }])), 'invalid-datatype', String(datatype));
        assert.throws(() => parseSubscriptions({ topic: 't', datatype: 'string' }), /^ActionError: datatype must be auto-detect, auto, utf8, buffer, json or base64, not "string"$/);
    });

    test('getSubscriptions lists a datatype given, on either MQTT version, as the core node does', () => {
        const [withType, without] = parseSubscriptions([{ topic: 'a', qos: 1, datatype: 'json' }, 'b']);
        assert.deepEqual(describeSubscription(withType, false), { topic: 'a', qos: 1, datatype: 'json' });
        assert.deepEqual(describeSubscription(withType, true), { topic: 'a', qos: 1, rh: 0, rap: true, datatype: 'json' });
        assert.deepEqual(describeSubscription(without, false), { topic: 'b', qos: 2 });
    });
});

describe('parseUnsubscriptions', () => {
    test('a filter, a list, objects with topic, or true for all', () => {
        assert.equal(parseUnsubscriptions(true), true);
        assert.deepEqual(parseUnsubscriptions('a/#'), ['a/#']);
        assert.deepEqual(parseUnsubscriptions(['a', { topic: 'b/+' }]), ['a', 'b/+']);
        assert.equal(codeOf(() => parseUnsubscriptions(false)), 'bad-subscription');
        assert.equal(codeOf(() => parseUnsubscriptions(['a#'])), 'invalid-topic');
    });
});

describe('parseBrokerOverride', () => {
    test('reads the core keys it acts on, leaves the unsupported core keys alone', () => {
        assert.equal(parseBrokerOverride(undefined), null);
        assert.deepEqual(parseBrokerOverride({ url: 'mqtt://h:1884', clientid: 'x', username: 'u', password: 'p', force: 'true', sessionExpiryInterval: 60, compatmode: true }), {
            props: { broker: 'mqtt://h:1884', clientid: 'x', sessionExpiry: 60 },
            username: 'u',
            password: 'p',
            force: true,
        });
    });

    test('refuses what is not an object, unknown keys and values of the wrong kind', () => {
        const cases: [unknown, string][] = [
            ['mqtt://h', 'broker-not-object'],
            [[1], 'broker-not-object'],
            [{ prot: 1 }, 'broker-unknown-key'],
            [{ port: 'abc' }, 'broker-bad-value'],
            [{ port: '' }, 'broker-bad-value'],
            [{ broker: 5 }, 'broker-bad-value'],
            [{ cleansession: 'maybe' }, 'broker-bad-value'],
            [{ protocolVersion: 6 }, 'broker-bad-value'],
            [{ force: 1 }, 'broker-bad-value'],
            [{ birth: 'online' }, 'broker-bad-value'],
            [{ will: [] }, 'broker-bad-value'],
            [{ close: { topic: 'c', qso: 1 } }, 'broker-unknown-key'],
            [{ userProps: 5 }, 'broker-bad-value'],
            [{ userProperties: ['a'] }, 'broker-bad-value'],
        ];
        for (const [value, code] of cases) assert.equal(codeOf(() => parseBrokerOverride(value)), code, JSON.stringify(value));
    });

    test('a password of the wrong kind is refused by its key alone: its value is in neither the text nor the params', () => {
        for (const password of [987654321, ['s3cr3t-in-a-list'], { pin: 424242 }]) {
            let caught: unknown;
            assert.throws(() => parseBrokerOverride({ password }), (err) => ((caught = err), true));
            const err = caught as ActionError;
            assert.equal(err.code, 'broker-bad-secret');
            assert.deepEqual(err.params, { key: 'password' });
            assert.doesNotMatch(err.message, /987654321|s3cr3t|424242/);
        }
    });

    test('merged over the node: resolved by the broker settings rules, credentials replaced only when given', () => {
        const config = { broker: '127.0.0.1', port: '1883', protocolVersion: '4' };
        const merged = mergeBrokerOverride(config, { user: 'node-user', password: 'node-pw' }, parseBrokerOverride({ port: 1884, protocolVersion: 5, password: 'new' }) as any);
        assert.deepEqual(merged.credentials, { user: 'node-user', password: 'new' });
        const settings = resolveBrokerSettings(merged.props);
        assert.equal(settings.url, 'mqtt://127.0.0.1:1884');
        assert.equal(settings.protocolVersion, 5);
        assert.throws(() => resolveBrokerSettings(mergeBrokerOverride(config, {}, parseBrokerOverride({ port: 70000 }) as any).props), /port must be a whole number/);
        assert.equal(codeOf(() => mergeBrokerOverride({ mode: 'embedded' }, {}, { props: {}, force: false })), 'broker-embedded');
    });
});

describe('msg.broker birth, close, will and user properties', () => {
    const config = { broker: '127.0.0.1', protocolVersion: '5', birthTopic: 'old/birth', birthPayload: 'old', birthQos: '1', closeTopic: 'old/close', willTopic: 'old/will' };

    test("each replaces the node's whole message, with its MQTT 5 properties under the core's names; null or {} turns it off", () => {
        const override = parseBrokerOverride({
            birth: { topic: 'new/birth', payload: { up: true }, qos: 2, retain: 'true', properties: { contentType: 'application/json', userProperties: { site: 'north' } } },
            close: null,
            will: { topic: 'new/will', payload: 'lost', properties: { respTopic: 'new/reply', correlationData: Buffer.from('c1'), expiry: '60', delay: 5 } },
        })!;
        const merged = mergeBrokerOverride(config, {}, override).props;
        const read = readLifecycleMessages(merged, true);
        assert.deepEqual(read.problems, []);
        assert.deepEqual(read.birth, {
            topic: 'new/birth',
            payload: Buffer.from('{"up":true}'),
            qos: 2,
            retain: true,
            properties: { contentType: 'application/json', userProperties: { site: 'north' } },
        });
        assert.equal(read.close, null, 'close: null turns it off');
        assert.deepEqual(read.will, {
            topic: 'new/will',
            payload: Buffer.from('lost'),
            qos: 0,
            retain: false,
            properties: { responseTopic: 'new/reply', correlationData: Buffer.from('c1'), messageExpiryInterval: 60 },
            delayInterval: 5,
        });
        const untouched = readLifecycleMessages(mergeBrokerOverride(config, {}, parseBrokerOverride({ will: {} })!).props, true);
        assert.equal(untouched.birth?.topic, 'old/birth', 'a message msg.broker does not name stays');
        assert.equal(untouched.will, null, 'will: {} turns it off');
    });

    test('bad values inside are read where the flow\'s are: a problem in words', () => {
        const problems = readLifecycleMessages(
            mergeBrokerOverride(config, {}, parseBrokerOverride({ birth: { topic: 'a/+' }, close: { topic: 'c', qos: 3 }, will: { topic: 'w', properties: { expiry: -1 } } })!).props,
            true,
        ).problems;
        assert.deepEqual(
            problems.map((p) => p.detail),
            [
                `its topic "a/+" is invalid: a publish topic cannot contain '+' or '#' - subscribe with mqtt-in to use wildcards`,
                'its QoS must be 0, 1 or 2, not "3"',
                'its message expiry must be a whole number from 0 to 4294967295, not number -1',
            ],
        );
    });

    test('userProps and userProperties: a JSON text or an object, userProperties winning as in the core node', () => {
        assert.deepEqual(parseBrokerOverride({ userProps: '{"a":"1"}' })!.props, { userProps: '{"a":"1"}' });
        assert.deepEqual(parseBrokerOverride({ userProperties: { b: 2 } })!.props, { userProps: '{"b":2}' });
        assert.deepEqual(parseBrokerOverride({ userProps: '{"a":"1"}', userProperties: '{"c":"3"}' })!.props, { userProps: '{"c":"3"}' });
        assert.deepEqual(parseBrokerOverride({ userProperties: '{"c":"3"}', userProps: '{"a":"1"}' })!.props, { userProps: '{"c":"3"}' });
        const settings = resolveBrokerSettings(mergeBrokerOverride({ protocolVersion: '5', userProps: '{"old":"x"}' }, {}, parseBrokerOverride({ userProperties: { rack: 7 } })!).props);
        assert.deepEqual(settings.connectUserProperties, { rack: '7' });
        assert.throws(() => resolveBrokerSettings(mergeBrokerOverride({ protocolVersion: '5' }, {}, parseBrokerOverride({ userProps: '{broken' })!).props), /user properties must be a JSON object/);
    });
});

describe('mergeOptions', () => {
    const sub = (options?: { nl?: boolean; rap?: boolean; rh?: 0 | 1 | 2 }) => ({ filter: 'f', qos: 0 as const, options, deliver() {}, refused() {} });
    test('one broker subscription holds back what all of its subscribers hold back, no more', () => {
        assert.equal(mergeOptions([sub(), sub({})]), undefined, 'the defaults are not spelled out');
        assert.deepEqual(mergeOptions([sub({ nl: true, rh: 2 })]), { nl: true, rap: false, rh: 2 });
        assert.deepEqual(mergeOptions([sub({ nl: true, rh: 2 }), sub({ rap: true, rh: 1 })]), { nl: false, rap: true, rh: 1 });
    });
});
