/**
 * Where a connection keeps what it owes and is owed, so that QoS 1 and 2 hold across lost links and,
 * with a durable store, across a Node-RED restart or crash:
 * - the outbox queue: messages accepted from the flow and not yet handed to MQTT.js;
 * - the outgoing packets MQTT.js has sent and the broker has not yet acknowledged (MQTT.js's
 *   `outgoingStore`: PUBLISH at QoS 1/2, then PUBREL for QoS 2);
 * - the incoming QoS 2 packets received and not yet released (MQTT.js's `incomingStore`);
 * - the broker subscriptions of a persistent session, with their MQTT 5 subscription identifiers.
 */
import { Readable } from 'stream';
import type { IStore } from 'mqtt';
import type { Packet } from 'mqtt-packet';
import type { QoS } from '../subscription-plan';
import type { OutgoingMessage } from './outbox';

export interface QueuedMessage {
    /** Increases with each message enqueued; the order of sending. */
    seq: number;
    message: OutgoingMessage;
}

export interface StoredSubscription {
    filter: string;
    qos: QoS;
    id: number;
}

/** MQTT.js's store interface, plus what the connection needs to know of it. */
export interface PacketStore extends IStore {
    /** Called after a packet is deleted: for the outgoing store that is the broker's final acknowledgement. */
    onDelete(listener: (messageId: number) => void): void;
    /** Forgets every packet (a session the broker did not keep). */
    clear(): void;
    readonly size: number;
    /** The message ids held, in the order they were first put. */
    messageIds(): number[];
}

export interface DeliveryStore {
    readonly durable: boolean;
    readonly outgoing: PacketStore;
    readonly incoming: PacketStore;
    /**
     * Keeps a message accepted from the flow. When this returns, the message outlives a crash of the
     * process (a durable store has written it to the file; it syncs to disk before the broker is told).
     */
    enqueue(message: OutgoingMessage): number;
    /**
     * Runs `publish`, during which MQTT.js puts the message into `outgoing` as a PUBLISH packet: that
     * put replaces queued message `seq` in one step, so a crash can never leave both or neither.
     * Returns the message id MQTT.js gave it, or undefined when no put happened (QoS 0).
     */
    handOver(seq: number, publish: () => void): number | undefined;
    /** Forgets a queued message that will not be sent (refused, or QoS 0 sent). */
    dequeue(seq: number): void;
    /** The queued messages, oldest first (after a restart: those the last run did not hand over). */
    queued(): QueuedMessage[];
    loadSubscriptions(): StoredSubscription[];
    saveSubscriptions(subscriptions: StoredSubscription[]): void;
    close(): Promise<void>;
}

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
