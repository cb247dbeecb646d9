import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TopicTreeNode, TrafficMonitor, viewPayload } from '../../dist/lib/traffic-monitor';

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
    let t = start;
    return { now: () => t, advance: (ms: number) => (t += ms) };
}

/** The node of the tree at `levels`, or undefined. */
function at(tree: TopicTreeNode[], ...levels: string[]): TopicTreeNode | undefined {
    let nodes = tree;
    let found: TopicTreeNode | undefined;
    for (const level of levels) {
        found = nodes.find((n) => n.level === level);
        if (!found) return undefined;
        nodes = found.children;
    }
    return found;
}

test('keeps the last message of each topic with its QoS, retain flag, direction and count', () => {
    const c = clock();
    const monitor = new TrafficMonitor({}, c.now);
    monitor.received('home/kitchen/temp', Buffer.from('20.5'), 1, true);
    c.advance(10);
    monitor.received('home/kitchen/temp', Buffer.from('21'), 0, false);
    monitor.published('home/lamp/set', Buffer.from('on'), 2, true);
    const snap = monitor.snapshot();
    assert.deepEqual(snap.totals, { in: 2, out: 1 });
    assert.equal(snap.topicCount, 2);
    const temp = at(snap.tree, 'home', 'kitchen', 'temp');
    assert.equal(temp?.topic, 'home/kitchen/temp');
    assert.deepEqual(temp?.last, { payload: { kind: 'text', text: '21', size: 2, truncated: false }, qos: 0, retain: false, direction: 'in', at: c.now(), count: 2 });
    const lamp = at(snap.tree, 'home', 'lamp', 'set');
    assert.equal(lamp?.last?.direction, 'out');
    assert.equal(lamp?.last?.retain, true);
    assert.equal(lamp?.last?.qos, 2);
    // An inner level that is no topic of its own has no last message.
    assert.equal(at(snap.tree, 'home')?.last, undefined);
    assert.deepEqual(at(snap.tree, 'home')?.children.map((n) => n.level), ['kitchen', 'lamp']);
});

test('at most maxTopics topics: the one seen longest ago goes first', () => {
    const monitor = new TrafficMonitor({ maxTopics: 3 });
    for (const topic of ['a', 'b', 'c']) monitor.received(topic, Buffer.from('x'), 0, false);
    monitor.received('a', Buffer.from('again'), 0, false); // a is now the most recent
    monitor.received('d', Buffer.from('x'), 0, false);
    assert.deepEqual(monitor.topicNames(), ['c', 'a', 'd']);
    const snap = monitor.snapshot();
    assert.equal(snap.topicCount, 3);
    assert.equal(snap.evicted, 1);
    assert.equal(at(snap.tree, 'a')?.last?.count, 2);
    // An evicted topic that comes back starts counting again.
    monitor.received('b', Buffer.from('x'), 0, false);
    assert.deepEqual(monitor.topicNames(), ['a', 'd', 'b']);
    assert.equal(at(monitor.snapshot().tree, 'b')?.last?.count, 1);
});

test('keeps at most maxPayloadBytes of a payload and says how large it was', () => {
    const monitor = new TrafficMonitor({ maxPayloadBytes: 8 });
    const big = Buffer.from('0123456789abcdef');
    monitor.received('t', big, 0, false);
    big.fill(0); // the monitor holds a copy, not the caller's buffer
    const last = at(monitor.snapshot().tree, 't')?.last;
    assert.deepEqual(last?.payload, { kind: 'text', text: '01234567', size: 16, truncated: true });
    // A shorter payload on the same topic replaces it whole.
    monitor.received('t', Buffer.from('ok'), 0, false);
    assert.deepEqual(at(monitor.snapshot().tree, 't')?.last?.payload, { kind: 'text', text: 'ok', size: 2, truncated: false });
});

test('maxTopics 0 keeps no topic but still counts', () => {
    const monitor = new TrafficMonitor({ maxTopics: 0 });
    monitor.received('a', Buffer.from('x'), 0, false);
    const snap = monitor.snapshot();
    assert.equal(snap.topicCount, 0);
    assert.equal(snap.totals.in, 1);
});

test('rates are the mean of the last 5 whole seconds, the current second left out', () => {
    const c = clock(10_000_000); // on a whole second
    const monitor = new TrafficMonitor({}, c.now);
    for (let s = 0; s < 5; s++) {
        for (let i = 0; i < 10; i++) monitor.received('t', Buffer.from('x'), 0, false);
        for (let i = 0; i < 4; i++) monitor.published('u', Buffer.from('x'), 0, false);
        c.advance(1000);
    }
    assert.deepEqual(monitor.snapshot().rates, { in: 10, out: 4 });
    // Messages of the second under way do not count yet.
    for (let i = 0; i < 100; i++) monitor.received('t', Buffer.from('x'), 0, false);
    assert.deepEqual(monitor.snapshot().rates, { in: 10, out: 4 });
    // Two quiet seconds later the burst second is in the window and the oldest two seconds are out.
    c.advance(2000);
    assert.deepEqual(monitor.snapshot().rates, { in: (10 + 10 + 10 + 100) / 5, out: (4 + 4 + 4) / 5 });
    // Long quiet: zero.
    c.advance(60_000);
    assert.deepEqual(monitor.snapshot().rates, { in: 0, out: 0 });
});

test('binary payloads are shown as hex (the first 32 bytes) with their size', () => {
    const bytes = Buffer.from([0x00, 0x01, 0xff, 0x10]);
    assert.deepEqual(viewPayload(bytes, 4), { kind: 'binary', hex: '0001ff10', size: 4, truncated: false });
    const long = Buffer.alloc(40, 0xab);
    const view = viewPayload(long, 40);
    assert.equal(view.kind, 'binary');
    assert.equal(view.kind === 'binary' && view.hex, 'ab'.repeat(32));
    assert.equal(view.truncated, true);
    // Control characters other than tab, CR and LF make bytes binary, as mqtt-in's auto-detect does.
    assert.equal(viewPayload(Buffer.from('a\u0000b'), 3).kind, 'binary');
    assert.equal(viewPayload(Buffer.from('a\tb\r\n'), 5).kind, 'text');
    // Invalid UTF-8 is binary.
    assert.equal(viewPayload(Buffer.from([0x61, 0xc3, 0x28]), 3).kind, 'binary');
});

test('a multi-byte character cut by the byte limit is left out, and the text stays text', () => {
    const monitor = new TrafficMonitor({ maxPayloadBytes: 4 });
    monitor.received('t', Buffer.from('ab温度'), 0, false); // 2 + 3 + 3 bytes: the limit cuts 温
    assert.deepEqual(at(monitor.snapshot().tree, 't')?.last?.payload, { kind: 'text', text: 'ab', size: 8, truncated: true });
    // A whole payload that ends in a broken sequence is not cut: it is binary.
    assert.equal(viewPayload(Buffer.from([0x61, 0xe6, 0xb8]), 3).kind, 'binary');
});

test('$-topics, empty levels and a leading slash are levels of the tree like any other', () => {
    const monitor = new TrafficMonitor();
    monitor.received('$SYS/broker/uptime', Buffer.from('12 seconds'), 0, false);
    monitor.received('/a', Buffer.from('1'), 0, false);
    monitor.received('a//b', Buffer.from('2'), 0, false);
    monitor.received('a', Buffer.from('3'), 0, false);
    const tree = monitor.snapshot().tree;
    assert.deepEqual(tree.map((n) => n.level), ['', '$SYS', 'a']);
    assert.equal(at(tree, '$SYS', 'broker', 'uptime')?.topic, '$SYS/broker/uptime');
    assert.equal(at(tree, '', 'a')?.topic, '/a');
    assert.equal(at(tree, 'a', '', 'b')?.topic, 'a//b');
    // 'a' is a topic and also has topics under it.
    assert.equal(at(tree, 'a')?.topic, 'a');
    assert.equal(at(tree, 'a')?.children.length, 1);
    assert.deepEqual(monitor.topicNames().sort(), ['$SYS/broker/uptime', '/a', 'a', 'a//b']);
});
