/** Picks the delivery store a broker-config asked for. */
import * as path from 'path';
import { FileDeliveryStore } from './file-store';
import { MemoryDeliveryStore } from './memory-store';
import type { DeliveryStore } from './types';

/**
 * The file of a durable store: one per broker-config node and client id, in the Node-RED user
 * directory, so that two configs (or a changed client id) never share a session's state.
 */
export function durableStorePath(userDir: string, configNodeId: string, clientId: string): string {
    const safe = (text: string) => text.replace(/[^0-9A-Za-z._-]/g, '_').slice(0, 80);
    return path.join(userDir, 'mqtt-wire', `${safe(configNodeId)}-${safe(clientId)}.journal`);
}

export interface OpenedStore {
    store: DeliveryStore;
    /** Bytes of a torn or damaged tail the durable store cut off when it opened (a crash mid-write). */
    discardedBytes: number;
}

/** A memory store for `file` null, else the durable store in that file (throws when it cannot be used). */
export function openDeliveryStore(file: string | null, onError: (err: Error) => void = () => undefined): OpenedStore {
    if (file === null) return { store: new MemoryDeliveryStore(), discardedBytes: 0 };
    const store = FileDeliveryStore.open(file, { onError });
    return { store, discardedBytes: store.discardedBytes };
}
