import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../dist/lib/backoff';

test('doubles up to the cap, with jitter inside its band, and starts over after reset', () => {
    const low = new Backoff({ initialMs: 1000, maxMs: 8000, jitter: 0.2 }, () => 0);
    assert.deepEqual([1, 2, 3, 4, 5].map(() => low.next()), [800, 1600, 3200, 6400, 6400]);
    const high = new Backoff({ initialMs: 1000, maxMs: 8000, jitter: 0.2 }, () => 0.999999);
    assert.deepEqual([1, 2, 3, 4, 5].map(() => high.next()), [1200, 2400, 4800, 9600, 9600]);
    assert.equal(high.attempts, 5);
    high.reset();
    assert.equal(high.next(), 1200);
});
