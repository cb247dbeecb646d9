import * as fs from 'fs';
import * as path from 'path';

/** One write of Mosquitto's persistence file: it writes `mosquitto.db.new`, then renames it. */
export interface BrokerSave {
    /** When `mosquitto.db.new` appeared (or, if the write was too quick to see it, when it went). */
    start: number;
    /** When it was renamed over `mosquitto.db`: from then on a restart begins from this state. */
    end: number;
}

/**
 * Watches a Mosquitto persistence directory and records each completed save. Mosquitto writes the
 * file in its one thread, so the state saved is the state at `start`: a packet it answered before
 * then is in the file, one it answered after is not.
 */
export function watchBrokerSaves(dir: string): { saves: BrokerSave[]; lastSaveBefore(at: number): BrokerSave | undefined; close(): void } {
    const saves: BrokerSave[] = [];
    let started = 0;
    const watcher = fs.watch(dir, (event, file) => {
        if (event !== 'rename' || file !== 'mosquitto.db.new') return;
        const now = Date.now();
        if (fs.existsSync(path.join(dir, file))) {
            started = now;
        } else {
            saves.push({ start: started || now, end: now });
            started = 0;
        }
    });
    return {
        saves,
        lastSaveBefore: (at) => saves.filter((save) => save.end <= at).pop(),
        close: () => watcher.close(),
    };
}
