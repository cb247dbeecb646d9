/**
 * When the journal's records reach the disk: puts close together share one sync (group commit), and
 * the send barrier holds each packet for the broker until every record written before it is synced.
 * Compaction runs here too, in place of a sync, because it rewrites and syncs the whole file.
 */
import type { JournalFile } from './journal-file';

type DoneCallback = (error?: Error) => void;

export interface SyncStats {
    /** Syncs to disk. */
    syncs: number;
    /** Put callbacks that waited for a sync: with `syncs`, group commit at work. */
    syncedCallbacks: number;
}

export interface Compaction {
    due(): boolean;
    /** Rewrites the file with its live records; it is on disk when this returns. Throws with the old file still in use. */
    run(): void;
    /** A compaction threw; the old file is whole still. */
    failed(error: unknown): void;
}

/** Runs `work`, rethrowing what it throws outside, so that it cannot keep the next one from running. */
function runAlone(work: () => void): void {
    try {
        work();
    } catch (thrown) {
        process.nextTick(() => {
            throw thrown;
        });
    }
}

export class GroupCommit {
    readonly stats: SyncStats = { syncs: 0, syncedCallbacks: 0 };
    /** With a send barrier the put callbacks need not wait: nothing leaves before its record is synced. */
    barrierInUse = false;
    /** Callbacks of records written and waiting for a sync. */
    private pending: DoneCallback[] = [];
    /** Records appended, and how many of them a finished sync has made durable. */
    private written = 0;
    private synced = 0;
    /** Work that waits until every record written before it was asked for is durable (in order). */
    private readonly barrier: { target: number; run: () => void }[] = [];
    private flushScheduled = false;
    private syncing = false;
    private syncDone: (() => void)[] = [];

    constructor(
        private readonly file: JournalFile,
        /** 'async': fdatasync on libuv's thread pool; 'inline': fdatasyncSync in a setImmediate. */
        private readonly method: 'async' | 'inline',
        private readonly compaction: Compaction,
    ) {}

    /** Counts a record appended to the file. */
    recordAppended(): void {
        this.written++;
        if (this.compaction.due()) this.schedule();
    }

    /** Runs `done` once every record written so far is on disk, or with the reason it cannot be. */
    whenSynced(done: DoneCallback): void {
        this.pending.push(done);
        this.schedule();
    }

    /** Syncs what was written soon; nobody waits for it. */
    schedule(): void {
        if (this.flushScheduled || this.syncing) return;
        this.flushScheduled = true;
        setImmediate(() => this.flush());
    }

    /**
     * The send barrier: runs `send` once every record written so far is on disk, in the order the
     * sends were asked for. The connection puts each packet it writes to the broker through this, so
     * the broker never hears of a message before its record is synced, and one sync covers all that
     * was written meanwhile; put callbacks then run at once, and MQTT.js reads on without waiting for
     * each sync (an incoming QoS 2 message does not cost a sync of its own).
     */
    afterDurable(send: () => void): void {
        this.barrierInUse = true;
        if (this.barrier.length === 0 && (this.synced >= this.written || !this.file.isOpen)) {
            send();
            return;
        }
        this.barrier.push({ target: this.written, run: send });
        this.schedule();
    }

    /** Waits for a sync under way, then syncs what is left and lets every waiting callback and send go. */
    async finish(): Promise<Error | undefined> {
        while (this.syncing) await new Promise<void>((resume) => this.syncDone.push(resume));
        if (!this.file.isOpen) return undefined;
        const error = this.syncNow();
        if (!error) this.synced = this.written;
        this.runCallbacks(this.takePending(), error);
        this.releaseBarrier();
        return error;
    }

    /** Makes every record written so far durable, then runs the callbacks and sends that waited for it. */
    private flush(): void {
        this.flushScheduled = false;
        if (!this.file.isOpen || this.syncing) return;
        if (this.compaction.due()) {
            const batch = this.takePending();
            let error: Error | undefined;
            try {
                this.compaction.run();
            } catch (compactError) {
                this.compaction.failed(compactError);
                error = this.syncNow();
            }
            if (!error) this.synced = this.written;
            this.runCallbacks(batch, error);
            this.releaseBarrier();
            return;
        }
        if (this.pending.length === 0 && !this.barrierWaits()) {
            this.releaseBarrier();
            return;
        }
        const batch = this.takePending();
        const target = this.written;
        if (this.method === 'inline') {
            const error = this.syncNow();
            if (!error) this.synced = target;
            this.runCallbacks(batch, error);
            this.releaseBarrier();
            return;
        }
        this.syncing = true;
        this.file.sync((error) => {
            this.syncing = false;
            this.stats.syncs++;
            if (!error) this.synced = Math.max(this.synced, target);
            const waiting = this.syncDone;
            this.syncDone = [];
            this.runCallbacks(batch, error);
            this.releaseBarrier();
            for (const resume of waiting) resume();
            if (this.pending.length > 0 || this.compaction.due() || this.barrierWaits()) this.schedule();
        });
    }

    private barrierWaits(): boolean {
        return this.barrier.length > 0 && this.synced < this.written;
    }

    private takePending(): DoneCallback[] {
        const batch = this.pending;
        this.pending = [];
        return batch;
    }

    private syncNow(): Error | undefined {
        const error = this.file.syncNow();
        if (!error) this.stats.syncs++;
        return error;
    }

    private runCallbacks(batch: DoneCallback[], error: Error | undefined): void {
        this.stats.syncedCallbacks += batch.length;
        for (const done of batch) runAlone(() => done(error));
    }

    /** Runs, in order, the sends whose records are durable (all of them once the file has failed or closed). */
    private releaseBarrier(): void {
        const all = this.file.failure !== null || !this.file.isOpen;
        while (this.barrier.length > 0 && (all || this.barrier[0].target <= this.synced)) {
            runAlone((this.barrier.shift() as { run: () => void }).run);
        }
    }
}
