import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { TopicTree } from '../../dist/lib/topic-tree';
import { checkTopicFilter, topicMatches } from '../../dist/lib/topic';
import { allTopics } from '../support/topics';

/** The (value, filter) pairs the tree visits for `topic`, as sorted strings; fails on a duplicate. */
function visited<T>(tree: TopicTree<T>, topic: string): string[] {
    const seen: string[] = [];
    tree.match(topic, (value, filter) => seen.push(`${String(value)} ${filter}`));
    const sorted = [...seen].sort();
    for (let i = 1; i < sorted.length; i++) assert.notEqual(sorted[i], sorted[i - 1], `visited twice for ${JSON.stringify(topic)}`);
    return sorted;
}

const FILTERS = allTopics(['a', '', '$x', '+', '#'], 4).filter((f) => checkTopicFilter(f) === null);
const NAMES = allTopics(['a', '', '$x', 'b'], 4);

describe('TopicTree', () => {
    test('agrees with topicMatches on all filters x all names (empty levels, $, #, $share)', () => {
        const tree = new TopicTree<number>();
        const all = [...FILTERS, ...FILTERS.map((f) => '$share/g/' + f)];
        all.forEach((f, i) => tree.add(f, i));
        assert.equal(tree.size, all.length);
        for (const name of NAMES) {
            const expected = all
                .map((f, i) => (topicMatches(f, name) ? `${i} ${f}` : ''))
                .filter((s) => s !== '')
                .sort();
            assert.deepEqual(visited(tree, name), expected, `match(${JSON.stringify(name)})`);
        }
    });

    test('overlapping filters visit a value once per filter, each pair exactly once', () => {
        const tree = new TopicTree<string>();
        for (const f of ['a/b', 'a/+', '#', 'a/#', '+/b', '+/+', '$share/g/a/b', '$share/h/a/b']) tree.add(f, 'v');
        tree.add('a/b', 'w');
        assert.deepEqual(visited(tree, 'a/b'), [
            'v #',
            'v $share/g/a/b',
            'v $share/h/a/b',
            'v +/+',
            'v +/b',
            'v a/#',
            'v a/+',
            'v a/b',
            'w a/b',
        ]);
    });

    test('[MQTT-4.7.1-1] "#" matches the parent level, once', () => {
        const tree = new TopicTree<number>();
        tree.add('a/#', 1);
        tree.add('a', 2);
        tree.add('a/+/#', 3);
        assert.deepEqual(visited(tree, 'a'), ['1 a/#', '2 a']);
        assert.deepEqual(visited(tree, 'a/b'), ['1 a/#', '3 a/+/#']);
        assert.deepEqual(visited(tree, 'a/'), ['1 a/#', '3 a/+/#']);
    });

    test('[MQTT-4.7.2-1] leading wildcards do not match $ topics, also when shared', () => {
        const tree = new TopicTree<number>();
        for (const [i, f] of ['#', '+', '+/x', '$share/g/#', '$SYS/#', '$share/g/$SYS/+'].entries()) tree.add(f, i);
        assert.deepEqual(visited(tree, '$SYS'), ['4 $SYS/#']);
        assert.deepEqual(visited(tree, '$SYS/x'), ['4 $SYS/#', '5 $share/g/$SYS/+']);
        assert.deepEqual(visited(tree, 'a/x'), ['0 #', '2 +/x', '3 $share/g/#']);
    });

    test('empty levels are levels', () => {
        const tree = new TopicTree<number>();
        tree.add('/', 1);
        tree.add('+', 2);
        tree.add('a//b', 3);
        tree.add('a/+/b', 4);
        assert.deepEqual(visited(tree, '/'), ['1 /']);
        assert.deepEqual(visited(tree, 'a//b'), ['3 a//b', '4 a/+/b']);
        assert.deepEqual(visited(tree, 'a/b'), []);
        assert.deepEqual(visited(tree, ''), []);
    });

    test('adding a pair twice is idempotent', () => {
        const tree = new TopicTree<object>();
        const value = {};
        tree.add('a/+', value);
        const nodes = tree.nodeCount;
        tree.add('a/+', value);
        assert.equal(tree.size, 1);
        assert.equal(tree.nodeCount, nodes);
        let calls = 0;
        tree.match('a/b', () => calls++);
        assert.equal(calls, 1);
        assert.equal(tree.remove('a/+', value), true);
        assert.equal(tree.remove('a/+', value), false);
        assert.equal(tree.size, 0);
    });

    test('remove: false when absent, and it leaves the others', () => {
        const tree = new TopicTree<number>();
        tree.add('a/b', 1);
        tree.add('$share/g/a/b', 1);
        assert.equal(tree.remove('a/b', 2), false);
        assert.equal(tree.remove('a/c', 1), false);
        assert.equal(tree.remove('a', 1), false);
        assert.equal(tree.remove('$share/h/a/b', 1), false);
        assert.equal(tree.remove('a/b+', 1), false);
        assert.equal(tree.remove('$share/g/a/b', 1), true);
        assert.deepEqual(visited(tree, 'a/b'), ['1 a/b']);
        assert.equal(tree.size, 1);
    });

    test('remove prunes: no growth with add/remove churn', () => {
        const tree = new TopicTree<number>();
        assert.equal(tree.nodeCount, 1);
        tree.add('keep/+', 0);
        const base = tree.nodeCount;
        for (let round = 0; round < 50; round++) {
            const added: Array<[string, number]> = [];
            for (let i = 0; i < 40; i++) {
                const f = `r${round}/${i % 7}/${i}/${i % 3 === 0 ? '#' : '+'}`;
                const g = i % 5 === 0 ? `$share/g${i}/${f}` : f;
                tree.add(g, i);
                added.push([g, i]);
            }
            assert.ok(tree.nodeCount > base);
            for (const [f, v] of added.reverse()) assert.equal(tree.remove(f, v), true, f);
            assert.equal(tree.nodeCount, base, `round ${round}`);
            assert.equal(tree.size, 1);
        }
        for (const f of FILTERS) tree.add(f, 1);
        for (const f of FILTERS) tree.remove(f, 1);
        assert.equal(tree.nodeCount, base);
        assert.equal(tree.remove('keep/+', 0), true);
        assert.equal(tree.nodeCount, 1);
        assert.equal(tree.size, 0);
        assert.deepEqual([...tree.filters()], []);
    });

    test('$share filters are indexed under their inner filter and reported as added', () => {
        const tree = new TopicTree<string>();
        tree.add('$share/g/sport/+', 'x');
        tree.add('$share/h/sport/+', 'x');
        tree.add('sport/+', 'x');
        assert.equal(tree.size, 3);
        assert.deepEqual(visited(tree, 'sport/tennis'), ['x $share/g/sport/+', 'x $share/h/sport/+', 'x sport/+']);
        // The group is not a level.
        assert.deepEqual(visited(tree, 'g/sport/tennis'), []);
        // A name starting with $share/ is matched by nothing [MQTT-4.7.2-1].
        assert.deepEqual(visited(tree, '$share/g/sport/tennis'), []);
        const listed = new Map([...tree.filters()].map(([f, values]) => [f, [...values]]));
        assert.deepEqual(listed.get('$share/h/sport/+'), ['x']);
        assert.equal(tree.remove('$share/g/sport/+', 'x'), true);
        assert.deepEqual(visited(tree, 'sport/tennis'), ['x $share/h/sport/+', 'x sport/+']);
    });

    test('add refuses an invalid filter', () => {
        const tree = new TopicTree<number>();
        for (const f of ['', 'a/#/b', 'a+', '$share//a', '$share/g']) assert.throws(() => tree.add(f, 1), /invalid topic filter/, f);
        assert.equal(tree.size, 0);
        assert.equal(tree.nodeCount, 1);
    });

    test('match cost does not depend on the number of subscriptions', () => {
        const tree = new TopicTree<number>();
        for (let i = 0; i < 20000; i++) tree.add(`dev/${i}/temp`, i);
        let calls = 0;
        tree.match('dev/123/temp', (v) => {
            calls++;
            assert.equal(v, 123);
        });
        assert.equal(calls, 1);
        const started = process.hrtime.bigint();
        for (let i = 0; i < 20000; i++) tree.match(`dev/${i}/temp`, () => undefined);
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        assert.ok(ms < 2000, `20000 matches took ${ms} ms`);
    });
});
