/**
 * The subscriptions of one connection, kept apart from the MQTT client: which nodes want which
 * filters, what the broker holds for the session (with the MQTT 5 subscription identifiers), what
 * to SUBSCRIBE and UNSUBSCRIBE to bring the two in line, and which nodes an incoming message is for.
 */
import type { IPublishPacket } from 'mqtt';
import type { DeliveryStore } from './delivery/types';
import { planBrokerSubscriptions, QoS } from './subscription-plan';
import { filterCovers, topicMatches } from './topic';
import { TopicTree } from './topic-tree';

export interface InboundMessage {
    topic: string;
    payload: Buffer;
    /** min(publish QoS, the subscriber's QoS). */
    qos: QoS;
    retain: boolean;
    properties?: IPublishPacket['properties'];
}

/** MQTT 5 subscription options (MQTT 5.0 section 3.8.3.1); MQTT 3.1.1 has none. */
export interface SubscriptionOptions {
    /** No local: the broker does not send back what this connection publishes. */
    nl?: boolean;
    /** Retain as published: live messages keep the retain flag they were published with. */
    rap?: boolean;
    /** Retain handling: 0 send retained messages on subscribing, 1 only for a new subscription, 2 never. */
    rh?: 0 | 1 | 2;
}

/** A node's wish to receive what matches `filter`. */
export interface Subscriber {
    readonly filter: string;
    readonly qos: QoS;
    readonly options?: SubscriptionOptions;
    /**
     * Subscribers with the same owner (the dynamic subscriptions of one node) get a message once,
     * through the one of them that matches with the highest QoS.
     */
    readonly owner?: object;
    deliver(message: InboundMessage): void;
    /** The broker refused the subscription. */
    refused(why: string): void;
}

/** A subscription held at the broker for this session. */
export interface BrokerSubscription {
    filter: string;
    qos: QoS;
    /** MQTT 5 subscription identifier. */
    id: number;
    /** Present when the subscribers ask for more than the defaults (no local off, retain as published off, retain handling 0). */
    options?: SubscriptionOptions;
}

/** What to send to the broker so that it holds what the subscribers want. */
export interface SubscriptionChanges {
    /** Filters for one UNSUBSCRIBE (empty: none to send). */
    unsubscribe: string[];
    /** One SUBSCRIBE each. */
    subscribe: BrokerSubscription[];
}

/** What routing reads of an incoming PUBLISH packet besides its topic and payload. */
export interface PublishHeader {
    qos: QoS;
    retain: boolean;
    properties?: IPublishPacket['properties'];
}

/** Where a persistent session's broker subscriptions outlive a restart. */
export type SubscriptionRecord = Pick<DeliveryStore, 'loadSubscriptions' | 'saveSubscriptions'>;

export class Subscriptions {
    /** Every subscriber, indexed for routing by topic. */
    private readonly tree = new TopicTree<Subscriber>();
    private readonly subscribersByFilter = new Map<string, Set<Subscriber>>();
    /** What the broker holds for this session, as far as this process knows. */
    private readonly atBroker = new Map<string, { qos: QoS; id: number; options?: string }>();
    private readonly filterById = new Map<number, string>();
    private nextId = 1;
    private routeByIdentifier = false;
    /** The broker takes subscription options (MQTT 5); on MQTT 3.1.1 they are left out. */
    private withOptions = false;
    /** Subscribers already covered by a SUBSCRIBE sent on this session. */
    private readonly announced = new WeakSet<Subscriber>();
    /** What the broker holds changed since the record was last written. */
    private unsaved = false;

    /**
     * With a `record` (a persistent session, which keeps its subscriptions at the broker across
     * restarts) it starts from what the last run subscribed, with the same subscription identifiers.
     */
    constructor(private readonly record?: SubscriptionRecord) {
        for (const sub of record?.loadSubscriptions() ?? []) {
            this.atBroker.set(sub.filter, { qos: sub.qos, id: sub.id, options: sub.options });
            this.filterById.set(sub.id, sub.filter);
            this.nextId = Math.max(this.nextId, sub.id + 1);
        }
    }

    /** The filters subscribed at the broker, with their QoS. */
    get brokerFilters(): Map<string, QoS> {
        return new Map([...this.atBroker].map(([filter, sub]) => [filter, sub.qos]));
    }

    /** The filters the subscribers want, each with its subscribers. */
    get wanted(): ReadonlyMap<string, ReadonlySet<Subscriber>> {
        return this.subscribersByFilter;
    }

    add(subscriber: Subscriber): void {
        let set = this.subscribersByFilter.get(subscriber.filter);
        if (!set) this.subscribersByFilter.set(subscriber.filter, (set = new Set()));
        set.add(subscriber);
        this.tree.add(subscriber.filter, subscriber);
    }

    /** Stops routing to a subscriber; false when it was not subscribed. */
    remove(subscriber: Subscriber): boolean {
        const set = this.subscribersByFilter.get(subscriber.filter);
        if (!set || !set.delete(subscriber)) return false;
        if (set.size === 0) this.subscribersByFilter.delete(subscriber.filter);
        this.tree.remove(subscriber.filter, subscriber);
        return true;
    }

    /**
     * The broker accepted a connection. Messages are routed by subscription identifier when
     * `identifiers` (MQTT 5 with a broker that supports them), which also keeps overlapping filters
     * apart at the broker. Without `sessionPresent` the broker kept no subscription. The subscribers'
     * options are sent when `subscriptionOptions` (MQTT 5).
     */
    sessionStarted(sessionPresent: boolean, identifiers: boolean, subscriptionOptions = identifiers): void {
        this.routeByIdentifier = identifiers;
        this.withOptions = subscriptionOptions;
        if (!sessionPresent) {
            this.atBroker.clear();
            this.filterById.clear();
        }
    }

    /** What to send so that the broker holds what the subscribers want; counts it as sent. */
    reconcile(): SubscriptionChanges {
        const wanted: { filter: string; qos: QoS }[] = [];
        const optionsByFilter = new Map<string, SubscriptionOptions>();
        for (const [filter, set] of this.subscribersByFilter) {
            let qos: QoS = 0;
            for (const s of set) if (s.qos > qos) qos = s.qos;
            wanted.push({ filter, qos });
            const options = this.withOptions ? mergeOptions(set) : undefined;
            if (options) optionsByFilter.set(filter, options);
        }
        const plan = planBrokerSubscriptions(wanted, !this.routeByIdentifier);

        const unsubscribe = [...this.atBroker.keys()].filter((filter) => !plan.has(filter));
        for (const filter of unsubscribe) {
            this.filterById.delete((this.atBroker.get(filter) as { id: number }).id);
            this.atBroker.delete(filter);
        }

        const subscribe: BrokerSubscription[] = [];
        for (const [filter, qos] of plan) {
            const current = this.atBroker.get(filter);
            const options = optionsByFilter.get(filter);
            const optionsKey = options ? JSON.stringify(options) : undefined;
            // A covered filter that is new needs its retained messages: resubscribing its cover sends them.
            const coversNewcomer = current !== undefined && !this.routeByIdentifier && this.hasNewcomerUnder(filter);
            if (current && current.qos === qos && current.options === optionsKey && !coversNewcomer) continue;
            const id = current?.id ?? this.nextId++;
            this.atBroker.set(filter, { qos, id, options: optionsKey });
            this.filterById.set(id, filter);
            subscribe.push(options ? { filter, qos, id, options } : { filter, qos, id });
        }
        for (const set of this.subscribersByFilter.values()) for (const s of set) this.announced.add(s);
        if (unsubscribe.length > 0 || subscribe.length > 0) this.unsaved = true;
        return { unsubscribe, subscribe };
    }

    /** Writes what the broker holds to the record of a persistent session, when it changed. */
    saveSession(): void {
        if (!this.unsaved || !this.record) return;
        this.unsaved = false;
        this.record.saveSubscriptions([...this.atBroker].map(([filter, sub]) => ({ filter, qos: sub.qos, id: sub.id, ...(sub.options ? { options: sub.options } : {}) })));
    }

    /** A SUBSCRIBE counted as sent never went out: the next reconcile sends it. */
    unsent(sent: BrokerSubscription): void {
        if (this.atBroker.get(sent.filter)?.id === sent.id) this.atBroker.delete(sent.filter);
    }

    /** The link went before the broker answered `sent`: it is no longer taken as held, so the next link sends it again. */
    unanswered(sent: BrokerSubscription): void {
        if (this.atBroker.get(sent.filter)?.id === sent.id) this.atBroker.delete(sent.filter);
    }

    /** The broker refused a SUBSCRIBE: its subscribers are told why. */
    refused(sent: BrokerSubscription, why: string): void {
        this.unanswered(sent);
        for (const subscriber of this.subscribersByFilter.get(sent.filter) ?? []) subscriber.refused(why);
    }

    /**
     * Hands a message to every subscriber it is for and returns how many that was. A subscriber that
     * throws is reported to `failed`, and the others still get the message.
     */
    route(topic: string, payload: Buffer, header: PublishHeader, failed: (err: unknown, subscriber: Subscriber) => void): number {
        const { qos, retain, properties } = header;
        let count = 0;
        let owned: Map<object, Subscriber> | undefined;
        const visit = (subscriber: Subscriber): void => {
            if (subscriber.owner) {
                owned ??= new Map();
                const best = owned.get(subscriber.owner);
                if (!best || subscriber.qos > best.qos) owned.set(subscriber.owner, subscriber);
                return;
            }
            deliver(subscriber);
        };
        const deliver = (subscriber: Subscriber): void => {
            count++;
            const message = { topic, payload, qos: qos < subscriber.qos ? qos : subscriber.qos, retain, properties };
            try {
                subscriber.deliver(message);
            } catch (err) {
                failed(err, subscriber);
            }
        };
        const ids = properties?.subscriptionIdentifier;
        if (this.routeByIdentifier && ids !== undefined) {
            const list = Array.isArray(ids) ? ids : [ids];
            // An identifier this process does not know (or one a previous run gave another filter)
            // cannot be trusted: such a message is routed by its topic instead.
            const filters = list.map((id) => this.filterById.get(id));
            if (filters.every((filter) => filter !== undefined && topicMatches(filter, topic))) {
                for (const filter of filters) {
                    const subscribers = this.subscribersByFilter.get(filter as string);
                    if (subscribers) for (const subscriber of subscribers) visit(subscriber);
                }
                // The broker may send one copy per matching subscription: an owner takes the copy of its best one.
                for (const owner of (owned as Map<object, Subscriber> | undefined)?.keys() ?? []) {
                    const best = this.bestOf(owner, topic);
                    if (best && filters.includes(best.filter)) deliver(best);
                }
                return count;
            }
        }
        this.tree.match(topic, visit);
        if (owned) for (const subscriber of (owned as Map<object, Subscriber>).values()) deliver(subscriber);
        return count;
    }

    /** Of an owner's subscribers that match `topic`, the one with the highest QoS (the first such). */
    private bestOf(owner: object, topic: string): Subscriber | undefined {
        let best: Subscriber | undefined;
        this.tree.match(topic, (s) => {
            if (s.owner === owner && (!best || s.qos > best.qos)) best = s;
        });
        return best;
    }

    private hasNewcomerUnder(brokerFilter: string): boolean {
        let found = false;
        for (const set of this.subscribersByFilter.values()) {
            for (const s of set) {
                if (!this.announced.has(s) && s.filter !== brokerFilter && filterCovers(brokerFilter, s.filter)) found = true;
            }
        }
        return found;
    }
}

/**
 * The options one broker subscription carries for all the subscribers of its filter: the one that
 * holds back least wins (no local only when all ask for it, retain as published when one does, the
 * lowest retain handling). Undefined when that is the default.
 */
export function mergeOptions(subscribers: Iterable<Subscriber>): SubscriptionOptions | undefined {
    let nl = true;
    let rap = false;
    let rh: 0 | 1 | 2 = 2;
    for (const s of subscribers) {
        nl &&= s.options?.nl === true;
        rap ||= s.options?.rap === true;
        const wanted = s.options?.rh ?? 0;
        if (wanted < rh) rh = wanted;
    }
    if (!nl && !rap && rh === 0) return undefined;
    return { nl, rap, rh };
}
