/**
 * The subscriptions an mqtt-in node makes at run time (msg.action subscribe and unsubscribe), one
 * Subscriber each on the shared connection, all owned by the node so that a message their filters
 * both match reaches it once.
 */
import { DynamicSubscription, describeSubscription } from './actions';
import type { Subscriber } from './subscriptions';

/** What the node needs of the connection. */
export interface SubscriptionHost {
    readonly protocolVersion: number;
    subscribe(subscriber: Subscriber): void;
    unsubscribe(subscriber: Subscriber, options?: { now?: boolean }): void;
}

export type SubscriberFactory = (filter: string, sub: DynamicSubscription, owner: object) => Subscriber;

export class DynamicSubscriptions {
    private readonly byTopic = new Map<string, { sub: DynamicSubscription; subscriber: Subscriber; v5: boolean }>();

    constructor(
        private readonly owner: object,
        private readonly makeSubscriber: SubscriberFactory,
    ) {}

    /** Adds each subscription; one for a filter already held replaces it (its QoS and options change). */
    subscribe(host: SubscriptionHost, subs: DynamicSubscription[]): void {
        for (const sub of subs) {
            const previous = this.byTopic.get(sub.topic);
            const subscriber = this.makeSubscriber(sub.topic, { ...sub }, this.owner);
            this.byTopic.set(sub.topic, { sub, subscriber, v5: host.protocolVersion === 5 });
            host.subscribe(subscriber);
            // After the new one is added, so the broker subscription is changed, not dropped and made again.
            if (previous) host.unsubscribe(previous.subscriber, { now: true });
        }
    }

    /** Removes the named subscriptions (`true`: all); a filter not held is passed over. */
    unsubscribe(host: SubscriptionHost, topics: string[] | true, options: { now?: boolean } = { now: true }): void {
        for (const topic of topics === true ? [...this.byTopic.keys()] : topics) {
            const held = this.byTopic.get(topic);
            if (!held) continue;
            this.byTopic.delete(topic);
            host.unsubscribe(held.subscriber, options);
        }
    }

    /** The subscriptions held, in the core node's shape. */
    list(): Record<string, unknown>[] {
        return [...this.byTopic.values()].map(({ sub, v5 }) => describeSubscription(sub, v5));
    }

    get size(): number {
        return this.byTopic.size;
    }
}
