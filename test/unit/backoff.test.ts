import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, PROVEN_LINK_MS } from '../../dist/lib/backoff';

test('a failed first connection: three waits of the first delay, then doubling up to the cap, jitter inside its band', () => {
    const low = new Backoff({ initialMs: 1000, maxMs: 8000, jitter: 0.2 }, () => 0);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(() => low.next()), [800, 800, 800, 1600, 3200, 6400, 6400]);
    const high = new Backoff({ initialMs: 1000, maxMs: 8000, jitter: 0.2 }, () => 0.999999);
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(() => high.next()), [1200, 1200, 1200, 2400, 4800, 9600, 9600]);
    assert.equal(high.attempts, 7);
    high.reset();
    assert.equal(high.next(), 1200);
});

test('a lost link: the first attempt after a quarter of the first delay, then as after a failed connection', () => {
    const middle = new Backoff({ initialMs: 1000, maxMs: 30000, jitter: 0.2 }, () => 0.5);
    middle.resetAfterLinkLoss();
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => middle.next()), [250, 1000, 1000, 1000, 2000, 4000]);
    // Back up, and the next loss starts quickly again; a plain reset does not.
    middle.resetAfterLinkLoss();
    assert.equal(middle.next(), 250);
    middle.reset();
    assert.equal(middle.next(), 1000);
});

test('a broker that restarts in one second is tried again within about a second of its return', () => {
    // Broker down at t=0 and listening again at t=1.05 s (a restart of one second): the latest
    // possible successful attempt, with the widest jitter, comes within 1.2 s of its return.
    for (const r of [0, 0.5, 0.999999]) {
        const backoff = new Backoff({ initialMs: 1000, maxMs: 30000, jitter: 0.2 }, () => r);
        backoff.resetAfterLinkLoss();
        let t = 0;
        do t += backoff.next();
        while (t < 1050);
        assert.ok(t - 1050 <= 1200, `back ${t - 1050} ms after the broker with jitter at ${r}`);
    }
});

test('a link the broker closed right after accepting it is one more failed attempt; one that lasted starts over quickly', () => {
    const backoff = new Backoff({ initialMs: 1000, maxMs: 30000, jitter: 0.2 }, () => 0.5);
    backoff.linkUp(10_000);
    assert.deepEqual(backoff.linkLost(10_000 + PROVEN_LINK_MS), { lastedMs: PROVEN_LINK_MS, proven: true });
    assert.equal(backoff.next(), 250);
    // Accepted and dropped within milliseconds, again and again: the delays grow as for refusals.
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
        const at = 20_000 + i * 60_000;
        backoff.linkUp(at);
        assert.deepEqual(backoff.linkLost(at + 4), { lastedMs: 4, proven: false });
        delays.push(backoff.next());
    }
    assert.deepEqual(delays, [1000, 1000, 1000, 2000, 4000, 8000]);
});
