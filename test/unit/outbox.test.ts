import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeliveryError, Outbox, OutgoingMessage } from '../../dist/index';

const message = (n: number, qos: 0 | 1 | 2 = 1): OutgoingMessage => ({ topic: 't', payload: Buffer.from(String(n)), qos, retain: false });

test('never more QoS 1/2 in flight than the limit; the rest wait in order', async () => {
    const sent: { n: string; done: (err?: Error) => void }[] = [];
    const outbox = new Outbox((s, done) => sent.push({ n: s.message.payload.toString(), done }), { maxInflight: 3, maxQueued: 100, queueQoS0: false });
    outbox.setOnline(true);
    const results = Array.from({ length: 10 }, (_, i) => outbox.submit(message(i)));
    assert.equal(sent.length, 3);
    assert.equal(outbox.queued, 7);
    sent[1].done();
    assert.deepEqual(sent.map((s) => s.n), ['0', '1', '2', '3'], 'a freed slot takes the next in order');
    for (let i = 0; i < sent.length; i++) if (i !== 1) sent[i].done();
    await Promise.all(results);
    assert.deepEqual(sent.map((s) => s.n), ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.equal(outbox.inFlight, 0);
});

test('Receive Maximum lowers the limit; a lost link keeps QoS 1 waiting and refuses QoS 0', async () => {
    const sent: OutgoingMessage[] = [];
    const outbox = new Outbox((s) => sent.push(s.message), { maxInflight: 20, maxQueued: 100, queueQoS0: false });
    outbox.setOnline(true);
    outbox.setMaxInflight(2);
    for (let i = 0; i < 5; i++) void outbox.submit(message(i));
    assert.equal(sent.length, 2);
    outbox.setOnline(false);
    await assert.rejects(outbox.submit(message(9, 0)), (err: DeliveryError) => err.code === 'not-connected');
    assert.equal(outbox.droppedQoS0, 1);
    void outbox.submit(message(10, 1));
    assert.equal(outbox.queued, 4);
});

test('a full queue refuses with an error, counted exactly', async () => {
    const outbox = new Outbox(() => undefined, { maxInflight: 1, maxQueued: 5, queueQoS0: false });
    const results = Array.from({ length: 8 }, (_, i) => outbox.submit(message(i)).then(() => 'ok', (e: DeliveryError) => e.code));
    outbox.close('closed for the test');
    const codes = await Promise.all(results);
    assert.equal(codes.filter((c) => c === 'queue-full').length, 3);
    assert.equal(codes.filter((c) => c === 'closed').length, 5);
});

test('a send that calls back at once does not grow the stack', async () => {
    const outbox = new Outbox((_m, done) => done(), { maxInflight: 1, maxQueued: 200000, queueQoS0: true });
    const all = Array.from({ length: 100000 }, (_, i) => outbox.submit(message(i, 0)));
    outbox.setOnline(true);
    await Promise.all(all);
    assert.equal(outbox.queued, 0);
});

test('what waits is kept in the store; a memory store refuses it at close, a durable one keeps it', async () => {
    const { MemoryDeliveryStore } = require('../../dist/lib/delivery/memory-store');
    const store = new MemoryDeliveryStore();
    const outbox = new Outbox(() => undefined, { maxInflight: 1, maxQueued: 10, queueQoS0: false }, store);
    const results = [1, 2, 3].map((i) => outbox.submit(message(i)).then(() => 'ok', (e: DeliveryError) => e.code));
    assert.equal(store.queued().length, 3, 'queued messages are in the store');
    outbox.close('closing');
    assert.deepEqual(await Promise.all(results), ['closed', 'closed', 'closed']);
    assert.equal(store.queued().length, 0);

    const durable = Object.assign(new MemoryDeliveryStore(), { durable: true });
    const kept = new Outbox(() => undefined, { maxInflight: 1, maxQueued: 10, queueQoS0: false }, durable);
    void kept.submit(message(1));
    void kept.submit(message(2));
    assert.equal(kept.close('closing'), 2);
    assert.equal(durable.queued().length, 2, 'left for the next start');
    const next = new Outbox(() => undefined, { maxInflight: 1, maxQueued: 10, queueQoS0: false }, durable);
    assert.equal(next.queued, 2, 'a new outbox starts with what the store kept');
});

test('a message the broker is too busy for is sent again after a pause, first in line, and kept in the store', async () => {
    const { MemoryDeliveryStore } = require('../../dist/lib/delivery/memory-store');
    const store = new MemoryDeliveryStore();
    const attempts: number[] = [];
    let busyOnce = true;
    const outbox = new Outbox(
        (sending, done) => {
            const n = Number(sending.message.payload.toString());
            attempts.push(n);
            store.handOver(sending.seq, () => undefined);
            if (n === 1 && busyOnce) {
                busyOnce = false;
                assert.equal(store.queued().length, 1, 'handed over, only message 2 waits in the store');
                done(new DeliveryError('the broker is busy: quota exceeded', 'busy'));
                assert.equal(store.queued().length, 2, 'message 1 is back in the store');
                return;
            }
            setImmediate(() => done());
        },
        { maxInflight: 1, maxQueued: 10, queueQoS0: false },
        store,
    );
    const results = [1, 2].map((i) => outbox.submit(message(i)));
    outbox.setOnline(true);
    assert.deepEqual(attempts, [1], 'nothing more is sent during the pause');
    await Promise.all(results);
    assert.deepEqual(attempts, [1, 1, 2]);
    assert.equal(store.queued().length, 0);
});

test('a sent message is not held by the outbox, so it dies young', async () => {
    const v8 = await import('node:v8');
    const vm = await import('node:vm');
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const outbox = new Outbox((_s, done) => done(), { maxInflight: 20, maxQueued: 100, queueQoS0: false });
    outbox.setOnline(true);
    outbox.submit(message(1, 1)).catch(() => undefined);
    const WeakRefOf = (globalThis as unknown as { WeakRef: new <T extends object>(target: T) => { deref(): T | undefined } }).WeakRef;
    // The payload is only ever referenced from inside this function and the outbox.
    const sendOne = async (): Promise<{ deref(): Buffer | undefined }> => {
        const payload = Buffer.alloc(1000);
        await outbox.submit({ topic: 't', payload, qos: 0, retain: false });
        return new WeakRefOf(payload);
    };
    const sent = await sendOne();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    assert.equal(sent.deref(), undefined, 'the outbox let go of the sent message');
    assert.equal(outbox.queued, 0);
});
