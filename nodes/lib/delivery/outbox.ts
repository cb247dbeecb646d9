/**
 * The way out for publishes: sends while the link is up, never more QoS 1/2 messages in flight than
 * the broker takes (MQTT 5 Receive Maximum, or a set limit on 3.1.1), and holds the rest, in order,
 * in a bounded queue. A message it cannot take is refused with an error, never dropped in silence.
 */
import type { QoS } from '../subscription-plan';

export interface OutgoingMessage {
    topic: string;
    payload: Buffer;
    qos: QoS;
    retain: boolean;
}

export type SendFunction = (message: OutgoingMessage, done: (err?: Error) => void) => void;

export interface OutboxOptions {
    /** QoS 1/2 messages sent and not yet acknowledged, at most. */
    maxInflight: number;
    /** Messages waiting to be sent, at most. */
    maxQueued: number;
    /** Hold QoS 0 messages while the link is down too, instead of refusing them. */
    queueQoS0: boolean;
}

export const DEFAULT_OUTBOX: OutboxOptions = { maxInflight: 20, maxQueued: 10000, queueQoS0: false };

export class DeliveryError extends Error {
    override name = 'DeliveryError';
    constructor(message: string, readonly code: 'not-connected' | 'queue-full' | 'closed' | 'failed') {
        super(message);
    }
}

interface Pending {
    message: OutgoingMessage;
    resolve: () => void;
    reject: (err: Error) => void;
}

export class Outbox {
    private readonly queue: Pending[] = [];
    private queueHead = 0;
    private inflight = 0;
    private online = false;
    private closed = false;
    private maxInflight: number;
    /** QoS 0 messages refused because the link was down. */
    droppedQoS0 = 0;

    constructor(private readonly send: SendFunction, private readonly options: OutboxOptions = DEFAULT_OUTBOX) {
        this.maxInflight = options.maxInflight;
    }

    get queued(): number {
        return this.queue.length - this.queueHead;
    }

    get inFlight(): number {
        return this.inflight;
    }

    /** Receive Maximum from the broker's CONNACK, when it sends one. */
    setMaxInflight(limit: number): void {
        this.maxInflight = Math.max(1, Math.min(limit, this.options.maxInflight));
        this.pump();
    }

    setOnline(online: boolean): void {
        this.online = online;
        if (!online) this.maxInflight = this.options.maxInflight;
        this.pump();
    }

    submit(message: OutgoingMessage): Promise<void> {
        return new Promise((resolve, reject) => {
            if (this.closed) {
                reject(new DeliveryError('the connection is closed', 'closed'));
                return;
            }
            if (!this.online && message.qos === 0 && !this.options.queueQoS0) {
                this.droppedQoS0++;
                reject(new DeliveryError('not connected: a QoS 0 message is not kept while the broker is unreachable', 'not-connected'));
                return;
            }
            if (this.queued >= this.options.maxQueued) {
                reject(new DeliveryError(`the send queue is full (${this.options.maxQueued} messages waiting)`, 'queue-full'));
                return;
            }
            this.queue.push({ message, resolve, reject });
            this.pump();
        });
    }

    /** Refuses everything still waiting; used when the connection is closed for good. */
    close(reason: string): void {
        this.closed = true;
        const waiting = this.queue.splice(this.queueHead);
        this.queue.length = 0;
        this.queueHead = 0;
        for (const pending of waiting) pending.reject(new DeliveryError(reason, 'closed'));
    }

    private pumping = false;

    private pump(): void {
        // A send may call back at once; the loop below then picks up the freed slot, rather than
        // a nested pump() growing the stack by one frame a message.
        if (this.pumping) return;
        this.pumping = true;
        try {
            this.drain();
        } finally {
            this.pumping = false;
        }
    }

    private drain(): void {
        while (this.online && this.queueHead < this.queue.length) {
            const pending = this.queue[this.queueHead];
            const counts = pending.message.qos > 0;
            if (counts && this.inflight >= this.maxInflight) return;
            this.queueHead++;
            if (counts) this.inflight++;
            this.send(pending.message, (err) => {
                if (counts) this.inflight--;
                if (err) pending.reject(err instanceof DeliveryError ? err : new DeliveryError(err.message, 'failed'));
                else pending.resolve();
                this.pump();
            });
        }
        // Drop the consumed head of the array now and then, so a long-lived queue does not grow.
        if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
            this.queue.splice(0, this.queueHead);
            this.queueHead = 0;
        }
    }
}
