/**
 * A DeliveryStore in one append-only file (see journal.ts for the format): QoS 1/2 hold across a
 * restart of Node-RED, a `kill -9` and, for what the broker has been told, a power loss.
 *
 * Durability rules:
 * - every change is written with a synchronous write before the call returns, so once a call has
 *   returned a crash of the process cannot lose it (the kernel holds the page);
 * - a packet put (MQTT.js's outgoing and incoming stores) is also synced to disk before its callback
 *   runs, because MQTT.js tells the broker only in that callback. Puts close together share one
 *   fdatasync (group commit);
 * - everything else (enqueue, dequeue, del, clear, subscriptions) rides on the next sync.
 *
 * The file is rewritten with only its live records (compaction) when it has grown past a threshold
 * and is mostly dead, and on open; the new file is synced and renamed over the old one, so a crash at
 * any step leaves one complete file.
 */
import * as fs from 'fs';
import * as nodePath from 'path';
import type { Packet } from 'mqtt-packet';
import { PacketMap } from './packet-map';
import type { DeliveryStore, OutgoingMessage, QueuedMessage, StoredSubscription } from './types';
import {
    allocRecord,
    checkFileHeader,
    encodedObjectSize,
    encodeObject,
    FILE_HEADER_SIZE,
    fileHeader,
    readObject,
    RECORD_OVERHEAD,
    RecordType,
    scanRecords,
    sealRecord,
    StoreId,
    writeObject,
} from './journal';

export interface FileDeliveryStoreOptions {
    /** Compact when the file is larger than this (bytes) and more than half of it is dead. Default 4 MiB. */
    compactThreshold?: number;
    /**
     * How a batch of puts is synced: 'async' (fs.fdatasync on libuv's thread pool, the event loop runs
     * on meanwhile) or 'inline' (fdatasyncSync in a setImmediate). Default 'async'.
     */
    syncMethod?: 'async' | 'inline';
    /**
     * Sync an incoming QoS 2 PUBLISH to disk before MQTT.js answers PUBREC (default true). MQTT.js reads
     * the next packet from the broker only after that answer, so each incoming QoS 2 message waits for
     * a sync of its own; false keeps it written (safe from a crash of the process, not a power cut)
     * and answers at once.
     */
    syncIncoming?: boolean;
    /** Errors that no call or callback can carry (a failed del, a compaction that fell back). */
    onError?: (error: Error) => void;
}

type DoneCallback = (error?: Error) => void;

const DEFAULT_COMPACT_THRESHOLD = 4 * 1024 * 1024;
/** Paths open in this process: two stores appending to one file would corrupt it. */
const openPaths = new Set<string>();

interface QueueEntry {
    message: OutgoingMessage;
    /** Size of the record that holds it, for the live-bytes count. */
    bytes: number;
}

interface HandOverState {
    seq: number;
    putId: number | undefined;
    written: boolean;
    failed: boolean;
}

function describe(error: unknown): string {
    const e = error as NodeJS.ErrnoException;
    if (e && e.code) return `${e.code}: ${e.message}`;
    return e instanceof Error ? e.message : String(error);
}

function storeError(action: string, path: string, cause: unknown): Error {
    const error = new Error(`delivery store ${path}: ${action}: ${describe(cause)}`);
    (error as Error & { cause?: unknown }).cause = cause;
    const code = (cause as NodeJS.ErrnoException)?.code;
    if (code) (error as NodeJS.ErrnoException).code = code;
    return error;
}

function messageIdOf(packet: { messageId?: unknown }): number {
    const id = packet.messageId;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > 0xffff) throw new Error(`bad messageId ${String(id)}`);
    return id;
}

function syncDirectory(dir: string): void {
    let fd: number;
    try {
        fd = fs.openSync(dir, 'r');
    } catch (error) {
        // Windows cannot open a directory this way; its renames are durable on their own with NTFS.
        if (process.platform === 'win32') return;
        throw error;
    }
    try {
        fs.fsyncSync(fd);
    } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR') throw error;
    } finally {
        fs.closeSync(fd);
    }
}

// ---- Records.

function seqRecord(type: RecordType, seq: number): Buffer {
    const record = allocRecord(9);
    record[RECORD_OVERHEAD] = type;
    record.writeDoubleLE(seq, RECORD_OVERHEAD + 1);
    return sealRecord(record);
}

/** A record of one type that holds a sequence number and an encoded object (Enqueue, HandOver). */
function seqObjectRecord(type: RecordType, seq: number, object: object): Buffer {
    const encoded = encodeObject(object);
    const record = allocRecord(9 + encodedObjectSize(encoded));
    record[RECORD_OVERHEAD] = type;
    record.writeDoubleLE(seq, RECORD_OVERHEAD + 1);
    writeObject(record, RECORD_OVERHEAD + 9, encoded);
    return sealRecord(record);
}

function enqueueRecord(seq: number, message: OutgoingMessage): Buffer {
    return seqObjectRecord(RecordType.Enqueue, seq, message);
}

function putRecord(store: StoreId, packet: Packet): Buffer {
    const encoded = encodeObject(packet);
    const record = allocRecord(2 + encodedObjectSize(encoded));
    record[RECORD_OVERHEAD] = RecordType.Put;
    record[RECORD_OVERHEAD + 1] = store;
    writeObject(record, RECORD_OVERHEAD + 2, encoded);
    return sealRecord(record);
}

function handOverRecord(seq: number, packet: Packet): Buffer {
    return seqObjectRecord(RecordType.HandOver, seq, packet);
}

function delRecord(store: StoreId, messageId: number): Buffer {
    const record = allocRecord(4);
    record[RECORD_OVERHEAD] = RecordType.Del;
    record[RECORD_OVERHEAD + 1] = store;
    record.writeUInt16LE(messageId, RECORD_OVERHEAD + 2);
    return sealRecord(record);
}

function clearRecord(store: StoreId): Buffer {
    const record = allocRecord(2);
    record[RECORD_OVERHEAD] = RecordType.Clear;
    record[RECORD_OVERHEAD + 1] = store;
    return sealRecord(record);
}

function subscriptionsRecord(subscriptions: StoredSubscription[]): Buffer {
    const json = Buffer.from(JSON.stringify(subscriptions), 'utf8');
    const record = allocRecord(1 + json.length);
    record[RECORD_OVERHEAD] = RecordType.Subscriptions;
    json.copy(record, RECORD_OVERHEAD + 1);
    return sealRecord(record);
}

function checkSeq(seq: number): number {
    if (!Number.isSafeInteger(seq) || seq < 1) throw new Error(`bad seq ${seq}`);
    return seq;
}

function checkStore(byte: number): StoreId {
    if (byte !== StoreId.Outgoing && byte !== StoreId.Incoming) throw new Error(`bad store ${byte}`);
    return byte;
}

function checkMessage(object: Record<string, unknown>): OutgoingMessage {
    if (typeof object.topic !== 'string' || !Buffer.isBuffer(object.payload)) throw new Error('bad queued message');
    return object as unknown as OutgoingMessage;
}

function checkPacket(object: Record<string, unknown>): Packet {
    if (typeof object.cmd !== 'string') throw new Error('bad packet');
    messageIdOf(object);
    return object as unknown as Packet;
}

/** One record, decoded completely before anything is applied (a record that fails to decode is damage). */
type Decoded =
    | { type: RecordType.Enqueue; seq: number; message: OutgoingMessage }
    | { type: RecordType.Dequeue; seq: number }
    | { type: RecordType.Put; store: StoreId; packet: Packet }
    | { type: RecordType.Del; store: StoreId; messageId: number }
    | { type: RecordType.Clear; store: StoreId }
    | { type: RecordType.HandOver; seq: number; packet: Packet }
    | { type: RecordType.Subscriptions; subscriptions: StoredSubscription[] }
    | { type: RecordType.NextSeq; seq: number };

function decodeRecord(body: Buffer): Decoded {
    const type = body[0] as RecordType;
    switch (type) {
        case RecordType.Enqueue:
            return { type, seq: checkSeq(body.readDoubleLE(1)), message: checkMessage(readObject(body, 9, body.length)) };
        case RecordType.Dequeue:
        case RecordType.NextSeq:
            if (body.length !== 9) throw new Error('bad length');
            return { type, seq: checkSeq(body.readDoubleLE(1)) };
        case RecordType.Put:
            return { type, store: checkStore(body[1]), packet: checkPacket(readObject(body, 2, body.length)) };
        case RecordType.Del:
            if (body.length !== 4) throw new Error('bad length');
            return { type, store: checkStore(body[1]), messageId: messageIdOf({ messageId: body.readUInt16LE(2) }) };
        case RecordType.Clear:
            if (body.length !== 2) throw new Error('bad length');
            return { type, store: checkStore(body[1]) };
        case RecordType.HandOver:
            return { type, seq: checkSeq(body.readDoubleLE(1)), packet: checkPacket(readObject(body, 9, body.length)) };
        case RecordType.Subscriptions: {
            const subscriptions = JSON.parse(body.toString('utf8', 1)) as StoredSubscription[];
            if (!Array.isArray(subscriptions)) throw new Error('bad subscriptions');
            return { type, subscriptions };
        }
        default:
            throw new Error(`unknown record type ${String(type)}`);
    }
}

export class FileDeliveryStore implements DeliveryStore {
    readonly durable = true;
    readonly outgoing: PacketMap;
    readonly incoming: PacketMap;
    /** Bytes of a torn or damaged tail cut off when the file was opened (0 when it was whole). */
    readonly discardedBytes: number;
    /** How many times the file has been compacted since it was opened (the one on open included). */
    compactions = 0;
    /** Syncs to disk, and how many put callbacks waited for them: group commit at work. */
    readonly stats = { syncs: 0, syncedCallbacks: 0 };

    private readonly path: string;
    private readonly tempPath: string;
    private readonly threshold: number;
    private readonly syncMethod: 'async' | 'inline';
    private readonly syncIncoming: boolean;
    private readonly onError: (error: Error) => void;

    private fd = -1;
    /** Bytes in the file, all of them whole records. */
    private size = 0;
    /** Bytes of the records still needed: compaction would shrink the file to about this. */
    private liveBytes = 0;
    private readonly queue = new Map<number, QueueEntry>();
    private readonly packetBytes: [Map<number, number>, Map<number, number>] = [new Map(), new Map()];
    private subscriptions: StoredSubscription[] = [];
    private subscriptionsJson = '[]';
    private subscriptionsBytes = 0;
    private nextSeq = 1;
    private handingOver: HandOverState | null = null;
    /** Put callbacks written and waiting for a sync. */
    private pending: DoneCallback[] = [];
    /** Records appended, and how many of them a finished sync has made durable. */
    private written = 0;
    private synced = 0;
    /** Work that waits until every record written before it was asked for is durable (in order). */
    private readonly barrier: { target: number; run: () => void }[] = [];
    /** With a send barrier the put callbacks need not wait: nothing leaves before its record is synced. */
    private barrierInUse = false;
    private flushScheduled = false;
    private syncing = false;
    private syncDone: (() => void)[] = [];
    /** A failure after which the file no longer matches what was written (a failed sync). */
    private failure: Error | null = null;
    private closing: Promise<void> | null = null;
    /** After a failed compaction, do not try again before the file has grown this far. */
    private compactAfter = 0;

    private constructor(path: string, options: FileDeliveryStoreOptions) {
        this.path = path;
        this.tempPath = path + '.compact';
        this.threshold = options.compactThreshold ?? DEFAULT_COMPACT_THRESHOLD;
        this.syncMethod = options.syncMethod ?? 'async';
        this.syncIncoming = options.syncIncoming ?? true;
        this.onError = options.onError ?? (() => undefined);
        this.outgoing = new PacketMap({
            put: (packet, done) => this.persistPut(StoreId.Outgoing, packet, done),
            del: (messageId) => this.persistDel(StoreId.Outgoing, messageId),
            clear: () => this.persistClear(StoreId.Outgoing),
        });
        this.incoming = new PacketMap({
            put: (packet, done) => this.persistPut(StoreId.Incoming, packet, done),
            del: (messageId) => this.persistDel(StoreId.Incoming, messageId),
            clear: () => this.persistClear(StoreId.Incoming),
        });
        this.discardedBytes = 0;
    }

    /**
     * Opens (or creates, with missing directories) the store at `path` and replays it. Throws an Error
     * naming the path and the reason when the file cannot be opened, read or written, or is not a store.
     */
    static open(path: string, options: FileDeliveryStoreOptions = {}): FileDeliveryStore {
        const resolved = nodePath.resolve(path);
        if (openPaths.has(resolved)) {
            throw new Error(`delivery store ${resolved}: already open in this process (close the previous store first)`);
        }
        const store = new FileDeliveryStore(resolved, options);
        store.load();
        openPaths.add(resolved);
        return store;
    }

    /** The file's current size in bytes. */
    get fileSize(): number {
        return this.size;
    }

    private load(): void {
        const dir = nodePath.dirname(this.path);
        try {
            fs.mkdirSync(dir, { recursive: true });
        } catch (error) {
            throw storeError('cannot create its directory', this.path, error);
        }
        // A compaction that crashed before its rename: the old file is the complete one.
        try {
            fs.unlinkSync(this.tempPath);
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw storeError('cannot remove a stale compaction file', this.tempPath, error);
        }
        let data: Buffer;
        try {
            this.fd = fs.openSync(this.path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
            const length = fs.fstatSync(this.fd).size;
            data = Buffer.allocUnsafe(length);
            let read = 0;
            while (read < length) {
                const n = fs.readSync(this.fd, data, read, length - read, read);
                if (n === 0) break;
                read += n;
            }
            data = data.subarray(0, read);
        } catch (error) {
            this.closeQuietly();
            throw storeError('cannot open', this.path, error);
        }
        try {
            this.replay(data);
        } catch (error) {
            this.closeQuietly();
            throw error;
        }
    }

    private replay(data: Buffer): void {
        const header = checkFileHeader(data);
        if (header === 'foreign') {
            throw new Error(`delivery store ${this.path}: not a delivery store file (it does not start with "MQWJ"); move it away or choose another file`);
        }
        if (header === 'version') {
            throw new Error(`delivery store ${this.path}: written in format version ${data.readUInt32LE(4)}, which this version of the package does not read`);
        }
        let validEnd = FILE_HEADER_SIZE;
        let live = FILE_HEADER_SIZE;
        if (header === 'ok') {
            ({ validEnd } = scanRecords(data, (body) => {
                const record = decodeRecord(body);
                live += this.apply(record, RECORD_OVERHEAD + body.length);
            }));
        }
        (this as { discardedBytes: number }).discardedBytes = header === 'ok' ? data.length - validEnd : data.length;
        this.size = header === 'ok' ? validEnd : 0;
        this.liveBytes = live;
        if (this.size === 0 || this.size !== data.length || this.size > this.liveBytes) {
            // A new file, a torn tail to cut off, or dead records: write the live state afresh.
            try {
                this.compact();
            } catch (error) {
                throw storeError('cannot write', this.path, error);
            }
        }
    }

    /** Applies a replayed record; returns how many live bytes it adds (it may take some away). */
    private apply(record: Decoded, bytes: number): number {
        switch (record.type) {
            case RecordType.Enqueue:
                this.nextSeq = Math.max(this.nextSeq, record.seq + 1);
                return this.queueAdd(record.seq, record.message, bytes);
            case RecordType.Dequeue:
                this.nextSeq = Math.max(this.nextSeq, record.seq + 1);
                return -this.queueRemove(record.seq);
            case RecordType.NextSeq:
                // Only ever first in a compacted file, so it stays live.
                this.nextSeq = Math.max(this.nextSeq, record.seq);
                return bytes;
            case RecordType.Put:
                this.storeOf(record.store).restore(record.packet);
                return this.packetSet(record.store, messageIdOf(record.packet), bytes);
            case RecordType.HandOver: {
                this.nextSeq = Math.max(this.nextSeq, record.seq + 1);
                const removed = this.queueRemove(record.seq);
                this.outgoing.restore(record.packet);
                return this.packetSet(StoreId.Outgoing, messageIdOf(record.packet), bytes) - removed;
            }
            case RecordType.Del: {
                const store = this.storeOf(record.store);
                if (!this.packetBytes[record.store].has(record.messageId)) return 0;
                // Replaying: nothing is written, and nobody listens yet, so a plain del is a forget.
                this.withoutPersist(() => store.del({ messageId: record.messageId }, () => undefined));
                return -this.packetForget(record.store, record.messageId);
            }
            case RecordType.Clear: {
                this.withoutPersist(() => this.storeOf(record.store).clear());
                return -this.packetForgetAll(record.store);
            }
            case RecordType.Subscriptions: {
                const old = this.subscriptionsBytes;
                this.subscriptions = record.subscriptions;
                this.subscriptionsJson = JSON.stringify(record.subscriptions);
                this.subscriptionsBytes = bytes;
                return bytes - old;
            }
        }
    }

    private replaying = false;

    private withoutPersist(fn: () => void): void {
        this.replaying = true;
        try {
            fn();
        } finally {
            this.replaying = false;
        }
    }

    private storeOf(id: StoreId): PacketMap {
        return id === StoreId.Outgoing ? this.outgoing : this.incoming;
    }

    // ---- Live-bytes bookkeeping; each returns the change in live bytes.

    private queueAdd(seq: number, message: OutgoingMessage, bytes: number): number {
        const old = this.queue.get(seq);
        this.queue.set(seq, { message, bytes });
        return bytes - (old ? old.bytes : 0);
    }

    private queueRemove(seq: number): number {
        const entry = this.queue.get(seq);
        if (!entry) return 0;
        this.queue.delete(seq);
        return entry.bytes;
    }

    private packetSet(store: StoreId, messageId: number, bytes: number): number {
        const sizes = this.packetBytes[store];
        const old = sizes.get(messageId) ?? 0;
        sizes.set(messageId, bytes);
        return bytes - old;
    }

    private packetForget(store: StoreId, messageId: number): number {
        const sizes = this.packetBytes[store];
        const old = sizes.get(messageId) ?? 0;
        sizes.delete(messageId);
        return old;
    }

    private packetForgetAll(store: StoreId): number {
        let total = 0;
        for (const bytes of this.packetBytes[store].values()) total += bytes;
        this.packetBytes[store].clear();
        return total;
    }

    // ---- Writing.

    /** The reason this store cannot take a write, if any. */
    private unusable(): Error | null {
        if (this.fd < 0 || this.closing) return new Error(`delivery store ${this.path}: closed`);
        return this.failure;
    }

    /** Appends whole records with synchronous writes; throws (the file unchanged) when that fails. */
    private append(record: Buffer): void {
        const unusable = this.unusable();
        if (unusable) throw unusable;
        let written = 0;
        try {
            while (written < record.length) {
                const n = fs.writeSync(this.fd, record, written, record.length - written, this.size + written);
                if (n <= 0) throw new Error('the write made no progress');
                written += n;
            }
        } catch (error) {
            const wrapped = storeError('cannot write', this.path, error);
            if (written > 0) {
                // A partial record would hide every later one from replay: cut it off again.
                try {
                    fs.ftruncateSync(this.fd, this.size);
                } catch {
                    this.failure = wrapped;
                }
            }
            throw wrapped;
        }
        this.size += record.length;
        this.written++;
        if (this.compactionDue()) this.scheduleFlush();
    }

    private compactionDue(): boolean {
        return this.size > this.threshold && this.size > this.compactAfter && this.liveBytes * 2 < this.size;
    }

    private persistPut(storeId: StoreId, packet: Packet, done: DoneCallback): void {
        // Never throws: MQTT.js calls this deep inside its own handlers. Errors go to the callback.
        let messageId: number;
        let record: Buffer;
        const handOver = storeId === StoreId.Outgoing && this.handingOver && !this.handingOver.written && !this.handingOver.failed ? this.handingOver : null;
        try {
            messageId = messageIdOf(packet);
            record = handOver ? handOverRecord(handOver.seq, packet) : putRecord(storeId, packet);
            this.append(record);
        } catch (error) {
            if (handOver) handOver.failed = true;
            const e = error instanceof Error && error.message.startsWith('delivery store ') ? error : storeError('cannot write', this.path, error);
            process.nextTick(done, e);
            return;
        }
        let change = this.packetSet(storeId, messageId, record.length);
        if (handOver) {
            handOver.written = true;
            handOver.putId = messageId;
            change -= this.queueRemove(handOver.seq);
        }
        this.liveBytes += change;
        if ((storeId === StoreId.Incoming && !this.syncIncoming) || this.barrierInUse) {
            // Written: safe from a crash of the process. The send barrier (or, for syncIncoming
            // false, nothing) keeps the broker from hearing of it before it is synced.
            done();
            this.scheduleFlush();
            return;
        }
        this.pending.push(done);
        this.scheduleFlush();
    }

    /**
     * The send barrier: runs `send` once every record written so far is on disk, in the order the
     * sends were asked for. The connection puts each packet it writes to the broker through this, so
     * the broker never hears of a message before its record is synced, and one sync covers all that
     * was written meanwhile; put callbacks then run at once, and MQTT.js reads on without waiting for
     * each sync (an incoming QoS 2 message no longer costs a sync of its own).
     */
    afterDurable(send: () => void): void {
        this.barrierInUse = true;
        if (this.barrier.length === 0 && (this.synced >= this.written || this.fd < 0)) {
            send();
            return;
        }
        this.barrier.push({ target: this.written, run: send });
        this.scheduleFlush();
    }

    /** Runs, in order, the sends whose records are now durable (all of them once the store has failed or closed). */
    private releaseBarrier(): void {
        const all = this.failure !== null || this.fd < 0;
        while (this.barrier.length > 0 && (all || this.barrier[0].target <= this.synced)) {
            const { run } = this.barrier.shift() as { run: () => void };
            try {
                run();
            } catch (thrown) {
                process.nextTick(() => {
                    throw thrown;
                });
            }
        }
    }

    // A del is written but not synced before going on. It follows the broker's final acknowledgement,
    // so losing it to a power cut (not to a crash of the process: the kernel has the page) only means
    // the packet comes back after the restart and is sent once more: a duplicate QoS 1 PUBLISH, which
    // QoS 1 allows, or a PUBREL the broker answers with PUBCOMP (QoS 2 PUBLISHes are replaced by their
    // PUBREL, a synced put, before they are deleted); for the incoming store, a stale QoS 2 PUBLISH that
    // the next PUBLISH with the same id replaces. The next sync makes it durable anyway.
    private persistDel(storeId: StoreId, messageId: number): void {
        if (this.replaying) return;
        if (!this.packetBytes[storeId].has(messageId)) return;
        try {
            this.append(delRecord(storeId, messageId));
        } catch (error) {
            this.onError(error as Error);
            return;
        }
        this.liveBytes -= this.packetForget(storeId, messageId);
    }

    private persistClear(storeId: StoreId): void {
        if (this.replaying) return;
        if (this.packetBytes[storeId].size === 0) return;
        try {
            this.append(clearRecord(storeId));
        } catch (error) {
            this.onError(error as Error);
            return;
        }
        this.liveBytes -= this.packetForgetAll(storeId);
    }

    enqueue(message: OutgoingMessage): number {
        const seq = this.nextSeq;
        const record = enqueueRecord(seq, message);
        this.append(record);
        this.nextSeq++;
        this.liveBytes += this.queueAdd(seq, message, record.length);
        return seq;
    }

    handOver(seq: number, publish: () => void): number | undefined {
        if (!this.queue.has(seq)) {
            // Not queued (already handed over or dequeued): publish, but there is nothing to replace.
            const puts = this.outgoing.puts;
            publish();
            return this.outgoing.puts !== puts ? this.outgoing.lastPutId : undefined;
        }
        const state: HandOverState = { seq, putId: undefined, written: false, failed: false };
        const outer = this.handingOver;
        this.handingOver = state;
        try {
            publish();
        } finally {
            this.handingOver = outer;
        }
        if (state.failed) {
            // The put could not be written and its callback has the error: the message stays queued,
            // on file as in memory; MQTT.js sends nothing for a put that failed.
            return undefined;
        }
        if (!state.written) this.dequeue(seq);
        return state.putId;
    }

    dequeue(seq: number): void {
        if (!this.queue.has(seq)) return;
        this.append(seqRecord(RecordType.Dequeue, seq));
        this.liveBytes -= this.queueRemove(seq);
    }

    queued(): QueuedMessage[] {
        const out: QueuedMessage[] = [];
        for (const [seq, entry] of this.queue) out.push({ seq, message: entry.message });
        return out;
    }

    loadSubscriptions(): StoredSubscription[] {
        return this.subscriptions.map((s) => ({ ...s }));
    }

    saveSubscriptions(subscriptions: StoredSubscription[]): void {
        const copy = subscriptions.map((s) => ({ filter: s.filter, qos: s.qos, id: s.id }));
        const json = JSON.stringify(copy);
        if (json === this.subscriptionsJson) return;
        const record = subscriptionsRecord(copy);
        this.append(record);
        this.liveBytes += record.length - this.subscriptionsBytes;
        this.subscriptions = copy;
        this.subscriptionsJson = json;
        this.subscriptionsBytes = record.length;
        // Synced with the next batch (or on its own within a tick): no one waits on it.
        this.pending.push(() => undefined);
        this.scheduleFlush();
    }

    // ---- Syncing (group commit) and compaction.

    private scheduleFlush(): void {
        if (this.flushScheduled || this.syncing) return;
        this.flushScheduled = true;
        setImmediate(() => this.flush());
    }

    /** Makes every record written so far durable, then runs the callbacks that waited for it. */
    private flush(): void {
        this.flushScheduled = false;
        if (this.fd < 0 || this.syncing) return;
        if (this.compactionDue()) {
            const batch = this.takePending();
            let error: Error | undefined;
            try {
                this.compact();
            } catch (compactError) {
                // The old file is whole still; sync it instead, and try again once it has grown more.
                this.compactAfter = this.size + this.threshold;
                this.onError(storeError('cannot compact (will try again later)', this.path, compactError));
                error = this.syncInline();
            }
            if (!error) this.synced = this.written;
            this.runCallbacks(batch, error);
            this.releaseBarrier();
            return;
        }
        const barrierWaits = this.barrier.length > 0 && this.synced < this.written;
        if (this.pending.length === 0 && !barrierWaits) {
            this.releaseBarrier();
            return;
        }
        const batch = this.takePending();
        const target = this.written;
        if (this.syncMethod === 'inline') {
            const error = this.syncInline();
            if (!error) this.synced = target;
            this.runCallbacks(batch, error);
            this.releaseBarrier();
            return;
        }
        this.syncing = true;
        fs.fdatasync(this.fd, (syncError) => {
            this.syncing = false;
            this.stats.syncs++;
            const error = syncError ? this.syncFailed(syncError) : this.failure ?? undefined;
            if (!error) this.synced = Math.max(this.synced, target);
            const waiting = this.syncDone;
            this.syncDone = [];
            this.runCallbacks(batch, error);
            this.releaseBarrier();
            for (const resume of waiting) resume();
            if (this.pending.length > 0 || this.compactionDue() || (this.barrier.length > 0 && this.synced < this.written)) this.scheduleFlush();
        });
    }

    private takePending(): DoneCallback[] {
        const batch = this.pending;
        this.pending = [];
        return batch;
    }

    private syncInline(): Error | undefined {
        if (this.failure) return this.failure;
        try {
            fs.fdatasyncSync(this.fd);
            this.stats.syncs++;
            return undefined;
        } catch (error) {
            return this.syncFailed(error);
        }
    }

    /** After a failed fsync the kernel may have dropped the dirty pages: nothing written since is trusted. */
    private syncFailed(error: unknown): Error {
        this.failure = storeError('cannot sync to disk', this.path, error);
        return this.failure;
    }

    private runCallbacks(batch: DoneCallback[], error: Error | undefined): void {
        this.stats.syncedCallbacks += batch.length;
        for (const done of batch) {
            try {
                done(error);
            } catch (thrown) {
                // A callback that throws must not keep the others from running; rethrow it outside.
                process.nextTick(() => {
                    throw thrown;
                });
            }
        }
    }

    /**
     * Writes the live state to a new file, syncs it, renames it over the old one and syncs the
     * directory. A crash before the rename leaves the old file (and a temp file removed on open); after
     * it, the new one. Throws with the old file still in use when any step before the rename fails.
     */
    private compact(): void {
        const chunks: Buffer[] = [fileHeader(), seqRecord(RecordType.NextSeq, this.nextSeq)];
        const queueSizes: [number, number][] = [];
        for (const [seq, entry] of this.queue) {
            const record = enqueueRecord(seq, entry.message);
            chunks.push(record);
            queueSizes.push([seq, record.length]);
        }
        const packetSizes: [Map<number, number>, Map<number, number>] = [new Map(), new Map()];
        for (const storeId of [StoreId.Outgoing, StoreId.Incoming]) {
            const store = this.storeOf(storeId);
            for (const messageId of store.messageIds()) {
                store.get({ messageId }, (err, packet) => {
                    if (err || !packet) return;
                    const record = putRecord(storeId, packet);
                    chunks.push(record);
                    packetSizes[storeId].set(messageId, record.length);
                });
            }
        }
        let subscriptionsBytes = 0;
        if (this.subscriptions.length > 0) {
            const record = subscriptionsRecord(this.subscriptions);
            chunks.push(record);
            subscriptionsBytes = record.length;
        }
        const dir = nodePath.dirname(this.path);
        let fd = -1;
        let size = 0;
        try {
            fd = fs.openSync(this.tempPath, 'w', 0o600);
            for (let i = 0; i < chunks.length; ) {
                // Writes in pieces of about 1 MiB rather than one Buffer the size of the whole state.
                let end = i;
                let bytes = 0;
                while (end < chunks.length && (end === i || bytes + chunks[end].length <= 1 << 20)) bytes += chunks[end++].length;
                const piece = end - i === 1 ? chunks[i] : Buffer.concat(chunks.slice(i, end), bytes);
                let written = 0;
                while (written < piece.length) {
                    const n = fs.writeSync(fd, piece, written, piece.length - written, size + written);
                    if (n <= 0) throw new Error('the write made no progress');
                    written += n;
                }
                size += piece.length;
                i = end;
            }
            fs.fsyncSync(fd);
            fs.renameSync(this.tempPath, this.path);
        } catch (error) {
            if (fd >= 0) {
                try {
                    fs.closeSync(fd);
                } catch {
                    /* already failing */
                }
            }
            try {
                fs.unlinkSync(this.tempPath);
            } catch {
                /* may not exist */
            }
            throw error;
        }
        // The rename is done: the new file is the store from here on, whatever happens next.
        const old = this.fd;
        this.fd = fd;
        this.size = size;
        this.compactions++;
        if (old >= 0) {
            try {
                fs.closeSync(old);
            } catch {
                /* the data is in the new file */
            }
        }
        for (const [seq, bytes] of queueSizes) {
            const entry = this.queue.get(seq);
            if (entry) entry.bytes = bytes;
        }
        this.packetBytes[0] = packetSizes[0];
        this.packetBytes[1] = packetSizes[1];
        this.subscriptionsBytes = subscriptionsBytes;
        this.liveBytes = size;
        this.compactAfter = 0;
        // Until the directory is synced a power cut may bring back the old name; both files are whole.
        try {
            syncDirectory(dir);
        } catch (error) {
            this.syncFailed(error);
            throw this.failure;
        }
    }

    async close(): Promise<void> {
        if (!this.closing) this.closing = this.finish();
        return this.closing;
    }

    private async finish(): Promise<void> {
        while (this.syncing) await new Promise<void>((resume) => this.syncDone.push(resume));
        let error: Error | undefined;
        if (this.fd >= 0) {
            error = this.syncInline();
            if (!error) this.synced = this.written;
            this.runCallbacks(this.takePending(), error);
            this.releaseBarrier();
            try {
                fs.closeSync(this.fd);
            } catch (closeError) {
                error = error ?? storeError('cannot close', this.path, closeError);
            }
            this.fd = -1;
        }
        openPaths.delete(this.path);
        if (error) throw error;
    }

    private closeQuietly(): void {
        if (this.fd >= 0) {
            try {
                fs.closeSync(this.fd);
            } catch {
                /* already failing */
            }
            this.fd = -1;
        }
    }
}
