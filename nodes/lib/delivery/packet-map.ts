import { Readable } from 'stream';
import type { Packet } from 'mqtt-packet';
import type { PacketStore } from './types';

type DoneCallback = (error?: Error) => void;
type PacketCallback = (error?: Error, packet?: Packet) => void;

/**
 * MQTT.js's store semantics over a Map (insertion order = the order MQTT.js resends in); a durable
 * store passes `persist` to write each change before the callback runs.
 */
export class PacketMap implements PacketStore {
    private readonly packets = new Map<number, Packet>();
    private readonly deleteListeners: ((messageId: number) => void)[] = [];
    /** Counts puts, and remembers the last id put: how a store learns the id MQTT.js gave a message. */
    puts = 0;
    lastPutId = 0;

    constructor(
        private readonly persist: {
            put(packet: Packet, done: DoneCallback): void;
            del(messageId: number): void;
            clear(): void;
        } | null = null,
    ) {}

    /** Puts a packet back without writing it (a durable store replaying its file). */
    restore(packet: Packet): void {
        this.packets.set((packet as { messageId: number }).messageId, packet);
    }

    put(packet: Packet, cb: DoneCallback): this {
        const id = (packet as { messageId: number }).messageId;
        this.packets.set(id, packet);
        this.puts++;
        this.lastPutId = id;
        if (this.persist) this.persist.put(packet, (err) => cb?.(err));
        else cb?.();
        return this;
    }

    get(packet: Pick<Packet, 'messageId'>, cb: PacketCallback): this {
        const found = this.packets.get(packet.messageId as number);
        if (found) cb(undefined, found);
        else cb(new Error('missing packet'));
        return this;
    }

    del(packet: Pick<Packet, 'messageId'>, cb: PacketCallback): this {
        const id = packet.messageId as number;
        const found = this.packets.get(id);
        if (!found) {
            cb?.(new Error('missing packet'));
            return this;
        }
        this.packets.delete(id);
        this.persist?.del(id);
        for (const listener of this.deleteListeners) listener(id);
        cb?.(undefined, found);
        return this;
    }

    createStream(): any {
        const values = [...this.packets.values()];
        return Readable.from(values, { objectMode: true });
    }

    close(cb: DoneCallback): void {
        cb?.();
    }

    onDelete(listener: (messageId: number) => void): void {
        this.deleteListeners.push(listener);
    }

    clear(): void {
        this.packets.clear();
        this.persist?.clear();
    }

    get size(): number {
        return this.packets.size;
    }

    messageIds(): number[] {
        return [...this.packets.keys()];
    }
}
