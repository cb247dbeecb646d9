/** What mqtt-in and mqtt-out see of a broker-config node. */
import type { Node, NodeStatus } from 'node-red';
import type { BrokerOverride } from './lib/actions';
import type { Connection, ConnectionTarget } from './lib/connection';

export type UserRole = 'publisher' | 'subscriber';

export interface BrokerHandle extends Node {
    /** Null when the configuration itself is wrong; `configError` then says why. */
    connection: Connection | null;
    configError: string | null;
    /**
     * A node starts using the connection and gets its status from now on: a publisher's status also
     * counts the messages waiting to be sent and the QoS 0 messages dropped, a subscriber's does not.
     */
    register(user: Node, role?: UserRole): void;
    /** The node stops using the connection; the last one closes it. */
    deregister(user: Node): Promise<void>;
    /** A text from the broker-config catalogue (status texts, topic rules), with its English fallback. */
    text(key: string, params?: Record<string, string>, fallback?: string): string;
    currentStatus(role?: UserRole): NodeStatus;
    /** Where to connect with msg.broker's settings over the node's own; throws with the reason when they are not valid. */
    targetFor(override: BrokerOverride): ConnectionTarget;
}
