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

test('the indexed search gives the same plan as comparing every filter with every other', () => {
    const { filterCovers, parseSharedSubscription } = require('../../dist/lib/topic');
    const naive = (wanted: [string, QoS][]) => {
        const byFilter = new Map<string, QoS>();
        for (const [f, q] of wanted) byFilter.set(f, Math.max(q, byFilter.get(f) ?? 0) as QoS);
        const plain = [...byFilter.keys()].filter((f) => parseSharedSubscription(f) === null);
        const out = new Map<string, QoS>([...byFilter].filter(([f]) => parseSharedSubscription(f) !== null));
        for (const f of plain) if (!plain.some((o) => o !== f && filterCovers(o, f) && !(filterCovers(f, o) && f < o))) out.set(f, byFilter.get(f) as QoS);
        for (const f of plain) if (!out.has(f)) for (const [k, q] of out) if (parseSharedSubscription(k) === null && filterCovers(k, f) && (byFilter.get(f) as QoS) > q) out.set(k, byFilter.get(f) as QoS);
        return Object.fromEntries([...out].sort());
    };
    const levels = ['a', 'b', '', '+', '#', '$x'];
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let round = 0; round < 300; round++) {
        const wanted: [string, QoS][] = [];
        for (let i = 0; i < 12; i++) {
            const depth = 1 + Math.floor(random() * 4);
            const parts = Array.from({ length: depth }, () => levels[Math.floor(random() * levels.length)]);
            const hashAt = parts.indexOf('#');
            const filter = (hashAt >= 0 ? parts.slice(0, hashAt + 1) : parts).join('/');
            wanted.push([random() < 0.1 ? `$share/g/${filter}` : filter, Math.floor(random() * 3) as QoS]);
        }
        assert.deepEqual(Object.fromEntries([...planBrokerSubscriptions(wanted.map(([filter, qos]) => ({ filter, qos })), true)].sort()), naive(wanted), `round ${round} (seed 12345): ${JSON.stringify(wanted)}`);
    }
});
