/**
 * A DeliveryStore in one append-only file (see journal.ts for the format): QoS 1/2 hold across a
 * restart of Node-RED, a `kill -9` and, for what the broker has been told, a power loss.
 *
 * Durability rules:
 * - every change is written with a synchronous write before the call returns, so once a call has
 *   returned a crash of the process cannot lose it (the kernel holds the page);
 * - a packet put (MQTT.js's outgoing and incoming stores) is also synced to disk before its callback
 *   runs, because MQTT.js tells the broker only in that callback, unless the send barrier holds what
 *   goes to the broker instead. Puts close together share one fdatasync (group-commit.ts);
 * - everything else (enqueue, dequeue, del, clear, subscriptions) rides on the next sync.
 *
 * The file is rewritten with only its live records (compaction) when it has grown past a threshold
 * and is mostly dead, and on open; the new file is synced and renamed over the old one, so a crash at
 * any step leaves one complete file.
 */
import * as fs from 'fs';
import * as nodePath from 'path';
import type { Packet } from 'mqtt-packet';
import { GroupCommit, SyncStats } from './group-commit';
import {
    checkFileHeader,
    clearRecord,
    decodeRecord,
    DecodedRecord,
    delRecord,
    dequeueRecord,
    enqueueRecord,
    FILE_HEADER_SIZE,
    fileHeader,
    handOverRecord,
    messageIdOf,
    nextSeqRecord,
    putRecord,
    RECORD_OVERHEAD,
    RecordType,
    scanRecords,
    StoreId,
    subscriptionsRecord,
} from './journal';
import { AsyncSync, JournalFile, storeError } from './journal-file';
import { LiveBytes } from './live-bytes';
import { PacketMap } from './packet-map';
import type { DeliveryStore, OutgoingMessage, QueuedMessage, StoredSubscription } from './types';

export interface FileDeliveryStoreOptions {
    /** Compact when the file is larger than this (bytes) and more than half of it is dead. Default 4 MiB. */
    compactThreshold?: number;
    /**
     * How a batch of puts is synced: 'async' (fs.fdatasync on libuv's thread pool, the event loop runs
     * on meanwhile) or 'inline' (fdatasyncSync in a setImmediate). Default 'async'.
     */
    syncMethod?: 'async' | 'inline';
    /** The asynchronous sync of syncMethod 'async'; default fs.fdatasync. A test can hold it to see what waits. */
    fdatasync?: AsyncSync;
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

/** A handOver under way: the outgoing put MQTT.js makes during it replaces the queued message. */
interface HandOverState {
    seq: number;
    putId: number | undefined;
    written: boolean;
    failed: boolean;
}

export class FileDeliveryStore implements DeliveryStore {
    readonly durable = true;
    readonly outgoing: PacketMap;
    readonly incoming: PacketMap;
    /** Bytes of a torn or damaged tail cut off when the file was opened (0 when it was whole). */
    readonly discardedBytes: number = 0;
    /** How many times the file has been compacted since it was opened (the one on open included). */
    compactions = 0;
    /** Syncs to disk, and how many put callbacks waited for them: group commit at work. */
    readonly stats: SyncStats;
    readonly syncMethod: 'async' | 'inline';
    readonly syncIncoming: boolean;

    private readonly file: JournalFile;
    private readonly commit: GroupCommit;
    private readonly threshold: number;
    private readonly onError: (error: Error) => void;
    private live = new LiveBytes(FILE_HEADER_SIZE);
    private readonly queue = new Map<number, OutgoingMessage>();
    private subscriptions: StoredSubscription[] = [];
    private subscriptionsJson = '[]';
    private nextSeq = 1;
    private handingOver: HandOverState | null = null;
    /** Set while replaying, when the packet maps change without writing anything. */
    private replaying = false;
    private closing: Promise<void> | null = null;
    /** After a failed compaction, do not try again before the file has grown this far. */
    private compactAfter = 0;

    private constructor(path: string, options: FileDeliveryStoreOptions) {
        this.threshold = options.compactThreshold ?? DEFAULT_COMPACT_THRESHOLD;
        this.syncMethod = options.syncMethod ?? 'async';
        this.syncIncoming = options.syncIncoming ?? true;
        this.onError = options.onError ?? (() => undefined);
        this.file = new JournalFile(path, options.fdatasync ?? ((fd, done) => fs.fdatasync(fd, done)));
        this.commit = new GroupCommit(this.file, this.syncMethod, {
            due: () => this.compactionDue(),
            run: () => this.compact(),
            failed: (error) => {
                this.compactAfter = this.file.size + this.threshold;
                this.onError(storeError('cannot compact (will try again later)', path, error));
            },
        });
        this.stats = this.commit.stats;
        this.outgoing = this.packetMap(StoreId.Outgoing);
        this.incoming = this.packetMap(StoreId.Incoming);
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
        const data = store.file.openAndRead();
        try {
            store.replay(data);
        } catch (error) {
            store.file.closeQuietly();
            throw error;
        }
        openPaths.add(resolved);
        return store;
    }

    /** The file's current size in bytes. */
    get fileSize(): number {
        return this.file.size;
    }

    private get path(): string {
        return this.file.path;
    }

    private packetMap(storeId: StoreId): PacketMap {
        return new PacketMap({
            put: (packet, done) => this.persistPut(storeId, packet, done),
            del: (messageId) => this.persistDel(storeId, messageId),
            clear: () => this.persistClear(storeId),
        });
    }

    private storeOf(id: StoreId): PacketMap {
        return id === StoreId.Outgoing ? this.outgoing : this.incoming;
    }

    // ---- Replay.

    private replay(data: Buffer): void {
        const header = checkFileHeader(data);
        if (header === 'foreign') {
            throw new Error(`delivery store ${this.path}: not a delivery store file (it does not start with "MQWJ"); move it away or choose another file`);
        }
        if (header === 'version') {
            throw new Error(`delivery store ${this.path}: written in format version ${data.readUInt32LE(4)}, which this version of the package does not read`);
        }
        let validEnd = FILE_HEADER_SIZE;
        if (header === 'ok') {
            ({ validEnd } = scanRecords(data, (body) => this.apply(decodeRecord(body), RECORD_OVERHEAD + body.length)));
        }
        (this as { discardedBytes: number }).discardedBytes = header === 'ok' ? data.length - validEnd : data.length;
        this.file.size = header === 'ok' ? validEnd : 0;
        if (this.file.size === 0 || this.file.size !== data.length || this.file.size > this.live.total) {
            // A new file, a torn tail to cut off, or dead records: write the live state afresh.
            try {
                this.compact();
            } catch (error) {
                throw storeError('cannot write', this.path, error);
            }
        }
    }

    /** Applies a replayed record of `bytes` bytes to the state and to the count of live bytes. */
    private apply(record: DecodedRecord, bytes: number): void {
        switch (record.type) {
            case RecordType.Enqueue:
                this.nextSeq = Math.max(this.nextSeq, record.seq + 1);
                this.queueAdd(record.seq, record.message, bytes);
                return;
            case RecordType.Dequeue:
                this.nextSeq = Math.max(this.nextSeq, record.seq + 1);
                this.queueRemove(record.seq);
                return;
            case RecordType.NextSeq:
                // Only ever first in a compacted file, so it stays live.
                this.nextSeq = Math.max(this.nextSeq, record.seq);
                this.live.addPermanent(bytes);
                return;
            case RecordType.Put:
                this.storeOf(record.store).restore(record.packet);
                this.live.setPacket(record.store, messageIdOf(record.packet), bytes);
                return;
            case RecordType.HandOver:
                this.nextSeq = Math.max(this.nextSeq, record.seq + 1);
                this.queueRemove(record.seq);
                this.outgoing.restore(record.packet);
                this.live.setPacket(StoreId.Outgoing, messageIdOf(record.packet), bytes);
                return;
            case RecordType.Del:
                if (!this.live.hasPacket(record.store, record.messageId)) return;
                // Nobody listens yet, so a del that writes nothing is a forget.
                this.withoutWriting(() => this.storeOf(record.store).del({ messageId: record.messageId }, () => undefined));
                this.live.removePacket(record.store, record.messageId);
                return;
            case RecordType.Clear:
                this.withoutWriting(() => this.storeOf(record.store).clear());
                this.live.removePackets(record.store);
                return;
            case RecordType.Subscriptions:
                this.subscriptions = record.subscriptions;
                this.subscriptionsJson = JSON.stringify(record.subscriptions);
                this.live.setSubscriptions(bytes);
                return;
        }
    }

    private withoutWriting(change: () => void): void {
        this.replaying = true;
        try {
            change();
        } finally {
            this.replaying = false;
        }
    }

    private queueAdd(seq: number, message: OutgoingMessage, bytes: number): void {
        this.queue.set(seq, message);
        this.live.setQueued(seq, bytes);
    }

    private queueRemove(seq: number): void {
        this.queue.delete(seq);
        this.live.removeQueued(seq);
    }

    // ---- Writing.

    /** Appends a whole record with synchronous writes; throws (the file unchanged) when that fails. */
    private append(record: Buffer): void {
        if (this.closing) throw new Error(`delivery store ${this.path}: closed`);
        this.file.append(record);
        this.commit.recordAppended();
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
        this.live.setPacket(storeId, messageId, record.length);
        if (handOver) {
            handOver.written = true;
            handOver.putId = messageId;
            this.queueRemove(handOver.seq);
        }
        if ((storeId === StoreId.Incoming && !this.syncIncoming) || this.commit.barrierInUse) {
            // Written: safe from a crash of the process. The send barrier (or, for syncIncoming
            // false, nothing) keeps the broker from hearing of it before it is synced.
            done();
            this.commit.schedule();
            return;
        }
        this.commit.whenSynced(done);
    }

    // A del is written but not synced before going on. It follows the broker's final acknowledgement,
    // so losing it to a power cut (not to a crash of the process: the kernel has the page) only means
    // the packet comes back after the restart and is sent once more: a duplicate QoS 1 PUBLISH, which
    // QoS 1 allows, or a PUBREL the broker answers with PUBCOMP (QoS 2 PUBLISHes are replaced by their
    // PUBREL, a synced put, before they are deleted); for the incoming store, a stale QoS 2 PUBLISH that
    // the next PUBLISH with the same id replaces. The next sync makes it durable anyway.
    private persistDel(storeId: StoreId, messageId: number): void {
        if (this.replaying) return;
        if (!this.live.hasPacket(storeId, messageId)) return;
        try {
            this.append(delRecord(storeId, messageId));
        } catch (error) {
            this.onError(error as Error);
            return;
        }
        this.live.removePacket(storeId, messageId);
    }

    private persistClear(storeId: StoreId): void {
        if (this.replaying) return;
        if (!this.live.hasPackets(storeId)) return;
        try {
            this.append(clearRecord(storeId));
        } catch (error) {
            this.onError(error as Error);
            return;
        }
        this.live.removePackets(storeId);
    }

    enqueue(message: OutgoingMessage): number {
        const seq = this.nextSeq;
        const record = enqueueRecord(seq, message);
        this.append(record);
        this.nextSeq++;
        this.queueAdd(seq, message, record.length);
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
        this.append(dequeueRecord(seq));
        this.queueRemove(seq);
    }

    queued(): QueuedMessage[] {
        return [...this.queue].map(([seq, message]) => ({ seq, message }));
    }

    afterDurable(send: () => void): void {
        this.commit.afterDurable(send);
    }

    loadSubscriptions(): StoredSubscription[] {
        return this.subscriptions.map((s) => ({ ...s }));
    }

    saveSubscriptions(subscriptions: StoredSubscription[]): void {
        const copy = subscriptions.map((s) => ({ filter: s.filter, qos: s.qos, id: s.id, ...(s.options ? { options: s.options } : {}) }));
        const json = JSON.stringify(copy);
        if (json === this.subscriptionsJson) return;
        const record = subscriptionsRecord(copy);
        this.append(record);
        this.live.setSubscriptions(record.length);
        this.subscriptions = copy;
        this.subscriptionsJson = json;
        // Synced with the next batch (or on its own within a tick): no one waits on it.
        this.commit.whenSynced(() => undefined);
    }

    // ---- Compaction.

    private compactionDue(): boolean {
        const size = this.file.size;
        return size > this.threshold && size > this.compactAfter && this.live.total * 2 < size;
    }

    /**
     * Writes the live state to a new file that takes the old one's place (see JournalFile.replaceWith),
     * and syncs the directory. Throws with the old file still in use when any step before the rename
     * fails.
     */
    private compact(): void {
        const live = new LiveBytes(FILE_HEADER_SIZE);
        const chunks: Buffer[] = [fileHeader()];
        const add = (record: Buffer): number => {
            chunks.push(record);
            return record.length;
        };
        live.addPermanent(add(nextSeqRecord(this.nextSeq)));
        for (const [seq, message] of this.queue) live.setQueued(seq, add(enqueueRecord(seq, message)));
        for (const storeId of [StoreId.Outgoing, StoreId.Incoming]) {
            const store = this.storeOf(storeId);
            for (const messageId of store.messageIds()) {
                store.get({ messageId }, (err, packet) => {
                    if (!err && packet) live.setPacket(storeId, messageId, add(putRecord(storeId, packet)));
                });
            }
        }
        if (this.subscriptions.length > 0) live.setSubscriptions(add(subscriptionsRecord(this.subscriptions)));
        this.file.replaceWith(chunks);
        this.compactions++;
        this.live = live;
        this.compactAfter = 0;
        this.file.syncDirectory();
    }

    async close(): Promise<void> {
        if (!this.closing) this.closing = this.finish();
        return this.closing;
    }

    private async finish(): Promise<void> {
        const syncError = await this.commit.finish();
        const closeError = this.file.close();
        const error = syncError ?? closeError;
        openPaths.delete(this.path);
        if (error) throw error;
    }
}
