/**
 * The way out for publishes: sends while the link is up, never more QoS 1/2 messages in flight than
 * the broker takes (MQTT 5 Receive Maximum, or a set limit on 3.1.1), and holds the rest, in order,
 * in a bounded queue kept in the delivery store. A message it cannot take is refused with an error,
 * never dropped in silence.
 */
import { MemoryDeliveryStore } from './memory-store';
import type { DeliveryStore, OutgoingMessage, QueuedMessage } from './types';

/** Hands a message to the client; `done` runs when the broker has it, or with why it never will. */
export type SendFunction = (queued: QueuedMessage, done: (err?: Error) => void) => void;

export interface OutboxOptions {
    /** QoS 1/2 messages sent and not yet acknowledged, at most. */
    maxInflight: number;
    /** Messages waiting to be sent, at most. */
    maxQueued: number;
    /** Hold QoS 0 messages while the link is down too, instead of refusing them. */
    queueQoS0: boolean;
}

export const DEFAULT_OUTBOX: OutboxOptions = { maxInflight: 20, maxQueued: 10000, queueQoS0: false };

/** 'busy': the broker did not take the message for now (MQTT 5 Quota exceeded); it is sent again. */
export type DeliveryErrorCode = 'not-connected' | 'queue-full' | 'closed' | 'refused' | 'failed' | 'busy';

/** How long the outbox waits before it sends again after the broker said it was busy. */
export const BUSY_RETRY_MS = 250;

export class DeliveryError extends Error {
    override name = 'DeliveryError';
    constructor(message: string, readonly code: DeliveryErrorCode) {
        super(message);
    }
}

/** Told once how a message went: no error when the broker has it. */
export type DeliveryCallback = (err?: DeliveryError) => void;

/** A queued message and whoever waits to hear how it went. */
interface Waiting {
    queued: QueuedMessage;
    done: DeliveryCallback;
}

const ignore = (): void => undefined;

export class Outbox {
    /** Waiting messages from queueHead on; a slot is emptied when its message is sent, so nothing holds on to it. */
    private readonly queue: (Waiting | undefined)[] = [];
    private queueHead = 0;
    private inflight = 0;
    private online = false;
    private closed = false;
    private pumping = false;
    private maxInflight: number;
    private busyTimer: NodeJS.Timeout | null = null;
    /** QoS 0 messages refused because the link was down. */
    droppedQoS0 = 0;

    constructor(
        private readonly send: SendFunction,
        private readonly options: OutboxOptions = DEFAULT_OUTBOX,
        private readonly store: DeliveryStore = new MemoryDeliveryStore(),
        /** Told of a failure nobody waits for (a message restored from the store after a restart). */
        private readonly onOrphanError: (err: Error, message: OutgoingMessage) => void = ignore,
    ) {
        this.maxInflight = options.maxInflight;
        // What the store kept from the last run goes first, in its order.
        for (const queued of store.queued()) this.queue.push(this.orphan(queued));
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
        return new Promise((resolve, reject) => this.post(message, (err) => (err ? reject(err) : resolve())));
    }

    /** As submit(), with a callback: the way of the message path, which needs no promise per message. */
    post(message: OutgoingMessage, done: DeliveryCallback): void {
        if (this.closed) {
            done(new DeliveryError('the connection is closed', 'closed'));
            return;
        }
        const keep = message.qos > 0 || this.options.queueQoS0;
        if (!keep && !this.online) {
            this.droppedQoS0++;
            done(new DeliveryError('not connected: a QoS 0 message is not kept while the broker is unreachable', 'not-connected'));
            return;
        }
        if (this.queued >= this.options.maxQueued) {
            done(new DeliveryError(`the send queue is full (${this.options.maxQueued} messages waiting)`, 'queue-full'));
            return;
        }
        // A QoS 0 message sent straight away needs no place in the store.
        const seq = keep ? this.store.enqueue(message) : 0;
        this.queue.push({ queued: { seq, message }, done });
        this.pump();
    }

    /**
     * Stops for good. With a durable store what waits stays there for the next start (its callers
     * are not answered: the message is not lost); with a memory store each is refused with `reason`.
     */
    close(reason: string): number {
        this.closed = true;
        if (this.busyTimer) clearTimeout(this.busyTimer);
        this.busyTimer = null;
        const waiting = this.queue.splice(this.queueHead) as Waiting[];
        this.queue.length = 0;
        this.queueHead = 0;
        if (!this.store.durable) {
            for (const entry of waiting) {
                this.store.dequeue(entry.queued.seq);
                entry.done(new DeliveryError(reason, 'closed'));
            }
        }
        return waiting.length;
    }

    /**
     * The broker refused a message for now (its PUBACK/PUBREC said it is over a quota, and it
     * keeps nothing of it): it goes back to the front of the queue, and back into the store,
     * which gave it up when MQTT.js handed it over; sending resumes after a pause.
     */
    private sendAgainLater(entry: Waiting): void {
        const { message } = entry.queued;
        const again = { ...entry, queued: { seq: this.store.enqueue(message), message } };
        if (this.queueHead > 0) this.queue[--this.queueHead] = again;
        else this.queue.unshift(again);
        if (this.busyTimer) return;
        this.busyTimer = setTimeout(() => {
            this.busyTimer = null;
            this.pump();
        }, BUSY_RETRY_MS);
    }

    private orphan(queued: QueuedMessage): Waiting {
        return { queued, done: (err) => (err ? this.onOrphanError(err, queued.message) : ignore()) };
    }

    private pump(): void {
        // A send may call back at once; the loop below then picks up the freed slot, rather than a
        // nested pump() growing the stack by one frame a message.
        if (this.pumping) return;
        this.pumping = true;
        try {
            this.drain();
        } finally {
            this.pumping = false;
        }
    }

    private drain(): void {
        while (this.online && !this.busyTimer && this.queueHead < this.queue.length) {
            const entry = this.queue[this.queueHead] as Waiting;
            const counts = entry.queued.message.qos > 0;
            if (counts && this.inflight >= this.maxInflight) return;
            this.queue[this.queueHead++] = undefined;
            if (counts) this.inflight++;
            this.send(entry.queued, (err) => {
                if (counts) this.inflight--;
                if (err instanceof DeliveryError && err.code === 'busy' && !this.closed) {
                    this.sendAgainLater(entry);
                } else if (err) {
                    if (entry.queued.seq) this.store.dequeue(entry.queued.seq);
                    entry.done(err instanceof DeliveryError ? err : new DeliveryError(err.message, 'failed'));
                } else {
                    entry.done();
                }
                this.pump();
            });
        }
        // Drop the consumed head of the array when all is sent, or now and then, so a long-lived queue does not grow.
        if (this.queueHead === this.queue.length) {
            this.queue.length = 0;
            this.queueHead = 0;
        } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
            this.queue.splice(0, this.queueHead);
            this.queueHead = 0;
        }
    }
}

