/**
 * One MQTT.js client shared by every node of one broker-config: it connects when the first node
 * needs it and closes after the last; it holds each distinct subscription once at the broker, routes
 * each incoming message to the nodes whose filter matches, sends publishes through the outbox, and
 * reports its state in words.
 */
import { EventEmitter } from 'events';
import * as mqtt from 'mqtt';
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { Backoff, BackoffOptions, DEFAULT_BACKOFF } from './backoff';
import { MemoryDeliveryStore } from './delivery/memory-store';
import { DEFAULT_OUTBOX, DeliveryError, Outbox, OutboxOptions } from './delivery/outbox';
import { installSendBarrier } from './delivery/send-barrier';
import type { DeliveryStore, OutgoingMessage, QueuedMessage } from './delivery/types';
import { describeAckReason, describeConnectionError, reason, Reason } from './errors';
import { PublishTopicCheck } from './malformed-packet';
import { planBrokerSubscriptions, QoS } from './subscription-plan';
import { filterCovers, topicMatches } from './topic';
import { TopicTree } from './topic-tree';

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

export interface InboundMessage {
    topic: string;
    payload: Buffer;
    /** min(publish QoS, the subscriber's QoS). */
    qos: QoS;
    retain: boolean;
    properties?: IPublishPacket['properties'];
}

/** A node's wish to receive what matches `filter`. */
export interface Subscriber {
    readonly filter: string;
    readonly qos: QoS;
    deliver(message: InboundMessage): void;
    /** The broker refused the subscription. */
    refused(why: string): void;
}

export interface ConnectionOptions {
    url: string;
    address: string;
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
}

interface BrokerSubscription {
    qos: QoS;
    /** MQTT 5 subscription identifier. */
    id: number;
}

export declare interface Connection {
    on(event: 'status', listener: (status: LinkStatus) => void): this;
    on(event: 'delivery-error', listener: (err: unknown, subscriber: Subscriber) => void): this;
    /** A message restored from the store after a restart could not be sent. */
    on(event: 'orphan-error', listener: (err: Error, message: OutgoingMessage) => void): this;
    /** The broker confirmed a subscription (SUBACK) at `qos`: what it publishes to `filter` from now on arrives. */
    on(event: 'subscribed', listener: (filter: string, qos: QoS) => void): this;
    emit(event: 'status', status: LinkStatus): boolean;
    emit(event: 'subscribed', filter: string, qos: QoS): boolean;
    emit(event: 'delivery-error', err: unknown, subscriber: Subscriber): boolean;
    emit(event: 'orphan-error', err: Error, message: OutgoingMessage): boolean;
}

export class Connection extends EventEmitter {
    private client: MqttClient | null = null;
    private readonly users = new Set<object>();
    private readonly backoff: Backoff;
    private readonly outbox: Outbox;
    private readonly store: DeliveryStore;
    /** QoS 1/2 messages handed to MQTT.js, by message id, until the broker's final acknowledgement. */
    private readonly awaitingAck = new Map<number, (err?: Error) => void>();
    private link: LinkStatus;
    private reconnectTimer: NodeJS.Timeout | null = null;
    private reconcileTimer: NodeJS.Timeout | null = null;
    private closing: Promise<void> | null = null;
    private attemptStartedAt = 0;
    private lastError: Reason | undefined;

    /** Every subscriber, indexed for routing by topic. */
    private readonly tree = new TopicTree<Subscriber>();
    private readonly subscribersByFilter = new Map<string, Set<Subscriber>>();
    /** What the broker holds for this session, as far as this process knows. */
    private readonly brokerSubscriptions = new Map<string, BrokerSubscription>();
    private readonly filterById = new Map<number, string>();
    private nextSubscriptionId = 1;
    private routeByIdentifier = false;
    /** How many subscribers took each incoming packet (read when MQTT.js asks whether to acknowledge it). */
    private readonly taken = new WeakMap<IPublishPacket, { topic: string; count: number }>();
    /**
     * While nodes restart (a redeploy), a QoS 1/2 message that no node can take yet is not
     * acknowledged: MQTT.js reads nothing more until it is, and it goes to the node that comes back,
     * or, if the connection closes first, the broker sends it again on the next connection.
     */
    private held: { packet: IPublishPacket; acknowledge: () => void } | null = null;
    private restartTimer: NodeJS.Timeout | null = null;
    private idleTimer: NodeJS.Timeout | null = null;

    constructor(private readonly options: ConnectionOptions) {
        super();
        this.backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
        this.store = options.store ?? new MemoryDeliveryStore();
        this.outbox = new Outbox((sending, done) => this.send(sending, done), { ...DEFAULT_OUTBOX, ...options.outbox }, this.store, (err, message) =>
            this.emit('orphan-error', err, message),
        );
        // A deletion from the outgoing store is the broker's final acknowledgement. It completes a
        // message whose callback MQTT.js dropped when the link went (it resends from the store), but
        // only after MQTT.js's own callback has had its chance to report a refusal.
        this.store.outgoing.onDelete((id) => {
            const finish = this.awaitingAck.get(id);
            if (finish) queueMicrotask(() => finish());
        });
        // A persistent session keeps its subscriptions at the broker across restarts: start from what
        // the last run subscribed, with the same subscription identifiers.
        if (options.client.clean === false) {
            for (const sub of this.store.loadSubscriptions()) {
                this.brokerSubscriptions.set(sub.filter, { qos: sub.qos, id: sub.id });
                this.filterById.set(sub.id, sub.filter);
                this.nextSubscriptionId = Math.max(this.nextSubscriptionId, sub.id + 1);
            }
        }
        this.link = { state: 'idle', address: options.address, attempt: 0 };
    }

    get status(): LinkStatus {
        return this.link;
    }

    get connected(): boolean {
        return this.link.state === 'connected';
    }

    get protocolVersion(): number {
        return this.options.client.protocolVersion ?? 4;
    }

    /** Messages waiting in the outbox and QoS 0 messages refused while disconnected. */
    get delivery(): { queued: number; inFlight: number; droppedQoS0: number; durable: boolean } {
        return { queued: this.outbox.queued, inFlight: this.outbox.inFlight, droppedQoS0: this.outbox.droppedQoS0, durable: this.store.durable };
    }

    /** The filters subscribed at the broker, with their QoS. */
    get brokerFilters(): Map<string, QoS> {
        return new Map([...this.brokerSubscriptions].map(([filter, sub]) => [filter, sub.qos]));
    }

    /** A node starts using the connection; the first one opens it. */
    attach(user: object): void {
        if (this.closing) return;
        this.users.add(user);
        if (this.idleTimer) clearTimeout(this.idleTimer);
        this.idleTimer = null;
        if (this.link.state === 'idle' && !this.client) this.open();
    }

    /**
     * A node stops using the connection. A short while after the last one has gone (and no other
     * came back, as one does when a deploy restarts only the changed nodes) the link is ended;
     * what waits to be sent stays in the outbox for the next node that attaches.
     */
    detach(user: object): Promise<void> {
        this.users.delete(user);
        if (this.users.size === 0 && !this.closing && !this.idleTimer) {
            this.idleTimer = setTimeout(() => {
                this.idleTimer = null;
                if (this.users.size === 0) void this.suspend();
            }, this.options.idleCloseMs ?? 1000);
        }
        return Promise.resolve();
    }

    /** Ends the link but keeps the outbox and the store: the connection can be opened again. */
    private async suspend(): Promise<void> {
        const client = this.client;
        if (!client || this.closing) return;
        this.clearTimers();
        this.outbox.setOnline(false);
        this.client = null;
        await endClient(client);
        this.backoff.reset();
        if (!this.closing) this.setStatus({ state: 'idle', address: this.options.address, attempt: 0 });
        if (this.users.size > 0 && !this.closing && !this.client) this.open();
    }

    subscribe(subscriber: Subscriber): void {
        let set = this.subscribersByFilter.get(subscriber.filter);
        if (!set) this.subscribersByFilter.set(subscriber.filter, (set = new Set()));
        set.add(subscriber);
        this.tree.add(subscriber.filter, subscriber);
        // Subscribe at once (next tick, so the nodes of one deploy go in one SUBSCRIBE).
        this.scheduleReconcile(0);
        if (this.held) {
            const { packet, acknowledge } = this.held;
            const topic = this.taken.get(packet)?.topic ?? String(packet.topic);
            if (this.route(topic, packet.payload as Buffer, packet) > 0) {
                this.held = null;
                acknowledge();
            }
        }
    }

    /**
     * Stops routing to a subscriber. Its broker subscription goes when no other subscriber needs it:
     * at once with `now` (the node was deleted from the flow), else after a short delay, so that a
     * node that is only restarted keeps it. When the last node goes the connection closes without
     * unsubscribing, and a persistent session keeps its subscriptions for the next start.
     */
    unsubscribe(subscriber: Subscriber, options: { now?: boolean } = {}): void {
        const set = this.subscribersByFilter.get(subscriber.filter);
        if (!set || !set.delete(subscriber)) return;
        if (set.size === 0) this.subscribersByFilter.delete(subscriber.filter);
        this.tree.remove(subscriber.filter, subscriber);
        if (options.now) {
            this.reconcile();
            return;
        }
        const delay = this.options.unsubscribeDelayMs ?? 500;
        this.scheduleReconcile(delay);
        if (this.restartTimer) clearTimeout(this.restartTimer);
        this.restartTimer = setTimeout(() => this.endRestartWindow(), delay);
    }

    /** No node came back for a held message: acknowledge it (it was not wanted) and read on. */
    private endRestartWindow(): void {
        this.restartTimer = null;
        const held = this.held;
        this.held = null;
        held?.acknowledge();
    }

    publish(message: OutgoingMessage): Promise<void> {
        return this.outbox.submit(message);
    }

    /** Closes the link for good: stops reconnecting, refuses what waits to be sent, ends the client. */
    close(): Promise<void> {
        if (this.closing) return this.closing;
        this.closing = (async () => {
            this.clearTimers();
            this.outbox.close('the connection was closed (redeploy or shutdown) before the message was sent');
            const client = this.client;
            this.client = null;
            if (client) await endClient(client);
            await this.store.close();
            this.setStatus({ state: 'closed', address: this.options.address, attempt: 0 });
        })();
        return this.closing;
    }

    private open(): void {
        const client = mqtt.connect(this.options.url, {
            ...this.options.client,
            manualConnect: true,
            reconnectPeriod: 0,
            resubscribe: false,
            incomingStore: this.store.incoming,
            outgoingStore: this.store.outgoing,
        });
        this.client = client;
        installSendBarrier(client, this.store);
        this.installTopicCheck(client);
        client.on('connect', (connack) => this.onConnect(client, connack.sessionPresent, connack.properties));
        client.on('message', (topic, payload, packet) => this.taken.set(packet, { topic, count: this.route(topic, payload, packet) }));
        client.handleMessage = (packet, acknowledge) => {
            const taken = this.taken.get(packet);
            if (packet.qos === 0 || !this.restartTimer || (taken && taken.count > 0)) acknowledge();
            else this.held = { packet, acknowledge: () => acknowledge() };
        };
        client.on('error', (err) => {
            this.lastError = describeConnectionError(err, this.options.address);
            // A packet the parser refuses is malformed: close the network connection (MQTT 5.0 section 4.13.1).
            if (this.lastError.code === 'malformed-packet') client.stream?.destroy();
        });
        client.on('close', () => this.onClose(client));
        // A broker's DISCONNECT (MQTT 5) says why it ends the session.
        client.on('disconnect', (packet) => {
            if (packet.reasonCode) {
                this.lastError = reason('broker-refused', { detail: describeAckReason(packet.reasonCode) });
            }
        });
        void this.attempt(client);
    }

    /**
     * A PUBLISH whose Topic Name holds a wildcard, U+0000 or ill-formed UTF-8 is malformed, and the
     * receiver closes the network connection (MQTT 5.0 sections 1.5.4, 3.3.2.1 and 4.13.1; 3.1.1
     * sections 1.5.3 and 3.3.2.1). MQTT.js decodes the name as it can, so the raw bytes are checked
     * on their way to its parser: such a packet, and what follows it, never reaches MQTT.js (nothing
     * of it is delivered or acknowledged), and the stream is closed, which ends in onClose. This wraps
     * MQTT.js's streamBuilder (MQTT.js 5), and each stream's emit of 'data'.
     */
    private installTopicCheck(client: MqttClient): void {
        type Stream = MqttClient['stream'];
        const internals = client as unknown as { streamBuilder?: (client: MqttClient) => Stream };
        const build = internals.streamBuilder;
        if (typeof build !== 'function') return;
        internals.streamBuilder = (c) => {
            const stream = build(c);
            const check = new PublishTopicCheck();
            const emit = stream.emit;
            let cut = false;
            stream.emit = (event: string | symbol, ...args: unknown[]): boolean => {
                const chunk = args[0];
                if (event !== 'data' || !(chunk instanceof Uint8Array)) return emit.call(stream, event, ...args);
                if (cut) return false;
                const malformed = check.scan(chunk);
                if (!malformed) return emit.call(stream, event, chunk);
                cut = true;
                if (malformed.before > 0) emit.call(stream, event, chunk.subarray(0, malformed.before));
                if (this.client === client) this.lastError = reason('malformed-packet', { detail: malformed.detail });
                stream.destroy();
                return false;
            };
            return stream;
        };
    }

    private async attempt(client: MqttClient): Promise<void> {
        this.attemptStartedAt = Date.now();
        this.lastError = undefined;
        this.setStatus({ ...this.link, state: this.link.attempt > 0 ? 'reconnecting' : 'connecting' });
        if (this.options.prepare) {
            try {
                await this.options.prepare();
            } catch (err) {
                if (this.client !== client) return;
                const why = this.options.describePrepareError?.(err) ?? describeConnectionError(err, this.options.address);
                this.retryLater(why);
                return;
            }
            if (this.client !== client) return;
        }
        if (this.link.attempt === 0 && !client.reconnecting && !client.connected && !client.disconnected) {
            client.connect();
        } else {
            // Keep the stores: they hold the QoS 1/2 messages still owed to or by the broker.
            client.reconnect({ incomingStore: client.incomingStore, outgoingStore: client.outgoingStore });
        }
    }

    private onConnect(client: MqttClient, sessionPresent: boolean, properties: { receiveMaximum?: number; subscriptionIdentifiersAvailable?: boolean } | undefined): void {
        if (this.client !== client) return;
        this.backoff.reset();
        this.lastError = undefined;
        const v5 = this.protocolVersion === 5;
        // Route by subscription identifier where the broker supports them (MQTT 5, on by default).
        this.routeByIdentifier = v5 && properties?.subscriptionIdentifiersAvailable !== false;
        if (!sessionPresent) {
            // The broker kept nothing: no subscriptions, and no half-received QoS 2 message will be released.
            this.brokerSubscriptions.clear();
            this.filterById.clear();
            this.store.incoming.clear();
        }
        this.setStatus({ state: 'connected', address: this.options.address, attempt: 0 });
        this.outbox.setOnline(true);
        if (properties?.receiveMaximum) this.outbox.setMaxInflight(properties.receiveMaximum);
        this.reconcile();
    }

    private onClose(client: MqttClient): void {
        if (this.client !== client || this.closing) return;
        this.outbox.setOnline(false);
        if (this.reconnectTimer) return;
        let why = this.lastError;
        if (!why) {
            const waited = Date.now() - this.attemptStartedAt;
            const timeout = this.options.client.connectTimeout ?? 30000;
            why = this.link.state !== 'connected' && waited >= timeout ? reason('timeout', { address: this.options.address }) : reason('closed');
        }
        // A link that was up and is lost (a broker restart, a cut) is tried again soon.
        if (this.link.state === 'connected') this.backoff.resetAfterLinkLoss();
        this.retryLater(why);
    }

    private retryLater(why: Reason): void {
        const client = this.client;
        if (!client || this.closing) return;
        const delay = this.backoff.next();
        this.setStatus({ state: 'reconnecting', address: this.options.address, attempt: this.backoff.attempts, reason: why });
        this.reconnectTimer = setTimeout(() => {
            this.reconnectTimer = null;
            if (this.client === client) void this.attempt(client);
        }, delay);
    }

    private send(sending: QueuedMessage, done: (err?: Error) => void): void {
        const client = this.client;
        if (!client) {
            done(new DeliveryError('the connection is closed', 'closed'));
            return;
        }
        const { message } = sending;
        let id: number | undefined;
        let settled = false;
        const finish = (err?: Error): void => {
            if (settled) return;
            settled = true;
            if (id !== undefined && this.awaitingAck.get(id) === finish) this.awaitingAck.delete(id);
            done(err);
        };
        const publish = (): void => {
            client.publish(message.topic, message.payload, { qos: message.qos, retain: message.retain }, (err) => {
                if (!err) return finish();
                const code = (err as { code?: unknown }).code;
                if (code === QUOTA_EXCEEDED) {
                    // Over a quota of the broker's for now (Mosquitto restored from its persistence file
                    // counts exchanges its clients have long finished): it kept nothing, send it again.
                    finish(new DeliveryError(`the broker is busy: ${describeAckReason(code)}`, 'busy'));
                } else if (typeof code === 'number') {
                    // PUBACK/PUBREC with a reason code of 0x80 or more (MQTT 5): the broker will not take it.
                    finish(new DeliveryError(`the broker refused it: ${describeAckReason(code)}`, 'refused'));
                } else if (id !== undefined && this.store.outgoing.messageIds().includes(id)) {
                    // The link went ("Connection closed"): MQTT.js resends it from the store after
                    // reconnecting, and its deletion from the store completes it.
                } else {
                    finish(new DeliveryError(err.message, 'failed'));
                }
            });
        };
        if (sending.seq) id = this.store.handOver(sending.seq, publish);
        else publish();
        if (id !== undefined && !settled) this.awaitingAck.set(id, finish);
    }

    /** Hands a message to every subscriber it is for; returns how many that was. */
    private route(topic: string, payload: Buffer, packet: IPublishPacket): number {
        const qos = packet.qos as QoS;
        const retain = packet.retain;
        const properties = packet.properties;
        let count = 0;
        const visit = (subscriber: Subscriber): void => {
            count++;
            const message = { topic, payload, qos: qos < subscriber.qos ? qos : subscriber.qos, retain, properties };
            try {
                subscriber.deliver(message);
            } catch (err) {
                // One node's failure must not keep the message from the others, nor reach MQTT.js.
                this.emit('delivery-error', err, subscriber);
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
                return count;
            }
        }
        this.tree.match(topic, visit);
        return count;
    }

    private scheduleReconcile(delayMs: number): void {
        if (this.reconcileTimer) {
            if (delayMs > 0) return; // a pending run will see this change too
            clearTimeout(this.reconcileTimer);
        }
        this.reconcileTimer = setTimeout(() => {
            this.reconcileTimer = null;
            this.reconcile();
        }, delayMs);
    }

    /** Brings the broker's subscriptions in line with what the subscribers want. */
    private reconcile(): void {
        const client = this.client;
        if (!client || !this.connected) return;
        const wanted: { filter: string; qos: QoS }[] = [];
        for (const [filter, set] of this.subscribersByFilter) {
            let qos: QoS = 0;
            for (const s of set) if (s.qos > qos) qos = s.qos;
            wanted.push({ filter, qos });
        }
        const plan = planBrokerSubscriptions(wanted, !this.routeByIdentifier);

        const stale = [...this.brokerSubscriptions.keys()].filter((filter) => !plan.has(filter));
        let changed = stale.length > 0;
        if (stale.length > 0) {
            for (const filter of stale) {
                const sub = this.brokerSubscriptions.get(filter) as BrokerSubscription;
                this.filterById.delete(sub.id);
                this.brokerSubscriptions.delete(filter);
            }
            client.unsubscribe(stale);
        }

        for (const [filter, qos] of plan) {
            const current = this.brokerSubscriptions.get(filter);
            // A covered filter that is new needs its retained messages: resubscribing its cover sends them.
            const coversNewcomer = current !== undefined && !this.routeByIdentifier && this.hasNewcomerUnder(filter);
            if (current && current.qos === qos && !coversNewcomer) continue;
            const id = current?.id ?? this.nextSubscriptionId++;
            changed = true;
            this.brokerSubscriptions.set(filter, { qos, id });
            this.filterById.set(id, filter);
            this.sendSubscribe(client, filter, qos, id);
        }
        for (const set of this.subscribersByFilter.values()) for (const s of set) this.announced.add(s);
        if (changed && this.options.client.clean === false) {
            this.store.saveSubscriptions([...this.brokerSubscriptions].map(([filter, sub]) => ({ filter, qos: sub.qos, id: sub.id })));
        }
    }

    /** Subscribers already covered by a SUBSCRIBE sent on this session. */
    private readonly announced = new WeakSet<Subscriber>();

    private hasNewcomerUnder(brokerFilter: string): boolean {
        let found = false;
        for (const set of this.subscribersByFilter.values()) {
            for (const s of set) {
                if (!this.announced.has(s) && s.filter !== brokerFilter && filterCovers(brokerFilter, s.filter)) found = true;
            }
        }
        return found;
    }

    private sendSubscribe(client: MqttClient, filter: string, qos: QoS, id: number): void {
        const options = this.protocolVersion === 5 ? { qos, properties: { subscriptionIdentifier: id } } : { qos };
        client.subscribe(filter, options, (err, granted) => {
            const grant = granted?.[0];
            let why: string | undefined;
            if (err) why = err.message;
            else if (grant && grant.qos >= 0x80) why = describeAckReason(grant.qos);
            if (why === undefined) {
                if (grant) this.emit('subscribed', filter, grant.qos as QoS);
                return;
            }
            if (this.brokerSubscriptions.get(filter)?.id === id) this.brokerSubscriptions.delete(filter);
            for (const subscriber of this.subscribersByFilter.get(filter) ?? []) subscriber.refused(why);
        });
    }

    private setStatus(status: LinkStatus): void {
        this.link = status;
        this.emit('status', status);
    }

    private clearTimers(): void {
        if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
        if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
        if (this.restartTimer) clearTimeout(this.restartTimer);
        if (this.idleTimer) clearTimeout(this.idleTimer);
        this.reconnectTimer = null;
        this.reconcileTimer = null;
        this.restartTimer = null;
        this.idleTimer = null;
        // A held message stays unacknowledged: the broker sends it again on the next connection.
        this.held = null;
    }
}

/** MQTT 5 reason code 0x97 in a PUBACK or PUBREC. */
const QUOTA_EXCEEDED = 0x97;

/** Ends a client politely (DISCONNECT), or by force when that does not finish in time. */
function endClient(client: MqttClient, patienceMs = 2000): Promise<void> {
    return new Promise((resolve) => {
        const timer = setTimeout(() => {
            client.stream?.destroy();
            resolve();
        }, patienceMs);
        client.end(!client.connected, () => {
            clearTimeout(timer);
            resolve();
        });
    });
}
