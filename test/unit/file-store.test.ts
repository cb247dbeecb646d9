import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Packet } from 'mqtt-packet';
import { FileDeliveryStore } from '../../dist/lib/delivery/file-store';
import { MemoryDeliveryStore } from '../../dist/lib/delivery/memory-store';
import type { DeliveryStore, PacketStore } from '../../dist/lib/delivery/types';
import type { OutgoingMessage } from '../../dist/lib/delivery/types';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'file-store-test-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let fileCount = 0;
const newPath = (): string => path.join(root, `s${++fileCount}`, 'nested', 'client.mqwj');

const message = (n: number | string, qos: 0 | 1 | 2 = 1): OutgoingMessage => ({ topic: `t/${n}`, payload: Buffer.from(`m${n}`), qos, retain: false });
const publish = (messageId: number, extra: Record<string, unknown> = {}): Packet =>
    ({ cmd: 'publish', topic: `p/${messageId}`, payload: Buffer.from(`payload ${messageId}`), qos: 1, retain: false, dup: false, messageId, ...extra }) as Packet;
const pubrel = (messageId: number): Packet => ({ cmd: 'pubrel', qos: 1, messageId }) as unknown as Packet;

function put(store: PacketStore, packet: Packet): Promise<void> {
    return new Promise((resolve, reject) => store.put(packet, (err?: Error) => (err ? reject(err) : resolve())));
}
function get(store: PacketStore, messageId: number): Promise<Packet> {
    return new Promise((resolve, reject) => store.get({ messageId }, (err?: Error, packet?: Packet) => (err ? reject(err) : resolve(packet as Packet))));
}
function del(store: PacketStore, messageId: number): Promise<Packet> {
    return new Promise((resolve, reject) => store.del({ messageId }, (err?: Error, packet?: Packet) => (err ? reject(err) : resolve(packet as Packet))));
}
async function streamed(store: PacketStore): Promise<Packet[]> {
    const out: Packet[] = [];
    for await (const packet of store.createStream()) out.push(packet as Packet);
    return out;
}

/** Everything a store holds, in a form deepEqual compares. */
async function snapshot(store: DeliveryStore) {
    return {
        queued: store.queued(),
        outgoing: await streamed(store.outgoing),
        outgoingIds: store.outgoing.messageIds(),
        incoming: await streamed(store.incoming),
        subscriptions: store.loadSubscriptions(),
    };
}

const opened: DeliveryStore[] = [];
after(async () => {
    for (const store of opened) await store.close().catch(() => undefined);
});
function openFile(file: string, options?: Parameters<typeof FileDeliveryStore.open>[1]): FileDeliveryStore {
    const store = FileDeliveryStore.open(file, options);
    opened.push(store);
    return store;
}

const kinds: { name: string; make: () => DeliveryStore }[] = [
    { name: 'MemoryDeliveryStore', make: () => new MemoryDeliveryStore() },
    { name: 'FileDeliveryStore', make: () => openFile(newPath()) },
];

for (const kind of kinds) {
    describe(`contract: ${kind.name}`, () => {
        test('put, get and del as MQTT.js expects; a missing packet is an error', async () => {
            const store = kind.make();
            await put(store.outgoing, publish(1));
            assert.equal((await get(store.outgoing, 1)).messageId, 1);
            await assert.rejects(get(store.outgoing, 2), /missing packet/);
            await assert.rejects(del(store.outgoing, 2), /missing packet/);
            const removed = await del(store.outgoing, 1);
            assert.deepEqual(removed, publish(1));
            await assert.rejects(get(store.outgoing, 1), /missing packet/);
            assert.equal(store.outgoing.size, 0);
            await assert.rejects(get(store.incoming, 1), /missing packet/, 'the stores are separate');
            await store.close();
        });

        test('a put on the same messageId replaces the packet and keeps the first-put order', async () => {
            const store = kind.make();
            for (const id of [5, 2, 9]) await put(store.outgoing, publish(id, { qos: 2 }));
            await put(store.outgoing, pubrel(5));
            assert.deepEqual(store.outgoing.messageIds(), [5, 2, 9]);
            assert.equal((await get(store.outgoing, 5)).cmd, 'pubrel');
            assert.deepEqual((await streamed(store.outgoing)).map((p) => [p.cmd, p.messageId]), [['pubrel', 5], ['publish', 2], ['publish', 9]]);
            await del(store.outgoing, 5);
            await put(store.outgoing, publish(5));
            assert.deepEqual(store.outgoing.messageIds(), [2, 9, 5], 'put again after del: last');
            await store.close();
        });

        test('put callbacks run in the order of the puts, each once', async () => {
            const store = kind.make();
            const order: number[] = [];
            await new Promise<void>((resolve) => {
                for (let id = 1; id <= 50; id++) {
                    store.outgoing.put(publish(id), (err?: Error) => {
                        assert.equal(err, undefined);
                        order.push(id);
                        if (id === 50) resolve();
                    });
                }
            });
            await new Promise((resolve) => setImmediate(resolve));
            assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => i + 1));
            await store.close();
        });

        test('onDelete listeners are called after the del, with the messageId', async () => {
            const store = kind.make();
            const seen: [number, boolean][] = [];
            store.outgoing.onDelete((id) => {
                let stillThere = false;
                store.outgoing.get({ messageId: id }, (err?: Error) => (stillThere = !err));
                seen.push([id, stillThere]);
            });
            await put(store.outgoing, publish(3));
            await put(store.outgoing, publish(4));
            await del(store.outgoing, 4);
            await assert.rejects(del(store.outgoing, 4));
            assert.deepEqual(seen, [[4, false]]);
            await store.close();
        });

        test('clear forgets every packet of that store only', async () => {
            const store = kind.make();
            await put(store.outgoing, publish(1));
            await put(store.outgoing, publish(2));
            await put(store.incoming, publish(7, { qos: 2 }));
            store.outgoing.clear();
            assert.equal(store.outgoing.size, 0);
            assert.deepEqual(await streamed(store.outgoing), []);
            assert.deepEqual(store.incoming.messageIds(), [7]);
            await put(store.outgoing, publish(1));
            assert.deepEqual(store.outgoing.messageIds(), [1]);
            await store.close();
        });

        test('enqueue, handOver, dequeue and queued (oldest first)', async () => {
            const store = kind.make();
            const seqs = [1, 2, 3, 4].map((n) => store.enqueue(message(n)));
            assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), 'seq increases');
            assert.deepEqual(store.queued().map((q) => q.message), [1, 2, 3, 4].map((n) => message(n)));
            let putDone: Promise<void> | undefined;
            const id = store.handOver(seqs[1], () => {
                putDone = put(store.outgoing, publish(42));
            });
            assert.equal(id, 42);
            await putDone;
            assert.deepEqual(store.queued().map((q) => q.seq), [seqs[0], seqs[2], seqs[3]]);
            assert.deepEqual(store.outgoing.messageIds(), [42]);
            assert.equal(store.handOver(seqs[2], () => undefined), undefined, 'no put: QoS 0');
            assert.deepEqual(store.queued().map((q) => q.seq), [seqs[0], seqs[3]]);
            store.dequeue(seqs[0]);
            store.dequeue(seqs[0]);
            store.dequeue(12345);
            assert.deepEqual(store.queued(), [{ seq: seqs[3], message: message(4) }]);
            const later = store.enqueue(message(5));
            assert.ok(later > seqs[3]);
            await store.close();
        });

        test('subscriptions are saved and loaded', async () => {
            const store = kind.make();
            assert.deepEqual(store.loadSubscriptions(), []);
            const subs = [{ filter: 'a/#', qos: 1 as const, id: 1 }, { filter: '$share/g/b', qos: 2 as const, id: 2 }];
            store.saveSubscriptions(subs);
            assert.deepEqual(store.loadSubscriptions(), subs);
            store.saveSubscriptions([]);
            assert.deepEqual(store.loadSubscriptions(), []);
            await store.close();
        });
    });
}

// ---- File store only.

const properties = {
    correlationData: Buffer.from([0, 1, 2, 255]),
    responseTopic: 'reply/here',
    contentType: 'application/octet-stream',
    payloadFormatIndicator: false,
    messageExpiryInterval: 3600,
    userProperties: { a: 'b', list: ['x', 'y'], '\u0000b': 'tricky key' },
    subscriptionIdentifier: [3, 7],
};

async function fillStore(store: DeliveryStore): Promise<void> {
    for (let n = 1; n <= 5; n++) store.enqueue(message(n, n === 3 ? 2 : 1));
    const [q1] = store.queued();
    let handed: Promise<void> | undefined;
    store.handOver(q1.seq, () => {
        handed = put(store.outgoing, publish(10, { properties, qos: 2 }));
    });
    await handed;
    await put(store.outgoing, publish(11, { payload: 'a string payload' }));
    await put(store.outgoing, publish(12, { payload: Buffer.alloc(0) }));
    await put(store.outgoing, pubrel(10));
    await put(store.incoming, publish(20, { qos: 2, properties: { userProperties: { k: 'v' } }, length: 30 }));
    await put(store.incoming, publish(21, { qos: 2, payload: Buffer.from(Array.from({ length: 256 }, (_, i) => i)) }));
    await del(store.incoming, 21);
    store.dequeue(store.queued()[1].seq);
    store.saveSubscriptions([{ filter: 'x/+/y', qos: 2, id: 9 }]);
}

describe('FileDeliveryStore: replay', () => {
    test('close and reopen gives the same state, Buffers inside properties included', async () => {
        const file = newPath();
        const store = openFile(file);
        await fillStore(store);
        const before = await snapshot(store);
        assert.equal(before.queued.length, 3);
        await store.close();
        await store.close();
        const again = openFile(file);
        const replayed = await snapshot(again);
        assert.deepEqual(replayed, before);
        const p10 = await get(again.outgoing, 10);
        assert.equal(p10.cmd, 'pubrel');
        const memory = new MemoryDeliveryStore();
        await fillStore(memory);
        assert.deepEqual({ ...replayed, queued: replayed.queued.map((q) => q.message) }, { ...(await snapshot(memory)), queued: memory.queued().map((q) => q.message) }, 'same as the memory store');
        assert.equal(again.discardedBytes, 0);
        const seq = again.enqueue(message(99));
        assert.ok(seq > Math.max(...before.queued.map((q) => q.seq)), 'seq continues after the highest seen');
        await again.close();
    });

    test('Buffers in properties and payloads come back as Buffers', async () => {
        const file = newPath();
        const store = openFile(file);
        await put(store.outgoing, publish(1, { properties }));
        await store.close();
        const again = openFile(file);
        const packet = (await get(again.outgoing, 1)) as Packet & { properties: typeof properties; payload: Buffer };
        assert.ok(Buffer.isBuffer(packet.properties.correlationData));
        assert.ok(Buffer.isBuffer(packet.payload));
        assert.deepEqual(packet, publish(1, { properties }));
        await again.close();
    });

    test('reopen after clear, and seq continues even with an empty queue (after compaction)', async () => {
        const file = newPath();
        const store = openFile(file);
        for (let n = 0; n < 10; n++) store.dequeue(store.enqueue(message(n)));
        await put(store.outgoing, publish(1));
        await put(store.incoming, publish(2));
        store.outgoing.clear();
        await store.close();
        const again = openFile(file);
        assert.deepEqual(again.outgoing.messageIds(), []);
        assert.deepEqual(again.incoming.messageIds(), [2]);
        assert.ok(again.compactions >= 1, 'dead records are compacted away on open');
        assert.equal(again.enqueue(message('x')), 11);
        await again.close();
        const third = openFile(file);
        assert.equal(third.compactions, 0, 'nothing dead: no rewrite');
        assert.deepEqual(third.queued().map((q) => q.seq), [11]);
        assert.equal(third.enqueue(message('y')), 12);
        await third.close();
    });

    test('handOver is one record: after a reopen the message is in the outgoing store, not queued', async () => {
        const file = newPath();
        const store = openFile(file);
        const seq = store.enqueue(message(1));
        const other = store.enqueue(message(2));
        store.handOver(seq, () => store.outgoing.put(publish(7), () => undefined));
        const size = store.fileSize;
        await store.close();
        const again = openFile(file);
        assert.deepEqual(again.queued().map((q) => q.seq), [other]);
        assert.deepEqual(again.outgoing.messageIds(), [7]);
        await again.close();
        assert.ok(size > 0);
    });
});

/** Writes state, then one last record; returns the file bytes and where that record starts. */
async function fileWithLastRecord(): Promise<{ bytes: Buffer; start: number; expected: Awaited<ReturnType<typeof snapshot>> }> {
    const file = newPath();
    const store = openFile(file);
    await fillStore(store);
    const expected = await snapshot(store);
    const start = store.fileSize;
    await put(store.outgoing, publish(30, { properties, payload: Buffer.alloc(40, 7) }));
    await store.close();
    return { bytes: fs.readFileSync(file), start, expected };
}

describe('FileDeliveryStore: torn or damaged tail', () => {
    test('cut at every byte of the last record: reopens with the earlier records intact', async () => {
        const { bytes, start, expected } = await fileWithLastRecord();
        assert.ok(bytes.length - start > 100);
        const dir = path.join(root, 'torn');
        fs.mkdirSync(dir, { recursive: true });
        for (let cut = start; cut < bytes.length; cut++) {
            const file = path.join(dir, `cut-${cut}`);
            fs.writeFileSync(file, bytes.subarray(0, cut));
            const store = FileDeliveryStore.open(file);
            assert.equal(store.discardedBytes, cut - start, `cut at ${cut}`);
            assert.deepEqual(await snapshot(store), expected, `cut at ${cut}`);
            await put(store.outgoing, publish(31));
            await store.close();
            const again = FileDeliveryStore.open(file);
            assert.equal(again.discardedBytes, 0, 'whole after the repair');
            assert.deepEqual(again.outgoing.messageIds(), [...expected.outgoingIds, 31]);
            await again.close();
            fs.rmSync(file);
        }
        // The whole file has the record.
        const file = path.join(dir, 'whole');
        fs.writeFileSync(file, bytes);
        const whole = FileDeliveryStore.open(file);
        assert.deepEqual(whole.outgoing.messageIds(), [...expected.outgoingIds, 30]);
        await whole.close();
    });

    test('a flipped byte anywhere in the last record discards it', async () => {
        const { bytes, start, expected } = await fileWithLastRecord();
        const dir = path.join(root, 'flip');
        fs.mkdirSync(dir, { recursive: true });
        for (let at = start; at < bytes.length; at++) {
            const damaged = Buffer.from(bytes);
            damaged[at] ^= 0x10;
            const file = path.join(dir, `flip-${at}`);
            fs.writeFileSync(file, damaged);
            const store = FileDeliveryStore.open(file);
            assert.equal(store.discardedBytes, bytes.length - start, `flip at ${at}`);
            assert.deepEqual(await snapshot(store), expected, `flip at ${at}`);
            await store.close();
            fs.rmSync(file);
        }
    });

    test('damage in the middle: everything from the damaged record on is dropped', async () => {
        const file = newPath();
        const store = openFile(file);
        store.enqueue(message(1));
        const cut = store.fileSize;
        store.enqueue(message(2));
        store.enqueue(message(3));
        await store.close();
        const bytes = fs.readFileSync(file);
        bytes[cut + 10] ^= 0xff;
        fs.writeFileSync(file, bytes);
        const again = openFile(file);
        assert.deepEqual(again.queued().map((q) => q.message), [message(1)]);
        assert.equal(again.discardedBytes, bytes.length - cut);
        await again.close();
    });

    test('a file cut inside its header is taken as new; a foreign file is refused, untouched', async () => {
        const file = newPath();
        const store = openFile(file);
        store.enqueue(message(1));
        await store.close();
        fs.writeFileSync(file, fs.readFileSync(file).subarray(0, 5));
        const again = openFile(file);
        assert.deepEqual(again.queued(), []);
        assert.equal(again.discardedBytes, 5);
        await again.close();
        const foreign = path.join(root, 'foreign.json');
        fs.writeFileSync(foreign, '{"flows": []}');
        assert.throws(() => FileDeliveryStore.open(foreign), (err: Error) => err.message.includes(foreign) && /not a delivery store file/.test(err.message));
        assert.equal(fs.readFileSync(foreign, 'utf8'), '{"flows": []}');
    });
});

describe('FileDeliveryStore: compaction', () => {
    test('many put/del cycles keep the file small; the state survives compaction and reopen', async () => {
        const file = newPath();
        const threshold = 64 * 1024;
        const store = openFile(file, { compactThreshold: threshold });
        let maxSize = 0;
        for (let round = 0; round < 300; round++) {
            const seqs = [0, 1, 2, 3, 4].map((i) => store.enqueue(message(`${round}-${i}`)));
            const puts: Promise<void>[] = [];
            for (let i = 0; i < 4; i++) {
                const id = (round % 1000) * 10 + i + 1;
                store.handOver(seqs[i], () => puts.push(put(store.outgoing, publish(id, { payload: Buffer.alloc(200, i) }))));
            }
            await Promise.all(puts);
            for (let i = 0; i < 4; i++) await del(store.outgoing, (round % 1000) * 10 + i + 1);
            if (round % 3 !== 0) store.dequeue(seqs[4]);
            maxSize = Math.max(maxSize, store.fileSize);
        }
        await put(store.outgoing, publish(60000, { properties }));
        assert.ok(store.compactions > 0, 'compacted');
        assert.ok(maxSize < threshold * 2, `file stayed small (max ${maxSize} bytes)`);
        const before = await snapshot(store);
        assert.equal(before.queued.length, 100);
        await store.close();
        assert.ok(fs.statSync(file).size < threshold * 2);
        const again = openFile(file);
        assert.deepEqual(await snapshot(again), before);
        await again.close();
    });

    test('a crash during compaction (a stray temp file, whole or partial) still opens, with the old state', async () => {
        const file = newPath();
        const store = openFile(file);
        await fillStore(store);
        const before = await snapshot(store);
        await store.close();
        fs.writeFileSync(file + '.compact', fs.readFileSync(file).subarray(0, 20));
        const again = openFile(file);
        assert.deepEqual(await snapshot(again), before);
        assert.equal(fs.existsSync(file + '.compact'), false, 'the stray temp file is removed');
        await again.close();
    });

    test('compaction happens with puts waiting for their sync; their callbacks still run', async () => {
        const file = newPath();
        const store = openFile(file, { compactThreshold: 16 * 1024 });
        for (let i = 0; i < 200; i++) store.dequeue(store.enqueue({ ...message(i), payload: Buffer.alloc(300) }));
        const compactionsBefore = store.compactions;
        await Promise.all([1, 2, 3].map((id) => put(store.outgoing, publish(id))));
        assert.ok(store.compactions > compactionsBefore);
        assert.ok(store.fileSize < 16 * 1024);
        await store.close();
        const again = openFile(file);
        assert.deepEqual(again.outgoing.messageIds(), [1, 2, 3]);
        await again.close();
    });
});

describe('FileDeliveryStore: errors', () => {
    test('a path that cannot be created is a clear Error naming it', () => {
        const blocker = path.join(root, 'a-file');
        fs.writeFileSync(blocker, 'x');
        const file = path.join(blocker, 'sub', 'store.mqwj');
        assert.throws(() => FileDeliveryStore.open(file), (err: Error) => err.message.includes(file) && /ENOTDIR|EEXIST/.test(err.message));
    });

    test('a path that cannot be opened (a directory; a read-only directory) is a clear Error naming it', () => {
        const dir = path.join(root, 'is-a-directory');
        fs.mkdirSync(dir);
        assert.throws(() => FileDeliveryStore.open(dir), (err: Error) => err.message.includes(dir) && /EISDIR/.test(err.message));
        // Permissions do not hold for root; where they do, check them too.
        if (process.getuid?.() !== 0) {
            const readOnly = path.join(root, 'read-only');
            fs.mkdirSync(readOnly);
            fs.chmodSync(readOnly, 0o500);
            const file = path.join(readOnly, 'store.mqwj');
            try {
                assert.throws(() => FileDeliveryStore.open(file), (err: Error) => err.message.includes(file) && /EACCES/.test(err.message));
            } finally {
                fs.chmodSync(readOnly, 0o700);
            }
        }
    });

    const realFs: typeof fs = require('fs');
    const noSpace = (): Error => Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });

    test('a write that fails midway (disk full): the call throws or calls back with the path and reason, the partial record is cut off', async () => {
        const file = newPath();
        const store = openFile(file);
        const first = store.enqueue(message(1));
        const writeSync = realFs.writeSync;
        let calls = 0;
        realFs.writeSync = ((fd: number, buffer: Buffer, offset: number, length: number, position: number) => {
            // The first write gets half the record onto the disk, the next one finds it full.
            if (++calls === 1) return writeSync(fd, buffer, offset, Math.floor(length / 2), position);
            throw noSpace();
        }) as typeof realFs.writeSync;
        let putError: Error | undefined;
        let handed: number | undefined;
        try {
            assert.throws(() => store.enqueue(message(2)), (err: Error) => err.message.includes(file) && /ENOSPC/.test(err.message));
            calls = 0;
            await assert.rejects(put(store.outgoing, publish(5)), (err: Error) => err.message.includes(file) && /ENOSPC/.test(err.message));
            calls = 0;
            handed = store.handOver(first, () => store.outgoing.put(publish(6), (err?: Error) => (putError = err)));
        } finally {
            realFs.writeSync = writeSync;
        }
        await new Promise((resolve) => setImmediate(resolve));
        assert.match(String(putError), /ENOSPC/);
        assert.equal(handed, undefined, 'a failed handover write leaves the message queued');
        assert.deepEqual(store.queued().map((q) => q.seq), [first]);
        const third = store.enqueue(message(3));
        await put(store.outgoing, publish(7));
        await store.close();
        const again = openFile(file);
        assert.equal(again.discardedBytes, 0, 'no torn record was left behind');
        assert.deepEqual(again.queued().map((q) => q.seq), [first, third]);
        assert.deepEqual(again.outgoing.messageIds(), [7]);
        await again.close();
    });

    test('a failed sync to disk fails the waiting puts and every later write; close reports it', async () => {
        const file = newPath();
        const store = openFile(file, { syncMethod: 'async' });
        await put(store.outgoing, publish(1));
        const fdatasync = realFs.fdatasync;
        realFs.fdatasync = ((fd: number, cb: (err: Error | null) => void) =>
            process.nextTick(cb, Object.assign(new Error('i/o error'), { code: 'EIO' }))) as typeof realFs.fdatasync;
        try {
            const results = await Promise.allSettled([put(store.outgoing, publish(2)), put(store.outgoing, publish(3))]);
            assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
            assert.match(String((results[0] as PromiseRejectedResult).reason), /cannot sync to disk.*EIO/);
        } finally {
            realFs.fdatasync = fdatasync;
        }
        assert.throws(() => store.enqueue(message(1)), /EIO/);
        await assert.rejects(put(store.outgoing, publish(4)), /EIO/);
        await assert.rejects(store.close(), /EIO/);
        const again = openFile(file);
        assert.ok(again.outgoing.messageIds().includes(1));
        await again.close();
    });

    test('opening a file that is open already is refused; closing lets it open again', async () => {
        const file = newPath();
        const store = openFile(file);
        assert.throws(() => FileDeliveryStore.open(file), /already open/);
        await store.close();
        const again = openFile(file);
        await again.close();
    });

    test('after close: enqueue throws, a put calls back with the error, a del does not throw', async () => {
        const file = newPath();
        const store = openFile(file);
        await put(store.outgoing, publish(1));
        await store.close();
        assert.throws(() => store.enqueue(message(1)), /closed/);
        await assert.rejects(put(store.outgoing, publish(2)), /closed/);
        await del(store.outgoing, 1);
    });
});

describe('FileDeliveryStore: syncing', () => {
    const realFs: typeof fs = require('fs');

    for (const syncMethod of ['async', 'inline'] as const) {
        test(`${syncMethod}: a put calls back only after a sync that followed its write; puts of one tick share one sync`, async () => {
            const store = openFile(newPath(), { syncMethod });
            const events: string[] = [];
            const { writeSync, fdatasync, fdatasyncSync } = realFs;
            realFs.writeSync = ((...args: Parameters<typeof writeSync>) => {
                events.push('write');
                return writeSync(...args);
            }) as typeof writeSync;
            realFs.fdatasync = ((fd: number, cb: (err: Error | null) => void) => {
                events.push('sync start');
                fdatasync(fd, (err) => {
                    events.push('sync end');
                    cb(err);
                });
            }) as typeof fdatasync;
            realFs.fdatasyncSync = ((fd: number) => {
                events.push('sync start');
                fdatasyncSync(fd);
                events.push('sync end');
            }) as typeof fdatasyncSync;
            try {
                const syncsBefore = store.stats.syncs;
                const done: Promise<void>[] = [];
                for (let id = 1; id <= 20; id++) {
                    done.push(put(store.outgoing, publish(id)).then(() => void events.push(`callback ${id}`)));
                }
                store.enqueue(message(1));
                await del(store.outgoing, 20).catch(() => undefined);
                await Promise.all(done.slice(0, 19));
                assert.equal(store.stats.syncs - syncsBefore, 1, 'one sync for the batch');
                const firstCallback = events.findIndex((e) => e.startsWith('callback'));
                assert.deepEqual(events.slice(0, 22), [...Array(22).fill('write')], '20 puts, an enqueue and a del, each written at once');
                assert.deepEqual(events.slice(22, firstCallback), ['sync start', 'sync end']);
                // Later writes need a sync of their own.
                const mark = events.length;
                await put(store.outgoing, publish(30));
                assert.deepEqual(events.slice(mark, mark + 3), ['write', 'sync start', 'sync end']);
            } finally {
                Object.assign(realFs, { writeSync, fdatasync, fdatasyncSync });
            }
            await store.close();
        });
    }

    test('send barrier: a send waits for the sync of every record written before it, in order; puts then call back at once', async () => {
        const store = openFile(newPath());
        const events: string[] = [];
        const { fdatasync } = realFs;
        realFs.fdatasync = ((fd: number, cb: (err: Error | null) => void) => {
            events.push('sync start');
            fdatasync(fd, (err) => {
                events.push('sync end');
                cb(err);
            });
        }) as typeof fdatasync;
        try {
            store.afterDurable(() => events.push('send 0'));
            assert.deepEqual(events, ['send 0'], 'nothing unsynced: at once');
            let putCalledBack = false;
            store.incoming.put(publish(1, { qos: 2 }), () => (putCalledBack = true));
            assert.equal(putCalledBack, true, 'with the barrier in use a put calls back at once');
            const sent = new Promise<void>((resolve) => {
                store.afterDurable(() => events.push('send 1'));
                store.enqueue(message(2));
                store.afterDurable(() => events.push('send 2'));
                store.afterDurable(() => {
                    events.push('send 3');
                    resolve();
                });
            });
            assert.deepEqual(events, ['send 0'], 'the sends wait');
            await sent;
            assert.deepEqual(events.slice(0, 4), ['send 0', 'sync start', 'sync end', 'send 1']);
            assert.ok(events.indexOf('send 2') > events.lastIndexOf('sync end'), 'send 2 after the sync that covers the enqueue');
            assert.deepEqual(events.filter((e) => e.startsWith('send')), ['send 0', 'send 1', 'send 2', 'send 3'], 'in order');
        } finally {
            realFs.fdatasync = fdatasync;
        }
        await store.close();
    });

    test('with syncIncoming false an incoming put calls back at once, written but not synced', async () => {
        const file = newPath();
        const store = openFile(file, { syncIncoming: false });
        let called = false;
        store.incoming.put(publish(1, { qos: 2 }), () => (called = true));
        assert.equal(called, true);
        assert.equal(store.stats.syncs, 0);
        await store.close();
        const again = openFile(file);
        assert.deepEqual(again.incoming.messageIds(), [1]);
        await again.close();
    });
});

describe('FileDeliveryStore: speed', () => {
    /** 10,000 puts with their callbacks in batches of 20 (an in-flight window of 20), then the dels. */
    async function putBatches(store: DeliveryStore, total: number): Promise<number> {
        const start = process.hrtime.bigint();
        for (let base = 0; base < total; base += 20) {
            const batch: Promise<void>[] = [];
            for (let i = 0; i < 20; i++) batch.push(put(store.outgoing, publish(((base + i) % 60000) + 1)));
            await Promise.all(batch);
            for (let i = 0; i < 20; i++) await del(store.outgoing, ((base + i) % 60000) + 1);
        }
        return total / (Number(process.hrtime.bigint() - start) / 1e9);
    }
    /** Like a relay: enqueue, hand over (the put), await the put callbacks of a window of 20, del. */
    async function relay(store: DeliveryStore, total: number): Promise<number> {
        const start = process.hrtime.bigint();
        for (let base = 0; base < total; base += 20) {
            const batch: Promise<void>[] = [];
            for (let i = 0; i < 20; i++) {
                const n = base + i;
                const seq = store.enqueue(message(n));
                store.handOver(seq, () => batch.push(put(store.outgoing, publish((n % 60000) + 1))));
            }
            await Promise.all(batch);
            for (let i = 0; i < 20; i++) await del(store.outgoing, ((base + i) % 60000) + 1);
        }
        return total / (Number(process.hrtime.bigint() - start) / 1e9);
    }

    test('10,000 put-with-callback in batches of 20: file (async and inline sync) vs memory', async (t) => {
        const total = 10000;
        const results: Record<string, number> = {};
        for (const [name, make] of [
            ['memory', () => new MemoryDeliveryStore()],
            ['file async fdatasync', () => openFile(newPath(), { syncMethod: 'async' })],
            ['file inline fdatasyncSync', () => openFile(newPath(), { syncMethod: 'inline' })],
        ] as [string, () => DeliveryStore][]) {
            const store = make();
            await putBatches(store, 1000); // warm up
            results[`puts: ${name}`] = await putBatches(store, total);
            results[`relay: ${name}`] = await relay(store, total);
            await store.close();
        }
        for (const [name, opsPerSecond] of Object.entries(results)) t.diagnostic(`${name}: ${Math.round(opsPerSecond)} ops/s`);
        console.log(JSON.stringify(Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Math.round(v)]))));
        assert.ok(results['puts: file async fdatasync'] > 1000, 'at least 1000 synced puts a second');
    });
});
