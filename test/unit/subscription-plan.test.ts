import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planBrokerSubscriptions, QoS } from '../../dist/index';

const plan = (wanted: [string, QoS][], cover: boolean) => Object.fromEntries(planBrokerSubscriptions(wanted.map(([filter, qos]) => ({ filter, qos })), cover));

test('each distinct filter once, at the highest QoS asked for', () => {
    assert.deepEqual(plan([['a/b', 0], ['a/b', 2], ['a/b', 1], ['c', 1]], false), { 'a/b': 2, c: 1 });
});

test('MQTT 5 keeps overlapping filters: subscription identifiers tell the copies apart', () => {
    assert.deepEqual(plan([['home/#', 0], ['home/+/temp', 2]], false), { 'home/#': 0, 'home/+/temp': 2 });
});

test('MQTT 3.1.1 folds a covered filter into its cover, raising the cover to its QoS', () => {
    assert.deepEqual(plan([['home/#', 0], ['home/+/temp', 2], ['home/a/temp', 1]], true), { 'home/#': 2 });
    assert.deepEqual(plan([['a/+', 1], ['+/b', 1], ['a/b', 2]], true), { 'a/+': 2, '+/b': 2 }, 'both partial covers carry a/b');
    assert.deepEqual(plan([['#', 1], ['+/#', 0]], true), { '#': 1 }, 'of two equal filters one stays');
    assert.deepEqual(plan([['#', 0], ['$SYS/x', 1]], true), { '#': 0, '$SYS/x': 1 }, "'#' does not cover '$' topics");
});

test('shared subscriptions are never folded', () => {
    assert.deepEqual(plan([['#', 1], ['$share/g/a', 0]], true), { '#': 1, '$share/g/a': 0 });
});
