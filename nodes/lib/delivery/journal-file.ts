/**
 * The journal's file on disk: whole records appended with synchronous writes, syncs, and the swap to a
 * rewritten file (compaction) by way of a temporary file renamed over the old one, so that a crash at
 * any step leaves one complete file.
 */
import * as fs from 'fs';
import * as nodePath from 'path';

/** An asynchronous fdatasync: fs.fdatasync, or what a test puts in its place. */
export type AsyncSync = (fd: number, done: (error: NodeJS.ErrnoException | null) => void) => void;

function describe(error: unknown): string {
    const e = error as NodeJS.ErrnoException;
    if (e && e.code) return `${e.code}: ${e.message}`;
    return e instanceof Error ? e.message : String(error);
}

/** An Error naming the store's file, what failed and why, with the cause's code. */
export function storeError(action: string, path: string, cause: unknown): Error {
    const error = new Error(`delivery store ${path}: ${action}: ${describe(cause)}`);
    (error as Error & { cause?: unknown }).cause = cause;
    const code = (cause as NodeJS.ErrnoException)?.code;
    if (code) (error as NodeJS.ErrnoException).code = code;
    return error;
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

function writeAll(fd: number, data: Buffer, position: number): void {
    let written = 0;
    while (written < data.length) {
        const n = fs.writeSync(fd, data, written, data.length - written, position + written);
        if (n <= 0) throw new Error('the write made no progress');
        written += n;
    }
}

function closeQuietly(fd: number): void {
    try {
        fs.closeSync(fd);
    } catch {
        /* already failing, or the data is elsewhere */
    }
}

export class JournalFile {
    /** Bytes in the file, all of them whole records. */
    size = 0;
    /** A failure after which the file no longer matches what was written (a failed sync). */
    failure: Error | null = null;
    private fd = -1;
    private readonly tempPath: string;

    constructor(
        readonly path: string,
        private readonly fdatasync: AsyncSync,
    ) {
        this.tempPath = path + '.compact';
    }

    get isOpen(): boolean {
        return this.fd >= 0;
    }

    /**
     * Opens the file (creating it, and missing directories) and returns what it holds. A compaction
     * file left by a crash before its rename is removed: the old file is the complete one.
     */
    openAndRead(): Buffer {
        try {
            fs.mkdirSync(nodePath.dirname(this.path), { recursive: true });
        } catch (error) {
            throw storeError('cannot create its directory', this.path, error);
        }
        try {
            fs.unlinkSync(this.tempPath);
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw storeError('cannot remove a stale compaction file', this.tempPath, error);
        }
        try {
            this.fd = fs.openSync(this.path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
            const length = fs.fstatSync(this.fd).size;
            const data = Buffer.allocUnsafe(length);
            let read = 0;
            while (read < length) {
                const n = fs.readSync(this.fd, data, read, length - read, read);
                if (n === 0) break;
                read += n;
            }
            return data.subarray(0, read);
        } catch (error) {
            this.closeQuietly();
            throw storeError('cannot open', this.path, error);
        }
    }

    /** Appends a whole record with synchronous writes; throws (the file unchanged) when that fails. */
    append(record: Buffer): void {
        if (this.fd < 0) throw new Error(`delivery store ${this.path}: closed`);
        if (this.failure) throw this.failure;
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
    }

    /** Syncs on libuv's thread pool; `done` has the error, if the file has failed. */
    sync(done: (error: Error | undefined) => void): void {
        this.fdatasync(this.fd, (error) => done(error ? this.fail(error) : this.failure ?? undefined));
    }

    /** Syncs before returning; returns the error, if the file has failed. */
    syncNow(): Error | undefined {
        if (this.failure) return this.failure;
        try {
            fs.fdatasyncSync(this.fd);
            return undefined;
        } catch (error) {
            return this.fail(error);
        }
    }

    /**
     * Writes `chunks` to a new file, syncs it and renames it over the old one, which it then
     * replaces. Throws with the old file still in use when any step before the rename fails.
     * Call syncDirectory() after it.
     */
    replaceWith(chunks: Buffer[]): void {
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
                writeAll(fd, piece, size);
                size += piece.length;
                i = end;
            }
            fs.fsyncSync(fd);
            fs.renameSync(this.tempPath, this.path);
        } catch (error) {
            if (fd >= 0) closeQuietly(fd);
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
        if (old >= 0) closeQuietly(old);
    }

    /** Makes a rename durable; until then a power cut may bring back the old name (both files are whole). */
    syncDirectory(): void {
        try {
            syncDirectory(nodePath.dirname(this.path));
        } catch (error) {
            throw this.fail(error);
        }
    }

    /** Closes the file; returns why that failed, if it did. */
    close(): Error | undefined {
        if (this.fd < 0) return undefined;
        let error: Error | undefined;
        try {
            fs.closeSync(this.fd);
        } catch (closeError) {
            error = storeError('cannot close', this.path, closeError);
        }
        this.fd = -1;
        return error;
    }

    closeQuietly(): void {
        if (this.fd >= 0) closeQuietly(this.fd);
        this.fd = -1;
    }

    /** After a failed fsync the kernel may have dropped the dirty pages: nothing written since is trusted. */
    private fail(error: unknown): Error {
        this.failure = storeError('cannot sync to disk', this.path, error);
        return this.failure;
    }
}
