import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ActionError, IN_ACTIONS, mergeBrokerOverride, OUT_ACTIONS, parseAction, parseBrokerOverride, parseSubscriptions, parseUnsubscriptions } from '../../dist/lib/actions';
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
        assert.deepEqual(parseBrokerOverride({ url: 'mqtt://h:1884', clientid: 'x', username: 'u', password: 'p', force: 'true', sessionExpiryInterval: 60, will: {} }), {
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
        ];
        for (const [value, code] of cases) assert.equal(codeOf(() => parseBrokerOverride(value)), code, JSON.stringify(value));
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

describe('mergeOptions', () => {
    const sub = (options?: { nl?: boolean; rap?: boolean; rh?: 0 | 1 | 2 }) => ({ filter: 'f', qos: 0 as const, options, deliver() {}, refused() {} });
    test('one broker subscription holds back what all of its subscribers hold back, no more', () => {
        assert.equal(mergeOptions([sub(), sub({})]), undefined, 'the defaults are not spelled out');
        assert.deepEqual(mergeOptions([sub({ nl: true, rh: 2 })]), { nl: true, rap: false, rh: 2 });
        assert.deepEqual(mergeOptions([sub({ nl: true, rh: 2 }), sub({ rap: true, rh: 1 })]), { nl: false, rap: true, rh: 1 });
    });
});
