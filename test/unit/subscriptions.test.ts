import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoredSubscription } from '../../dist/lib/delivery/types';
import type { QoS } from '../../dist/lib/subscription-plan';
import { InboundMessage, PublishHeader, Subscriber, SubscriptionRecord, Subscriptions } from '../../dist/lib/subscriptions';

interface TestSubscriber extends Subscriber {
    received: InboundMessage[];
    refusals: string[];
}

function subscriber(filter: string, qos: QoS = 1): TestSubscriber {
    const received: InboundMessage[] = [];
    const refusals: string[] = [];
    return { filter, qos, received, refusals, deliver: (m) => received.push(m), refused: (why) => refusals.push(why) };
}

/** Subscriptions on a connection that is up: MQTT 5 with identifiers, or 3.1.1 without. */
function connected(version: 5 | 4, record?: SubscriptionRecord, sessionPresent = false) {
    const subs = new Subscriptions(record);
    subs.sessionStarted(sessionPresent, version === 5);
    return subs;
}

function memoryRecord(initial: StoredSubscription[] = []) {
    const saves: StoredSubscription[][] = [];
    return { saves, loadSubscriptions: () => initial, saveSubscriptions: (s: StoredSubscription[]) => saves.push(s) };
}

const header = (qos: QoS, subscriptionIdentifier?: number | number[]): PublishHeader => ({
    qos,
    retain: false,
    properties: subscriptionIdentifier === undefined ? undefined : { subscriptionIdentifier },
});
const noFailure = (err: unknown) => assert.fail(`a subscriber threw: ${String(err)}`);

test('one SUBSCRIBE per distinct filter at the highest QoS wanted, and nothing again once the broker holds it', () => {
    const subs = connected(5);
    subs.add(subscriber('a/+', 0));
    subs.add(subscriber('a/+', 2));
    subs.add(subscriber('b', 1));
    assert.deepEqual(subs.reconcile(), {
        unsubscribe: [],
        subscribe: [
            { filter: 'a/+', qos: 2, id: 1 },
            { filter: 'b', qos: 1, id: 2 },
        ],
    });
    assert.deepEqual(subs.reconcile(), { unsubscribe: [], subscribe: [] });
    assert.deepEqual(subs.brokerFilters, new Map([['a/+', 2], ['b', 1]]));
});

test('a filter is unsubscribed when its last subscriber goes, and resubscribed under its identifier when its QoS drops', () => {
    const subs = connected(5);
    const high = subscriber('a', 2);
    const low = subscriber('a', 0);
    subs.add(high);
    subs.add(low);
    subs.reconcile();
    assert.equal(subs.remove(high), true);
    assert.deepEqual(subs.reconcile(), { unsubscribe: [], subscribe: [{ filter: 'a', qos: 0, id: 1 }] });
    assert.equal(subs.remove(low), true);
    assert.equal(subs.remove(low), false, 'a subscriber is removed once');
    assert.deepEqual(subs.reconcile(), { unsubscribe: ['a'], subscribe: [] });
    assert.equal(subs.brokerFilters.size, 0);
});

test('a persistent session starts from the subscriptions and identifiers of the last run, and saves what changes', () => {
    const record = memoryRecord([{ filter: 'kept/#', qos: 1, id: 7 }]);
    const subs = connected(5, record, true);
    assert.deepEqual(subs.brokerFilters, new Map([['kept/#', 1]]));
    subs.add(subscriber('kept/#', 1));
    subs.add(subscriber('new/+', 2));
    assert.deepEqual(subs.reconcile(), { unsubscribe: [], subscribe: [{ filter: 'new/+', qos: 2, id: 8 }] }, 'identifiers go on after the highest stored one');
    subs.saveSession();
    assert.deepEqual(record.saves, [
        [
            { filter: 'kept/#', qos: 1, id: 7 },
            { filter: 'new/+', qos: 2, id: 8 },
        ],
    ]);
    subs.reconcile();
    subs.saveSession();
    assert.equal(record.saves.length, 1, 'nothing changed, nothing saved');
});

test('a stored subscription nobody wants any more is unsubscribed from the session the broker kept', () => {
    const record = memoryRecord([{ filter: 'old/#', qos: 1, id: 3 }]);
    const subs = connected(4, record, true);
    subs.add(subscriber('new/#', 1));
    assert.deepEqual(subs.reconcile(), { unsubscribe: ['old/#'], subscribe: [{ filter: 'new/#', qos: 1, id: 4 }] });
    subs.saveSession();
    assert.deepEqual(record.saves, [[{ filter: 'new/#', qos: 1, id: 4 }]]);
});

test('when the broker kept no session, everything wanted is subscribed again', () => {
    const record = memoryRecord([{ filter: 'x', qos: 1, id: 5 }]);
    const subs = new Subscriptions(record);
    subs.add(subscriber('x', 1));
    subs.sessionStarted(false, true);
    assert.equal(subs.brokerFilters.size, 0);
    assert.deepEqual(subs.reconcile(), { unsubscribe: [], subscribe: [{ filter: 'x', qos: 1, id: 6 }] });
});

test('MQTT 5 routes by subscription identifier, so overlapping filters each get only their own copy', () => {
    const subs = connected(5);
    const wide = subscriber('a/#', 2);
    const narrow = subscriber('a/+', 2);
    subs.add(wide);
    subs.add(narrow);
    const ids = new Map(subs.reconcile().subscribe.map((s) => [s.filter, s.id]));
    assert.deepEqual([...ids.keys()], ['a/#', 'a/+'], 'no folding where identifiers tell copies apart');

    assert.equal(subs.route('a/b', Buffer.from('1'), header(1, ids.get('a/+')), noFailure), 1);
    assert.equal(subs.route('a/b', Buffer.from('2'), header(1, ids.get('a/#')), noFailure), 1);
    assert.deepEqual(narrow.received.map((m) => m.payload.toString()), ['1']);
    assert.deepEqual(wide.received.map((m) => m.payload.toString()), ['2']);
    assert.equal(subs.route('a/b', Buffer.from('3'), header(1, [ids.get('a/#') as number, ids.get('a/+') as number]), noFailure), 2, 'one copy for both');
});

test('a message with no identifier, an unknown one, or one whose filter does not match its topic is routed by topic', () => {
    const subs = connected(5);
    const wide = subscriber('a/#');
    const other = subscriber('b/+');
    subs.add(wide);
    subs.add(other);
    const ids = new Map(subs.reconcile().subscribe.map((s) => [s.filter, s.id]));
    assert.equal(subs.route('a/b', Buffer.from('none'), header(1), noFailure), 1);
    assert.equal(subs.route('a/b', Buffer.from('unknown'), header(1, 99), noFailure), 1);
    assert.equal(subs.route('a/b', Buffer.from('mismatch'), header(1, ids.get('b/+')), noFailure), 1);
    assert.deepEqual(wide.received.map((m) => m.payload.toString()), ['none', 'unknown', 'mismatch']);
    assert.equal(other.received.length, 0);
});

test('without identifiers (MQTT 3.1.1) a message is routed by topic, whatever identifier it carries', () => {
    const subs = connected(4);
    const wide = subscriber('a/#');
    const narrow = subscriber('a/+');
    subs.add(wide);
    subs.add(narrow);
    subs.reconcile();
    assert.equal(subs.route('a/b', Buffer.from('x'), header(1, 1), noFailure), 2);
});

test('each subscriber gets the lower of the publish QoS and its own, and the retain flag as sent', () => {
    const subs = connected(4);
    const zero = subscriber('t', 0);
    const two = subscriber('t', 2);
    subs.add(zero);
    subs.add(two);
    subs.route('t', Buffer.from('p'), { qos: 1, retain: true }, noFailure);
    assert.deepEqual([zero.received[0].qos, two.received[0].qos], [0, 1]);
    assert.equal(two.received[0].retain, true);
});

test('a subscriber that throws is reported, and the others still get the message', () => {
    const subs = connected(4);
    const boom = new Error('boom');
    const failing: Subscriber = { filter: 't', qos: 1, deliver: () => { throw boom; }, refused: () => undefined };
    const fine = subscriber('t');
    subs.add(failing);
    subs.add(fine);
    const failures: [unknown, Subscriber][] = [];
    assert.equal(subs.route('t', Buffer.from('p'), header(1), (err, s) => failures.push([err, s])), 2);
    assert.deepEqual(failures, [[boom, failing]]);
    assert.equal(fine.received.length, 1);
});

test('MQTT 3.1.1 folds covered filters into their cover at the highest QoS, and splits them out when the cover goes', () => {
    const subs = connected(4);
    const cover = subscriber('home/#', 0);
    const covered = subscriber('home/+/temp', 2);
    subs.add(cover);
    subs.add(covered);
    assert.deepEqual(subs.reconcile(), { unsubscribe: [], subscribe: [{ filter: 'home/#', qos: 2, id: 1 }] });
    assert.equal(subs.route('home/x/temp', Buffer.from('t'), header(2), noFailure), 2, 'one broker copy reaches both');
    subs.remove(cover);
    assert.deepEqual(subs.reconcile(), { unsubscribe: ['home/#'], subscribe: [{ filter: 'home/+/temp', qos: 2, id: 2 }] });
});

test('MQTT 3.1.1: a new filter under a held cover resubscribes the cover once, so its retained messages are sent', () => {
    const subs = connected(4);
    subs.add(subscriber('home/#', 1));
    subs.reconcile();
    subs.add(subscriber('home/kitchen', 1));
    assert.deepEqual(subs.reconcile(), { unsubscribe: [], subscribe: [{ filter: 'home/#', qos: 1, id: 1 }] });
    assert.deepEqual(subs.reconcile(), { unsubscribe: [], subscribe: [] }, 'announced once');
});

test('MQTT 5 keeps a new filter under another its own subscription instead of resubscribing the other', () => {
    const subs = connected(5);
    subs.add(subscriber('home/#', 1));
    subs.reconcile();
    subs.add(subscriber('home/kitchen', 1));
    assert.deepEqual(subs.reconcile(), { unsubscribe: [], subscribe: [{ filter: 'home/kitchen', qos: 1, id: 2 }] });
});

test('a refused subscription is told to its subscribers, dropped from what the broker holds, and tried again on the next reconcile', () => {
    const subs = connected(5);
    const a = subscriber('secret/#');
    const b = subscriber('secret/#', 2);
    subs.add(a);
    subs.add(b);
    const [sent] = subs.reconcile().subscribe;
    subs.refused(sent, 'Not authorized');
    assert.deepEqual([a.refusals, b.refusals], [['Not authorized'], ['Not authorized']]);
    assert.equal(subs.brokerFilters.has('secret/#'), false);
    assert.deepEqual(subs.reconcile().subscribe.map((s) => s.filter), ['secret/#']);
});

test('a SUBSCRIBE the link took with it is not a refusal: nobody is told, and a persistent session sends it again', () => {
    // sessionPresent on the next link: only what is not taken as held is sent.
    const subs = connected(4, undefined, true);
    const a = subscriber('sensors/#');
    subs.add(a);
    const [sent] = subs.reconcile().subscribe;
    subs.unanswered(sent);
    assert.deepEqual(a.refusals, []);
    subs.sessionStarted(true, false);
    assert.deepEqual(subs.reconcile().subscribe.map((s) => s.filter), ['sensors/#']);
});

test('a late refusal of an earlier SUBSCRIBE leaves the newer subscription of the same filter in place', () => {
    const subs = connected(5);
    const first = subscriber('f');
    subs.add(first);
    const [earlier] = subs.reconcile().subscribe;
    subs.remove(first);
    subs.reconcile();
    subs.add(subscriber('f'));
    const [newer] = subs.reconcile().subscribe;
    assert.notEqual(newer.id, earlier.id);
    subs.refused(earlier, 'Unspecified error');
    assert.equal(subs.brokerFilters.has('f'), true);
});
