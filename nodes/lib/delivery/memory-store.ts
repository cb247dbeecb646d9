/** A DeliveryStore in memory: QoS 1/2 hold across lost links, not across a restart of Node-RED. */
import { PacketMap } from './packet-map';
import type { DeliveryStore, OutgoingMessage, QueuedMessage, StoredSubscription } from './types';

export class MemoryDeliveryStore implements DeliveryStore {
    readonly durable = false;
    readonly outgoing = new PacketMap();
    readonly incoming = new PacketMap();
    private readonly queue = new Map<number, OutgoingMessage>();
    private nextSeq = 1;
    private subscriptions: StoredSubscription[] = [];

    enqueue(message: OutgoingMessage): number {
        const seq = this.nextSeq++;
        this.queue.set(seq, message);
        return seq;
    }

    handOver(seq: number, publish: () => void): number | undefined {
        const puts = this.outgoing.puts;
        publish();
        this.queue.delete(seq);
        return this.outgoing.puts !== puts ? this.outgoing.lastPutId : undefined;
    }

    dequeue(seq: number): void {
        this.queue.delete(seq);
    }

    queued(): QueuedMessage[] {
        return [...this.queue].map(([seq, message]) => ({ seq, message }));
    }

    /** Nothing is kept on disk, so nothing waits. */
    afterDurable(send: () => void): void {
        send();
    }

    loadSubscriptions(): StoredSubscription[] {
        return this.subscriptions;
    }

    saveSubscriptions(subscriptions: StoredSubscription[]): void {
        this.subscriptions = subscriptions;
    }

    async close(): Promise<void> {
        this.queue.clear();
    }
}
