/** Picks the delivery store a broker-config asked for. */
import * as path from 'path';
import { MemoryDeliveryStore } from './memory-store';
import type { DeliveryStore } from './store';

/**
 * The file of a durable store: one per broker-config node and client id, in the Node-RED user
 * directory, so that two configs (or a changed client id) never share a session's state.
 */
export function durableStorePath(userDir: string, configNodeId: string, clientId: string): string {
    const safe = (text: string) => text.replace(/[^0-9A-Za-z._-]/g, '_').slice(0, 80);
    return path.join(userDir, 'mqtt-wire', `${safe(configNodeId)}-${safe(clientId)}.journal`);
}

export function openDeliveryStore(file: string | null): DeliveryStore {
    if (file === null) return new MemoryDeliveryStore();
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const { FileDeliveryStore } = require('./file-store') as { FileDeliveryStore: { open(file: string): DeliveryStore } };
    return FileDeliveryStore.open(file);
}
