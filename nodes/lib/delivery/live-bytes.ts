import { StoreId } from './journal';

/**
 * The size of each journal record still needed, by what it holds; `total` is about what compaction
 * would shrink the file to. A record that takes the place of another (a put for a message id held
 * already, a new list of subscriptions) counts instead of it.
 */
export class LiveBytes {
    private readonly queued = new Map<number, number>();
    private readonly packets: [Map<number, number>, Map<number, number>] = [new Map(), new Map()];
    private subscriptions = 0;

    /** Starts with what every file holds for as long as it lives (its header). */
    constructor(public total: number) {}

    /** A record that lives as long as the file (a compaction's next seq). */
    addPermanent(bytes: number): void {
        this.total += bytes;
    }

    setQueued(seq: number, bytes: number): void {
        this.total += bytes - (this.queued.get(seq) ?? 0);
        this.queued.set(seq, bytes);
    }

    removeQueued(seq: number): void {
        this.total -= this.queued.get(seq) ?? 0;
        this.queued.delete(seq);
    }

    setPacket(store: StoreId, messageId: number, bytes: number): void {
        const sizes = this.packets[store];
        this.total += bytes - (sizes.get(messageId) ?? 0);
        sizes.set(messageId, bytes);
    }

    hasPacket(store: StoreId, messageId: number): boolean {
        return this.packets[store].has(messageId);
    }

    hasPackets(store: StoreId): boolean {
        return this.packets[store].size > 0;
    }

    removePacket(store: StoreId, messageId: number): void {
        const sizes = this.packets[store];
        this.total -= sizes.get(messageId) ?? 0;
        sizes.delete(messageId);
    }

    removePackets(store: StoreId): void {
        for (const bytes of this.packets[store].values()) this.total -= bytes;
        this.packets[store].clear();
    }

    setSubscriptions(bytes: number): void {
        this.total += bytes - this.subscriptions;
        this.subscriptions = bytes;
    }
}
