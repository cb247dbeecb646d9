/** The options, states and events of a Connection (connection.ts). */
import type { IClientOptions } from 'mqtt';
import type { BackoffOptions } from './backoff';
import type { BrokerEndpoint } from './broker-rotation';
import type { OutboxOptions } from './delivery/outbox';
import type { DeliveryStore, OutgoingMessage } from './delivery/types';
import type { Reason } from './errors';
import type { QoS } from './subscription-plan';
import type { Subscriber } from './subscriptions';

export type LinkState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface LinkStatus {
    state: LinkState;
    /** host:port of the broker. */
    address: string;
    /** Failed attempts since the link was last up. */
    attempt: number;
    /** Why the last attempt failed or the link dropped. */
    reason?: Reason;
}

export interface ConnectionOptions {
    url: string;
    address: string;
    /** With more than one: the brokers tried in turn (broker-rotation.ts), `url` and `address` being the first's. */
    brokers?: readonly BrokerEndpoint[];
    client: IClientOptions;
    backoff?: BackoffOptions;
    outbox?: Partial<OutboxOptions>;
    /** Where QoS 1/2 state is kept; memory unless the broker-config asks for a durable store. */
    store?: DeliveryStore;
    /** Removals of subscriptions wait this long, so a node that is restarted keeps its subscription. */
    unsubscribeDelayMs?: number;
    /** The link ends this long after the last node has gone, unless one comes back. */
    idleCloseMs?: number;
    /** Runs before every connection attempt (the embedded broker starts listening here); a throw is a failed attempt. */
    prepare?: () => Promise<void>;
    /** Describes an error thrown by prepare. */
    describePrepareError?: (err: unknown) => Reason;
    /** Published after every connect, once the subscriptions are sent. */
    birth?: OutgoingMessage | null;
    /** Published before every clean disconnect (the will goes in `client`). */
    close?: OutgoingMessage | null;
    /** False: the link waits for connect() instead of opening when the first node attaches. */
    autoConnect?: boolean;
}

/** Where and how the client connects, with its birth and close messages: what connect() may change for this runtime. */
export type ConnectionTarget = Pick<ConnectionOptions, 'url' | 'address' | 'brokers' | 'client' | 'birth' | 'close'>;

/** The events of a Connection and their arguments. */
export interface ConnectionEvents {
    status: [status: LinkStatus];
    /** A subscriber's deliver() threw. */
    'delivery-error': [err: unknown, subscriber: Subscriber];
    /** A message restored from the store after a restart could not be sent. */
    'orphan-error': [err: Error, message: OutgoingMessage];
    /** The broker confirmed a subscription (SUBACK) at `qos`: what it publishes to `filter` from now on arrives. */
    subscribed: [filter: string, qos: QoS];
    /** The birth or close message could not be published. */
    'lifecycle-error': [kind: 'birth' | 'close', err: Error];
}

/** What the connection reads of an MQTT 5 CONNACK's properties. */
export interface ConnackProperties {
    receiveMaximum?: number;
    subscriptionIdentifiersAvailable?: boolean;
    maximumPacketSize?: number;
    topicAliasMaximum?: number;
}
