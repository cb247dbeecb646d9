/**
 * The shapes the delivery units share: what the flow hands over, and the store that keeps it so that
 * QoS 1 and 2 hold across lost links and, with a durable store, across a Node-RED restart or crash:
 * - the outbox queue: messages accepted from the flow and not yet handed to MQTT.js;
 * - the outgoing packets MQTT.js has sent and the broker has not yet acknowledged (MQTT.js's
 *   `outgoingStore`: PUBLISH at QoS 1/2, then PUBREL for QoS 2);
 * - the incoming QoS 2 packets received and not yet released (MQTT.js's `incomingStore`);
 * - the broker subscriptions of a persistent session, with their MQTT 5 subscription identifiers.
 */
import type { IStore } from 'mqtt';
import type { PublishProperties } from '../message-properties';
import type { QoS } from '../subscription-plan';

/** A message the flow hands over to be published. */
export interface OutgoingMessage {
    topic: string;
    payload: Buffer;
    qos: QoS;
    retain: boolean;
    /** MQTT 5 PUBLISH properties; absent on MQTT 3.1.1. */
    properties?: PublishProperties;
}

/**
 * A message with its place in the queue: `seq` increases with each message enqueued and is the order
 * of sending; 0 for a QoS 0 message sent at once, which never enters the store.
 */
export interface QueuedMessage {
    seq: number;
    message: OutgoingMessage;
}

export interface StoredSubscription {
    filter: string;
    qos: QoS;
    id: number;
    /** The MQTT 5 subscription options it was made with, as Subscriptions writes them; absent for the defaults. */
    options?: string;
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
    /**
     * The send barrier: runs `send` once everything kept so far outlives a power cut, in the order the
     * sends were asked for (at once for a store that keeps nothing on disk). The connection writes each
     * packet to the broker through this, so the broker never hears of what the store could still lose.
     */
    afterDurable(send: () => void): void;
    loadSubscriptions(): StoredSubscription[];
    saveSubscriptions(subscriptions: StoredSubscription[]): void;
    close(): Promise<void>;
}
