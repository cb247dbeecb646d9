/**
 * One MQTT.js client shared by every node of one broker-config: it connects when the first node
 * needs it and closes after the last; it holds each distinct subscription once at the broker, routes
 * each incoming message to the nodes whose filter matches, sends publishes through the outbox, and
 * reports its state in words. It owns the client and the link and wires the units that decide:
 * `Subscriptions` what to subscribe and whom a message is for, `RedeployHold` when an incoming
 * message is acknowledged, `PublishSender` how a publish ends.
 */
import { EventEmitter } from 'events';
import * as mqtt from 'mqtt';
import type { IPublishPacket, MqttClient } from 'mqtt';
import { Backoff, DEFAULT_BACKOFF } from './backoff';
import { BrokerRotation } from './broker-rotation';
import { MemoryDeliveryStore } from './delivery/memory-store';
import { DEFAULT_OUTBOX, DeliveryCallback, Outbox } from './delivery/outbox';
import { installSendBarrier } from './delivery/send-barrier';
import type { DeliveryStore, OutgoingMessage } from './delivery/types';
import { endClient, quietMqttJs } from './mqttjs-client';
import { describeAckReason, describeClose, describeConnectionError, describeDisconnect, describeResetOverTls, describeUnansweredSubscribe, reason, Reason } from './errors';
import { PublishSender } from './publish-sender';
import { publishLifecycleMessage } from './lifecycle-messages';
import { guardPublishTopics } from './publish-topic-guard';
import { tuneClientStreams } from './stream-tuning';
import { RedeployHold } from './redeploy-hold';
import type { QoS } from './subscription-plan';
import { BrokerSubscription, Subscriber, Subscriptions } from './subscriptions';
import type { TrafficObserver } from './traffic-monitor';
import type { ConnackProperties, ConnectionEvents, ConnectionOptions, ConnectionTarget, LinkStatus } from './connection-options';

export type { InboundMessage, Subscriber } from './subscriptions';
export type { ConnectionEvents, ConnectionOptions, ConnectionTarget, LinkState, LinkStatus } from './connection-options';

/** How long a clean disconnect waits for the broker to take the close message. */
const CLOSE_MESSAGE_PATIENCE_MS = 2000;
const BIRTH_MESSAGE_PATIENCE_MS = 30000;

export class Connection extends EventEmitter<ConnectionEvents> {
    private options: ConnectionOptions;
    private readonly backoff: Backoff;
    /** Null with a single broker. */
    private rotation: BrokerRotation | null;
    private readonly store: DeliveryStore;
    private readonly outbox: Outbox;
    private readonly sender: PublishSender;
    private readonly subscriptions: Subscriptions;
    private readonly hold = new RedeployHold();
    /** Filters whose UNSUBSCRIBE awaits its UNSUBACK, each with a SUBSCRIBE of it that waits for that. */
    private readonly unsubscribing = new Map<string, BrokerSubscription | null>();
    /** The nodes using the connection. */
    private readonly users = new Set<object>();
    private client: MqttClient | null = null;
    private link: LinkStatus;
    private reconnectTimer: NodeJS.Timeout | null = null;
    private reconcileTimer: NodeJS.Timeout | null = null;
    /** A reconcile for a new subscriber waits for the end of this tick. */
    private subscribeDue = false;
    private idleTimer: NodeJS.Timeout | null = null;
    private closing: Promise<void> | null = null;
    private attemptStartedAt = 0;
    private lastError: Reason | undefined;
    /** The link stays down until connect(): auto-connect is off, or a disconnect() was asked for. */
    private held: boolean;
    private connectRequested = false;
    /** Sees every message in and out while the MQTT sidebar watches this connection; null costs one check each. */
    observer: TrafficObserver | null = null;

    constructor(options: ConnectionOptions) {
        super();
        this.options = options;
        this.backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
        this.store = options.store ?? new MemoryDeliveryStore();
        this.rotation = BrokerRotation.of(options.brokers, this.store.outgoing);
        this.outbox = new Outbox((sending, done) => this.sender.send(this.client, sending, done), { ...DEFAULT_OUTBOX, ...options.outbox }, this.store, (err, message) =>
            this.emit('orphan-error', err, message),
        );
        this.sender = new PublishSender(this.store);
        this.subscriptions = new Subscriptions(options.client.clean === false ? this.store : undefined);
        this.link = { state: 'idle', address: options.address, attempt: 0 };
        this.held = options.autoConnect === false;
    }

    /** Auto-connect is off and no connect() has been asked for yet. */
    get awaitingConnect(): boolean {
        return this.held && !this.connectRequested;
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
        return this.subscriptions.brokerFilters;
    }

    /** The filters the nodes want, each with its subscribers. */
    get subscribers(): ReadonlyMap<string, ReadonlySet<Subscriber>> {
        return this.subscriptions.wanted;
    }

    /** A node starts using the connection; the first one opens it. */
    attach(user: object): void {
        if (this.closing) return;
        this.users.add(user);
        if (this.idleTimer) clearTimeout(this.idleTimer);
        this.idleTimer = null;
        if (this.link.state === 'idle' && !this.client && !this.held) this.open();
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
        await this.endLink();
        if (this.users.size > 0 && !this.closing && !this.client && !this.held) this.open();
    }

    private async endLink(): Promise<void> {
        const client = this.client;
        if (!client || this.closing) return;
        this.clearTimers();
        this.outbox.setOnline(false);
        this.client = null;
        await this.endClientCleanly(client);
        this.backoff.reset();
        this.rotation?.reset();
        if (!this.closing) this.setStatus({ state: 'idle', address: this.options.address, attempt: 0 });
    }

    /**
     * Opens the link on request, also when auto-connect is off, and resolves once it is up. With a
     * `target` the client connects there from now on (a link that is trying is restarted with it);
     * what waits in the outbox stays and is sent there. Refused while the link is up: disconnect first.
     */
    async connect(target?: ConnectionTarget): Promise<void> {
        if (this.closing) throw new Error('the connection is closed');
        if (target && this.connected) throw new Error('the connection is up: disconnect before connecting with other settings');
        this.held = false;
        this.connectRequested = true;
        if (target) {
            await this.endLink();
            this.options = { ...this.options, brokers: undefined, ...target };
            this.rotation = BrokerRotation.of(this.options.brokers, this.store.outgoing);
            this.link = { ...this.link, address: target.address };
        }
        if (this.connected) return;
        const up = this.untilConnected();
        if (!this.client) this.open();
        await up;
    }

    /** Ends the link on request and keeps it down, whoever attaches, until connect(). */
    async disconnect(): Promise<void> {
        this.held = true;
        this.connectRequested = true;
        await this.endLink();
    }

    private untilConnected(): Promise<void> {
        return new Promise((resolve, reject) => {
            const watch = (status: LinkStatus): void => {
                if (status.state === 'connected') resolve();
                else if (status.state === 'idle' || status.state === 'closed') reject(new Error('the connection was ended before it was made'));
                else return;
                this.off('status', watch);
            };
            this.on('status', watch);
        });
    }

    subscribe(subscriber: Subscriber): void {
        this.subscriptions.add(subscriber);
        // Subscribe at once (next tick, so the nodes of one deploy go in one SUBSCRIBE).
        this.scheduleReconcile(0);
        this.hold.offer((topic, packet) => this.route(topic, packet.payload as Buffer, packet));
    }

    /**
     * Stops routing to a subscriber. Its broker subscription goes when no other subscriber needs it:
     * at once with `now` (the node was deleted from the flow), else after a short delay, so that a
     * node that is only restarted keeps it. When the last node goes the connection closes without
     * unsubscribing, and a persistent session keeps its subscriptions for the next start.
     */
    unsubscribe(subscriber: Subscriber, options: { now?: boolean } = {}): void {
        if (!this.subscriptions.remove(subscriber)) return;
        if (options.now) {
            this.reconcile();
            return;
        }
        const delay = this.options.unsubscribeDelayMs ?? 500;
        this.scheduleReconcile(delay);
        this.hold.openWindow(delay);
    }

    publish(message: OutgoingMessage): Promise<void> {
        return new Promise((resolve, reject) => this.send(message, (err) => (err ? reject(err) : resolve())));
    }

    /** As publish(), with a callback (no promise per message). */
    send(message: OutgoingMessage, done: DeliveryCallback): void {
        // A subscription asked for in this same tick (a dynamic subscribe, then a publish to it) goes
        // to the broker first, so the broker has it when the message arrives, as with the core node.
        if (this.subscribeDue) this.runReconcileNow();
        this.observer?.published(message.topic, message.payload, message.qos, message.retain);
        this.outbox.post(message, done);
    }

    /** Closes the link for good: stops reconnecting, refuses what waits to be sent, ends the client. */
    close(): Promise<void> {
        if (this.closing) return this.closing;
        this.closing = (async () => {
            this.clearTimers();
            this.outbox.close('the connection was closed (redeploy or shutdown) before the message was sent');
            const client = this.client;
            this.client = null;
            if (client) await this.endClientCleanly(client);
            await this.store.close();
            this.setStatus({ state: 'closed', address: this.options.address, attempt: 0 });
        })();
        return this.closing;
    }

    private open(): void {
        const client = mqtt.connect(this.options.url, {
            ...this.options.client,
            ...quietMqttJs,
            manualConnect: true,
            reconnectPeriod: 0,
            resubscribe: false,
            incomingStore: this.store.incoming,
            outgoingStore: this.store.outgoing,
        });
        this.client = client;
        installSendBarrier(client, this.store);
        tuneClientStreams(client);
        guardPublishTopics(client, (detail) => {
            if (this.client === client) this.lastError = reason('malformed-packet', { detail });
        });
        client.on('connect', (connack) => this.onConnect(client, connack.sessionPresent, connack.properties));
        client.on('message', (topic, payload, packet) => {
            this.observer?.received(topic, payload, packet.qos, packet.retain);
            this.hold.routed(packet, topic, this.route(topic, payload, packet));
        });
        client.handleMessage = (packet, acknowledge) => this.hold.acknowledgeOrHold(packet, () => acknowledge());
        client.on('error', (err) => {
            this.lastError = describeResetOverTls(describeConnectionError(err, this.options.address), this.options.url, this.link.state === 'connected');
            // A packet the parser refuses is malformed: close the network connection (MQTT 5.0 section 4.13.1).
            if (this.lastError.code === 'malformed-packet') client.stream?.destroy();
        });
        client.on('close', () => this.onClose(client));
        // A broker's DISCONNECT (MQTT 5) says why it ends the session.
        client.on('disconnect', (packet) => {
            if (packet.reasonCode) {
                this.lastError = describeDisconnect(packet.reasonCode);
            }
        });
        void this.attempt(client);
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

    private onConnect(client: MqttClient, sessionPresent: boolean, properties: ConnackProperties | undefined): void {
        if (this.client !== client) return;
        // The backoff and the round of brokers start over only once this link has lasted (onClose).
        this.backoff.linkUp(Date.now());
        this.sender.setBrokerLimits(this.protocolVersion === 5 ? { maximumPacketSize: properties?.maximumPacketSize, topicAliasMaximum: properties?.topicAliasMaximum, mqtt5: true } : {});
        this.lastError = undefined;
        // Route by subscription identifier where the broker supports them (MQTT 5, on by default).
        const v5 = this.protocolVersion === 5;
        this.subscriptions.sessionStarted(sessionPresent, v5 && properties?.subscriptionIdentifiersAvailable !== false, v5);
        // The broker kept nothing: no half-received QoS 2 message will be released.
        if (!sessionPresent) this.store.incoming.clear();
        this.setStatus({ state: 'connected', address: this.options.address, attempt: 0 });
        // Subscribe before sending what waits, so a flow that hears its own topics gets those messages too.
        this.reconcile();
        this.outbox.setOnline(true);
        if (properties?.receiveMaximum) this.outbox.setMaxInflight(properties.receiveMaximum);
        const birth = this.options.birth;
        if (birth) {
            publishLifecycleMessage(client, birth, BIRTH_MESSAGE_PATIENCE_MS).catch((err) => {
                // A link lost meanwhile sends a birth message of its own when it is back.
                if (this.client === client && this.connected) this.emit('lifecycle-error', 'birth', err);
            });
        }
    }

    /** Ends a client cleanly, after the close message while the link is up: a DISCONNECT tells the broker to drop the will. */
    private async endClientCleanly(client: MqttClient): Promise<void> {
        const close = this.options.close;
        if (close && this.connected) {
            await publishLifecycleMessage(client, close, CLOSE_MESSAGE_PATIENCE_MS).catch((err) => this.emit('lifecycle-error', 'close', err));
        }
        await endClient(client);
    }

    private onClose(client: MqttClient): void {
        if (this.client !== client || this.closing) return;
        this.outbox.setOnline(false);
        if (this.reconnectTimer) return;
        const wasUp = this.link.state === 'connected';
        // A link that had lasted and is lost (a broker restart, a cut) is tried again soon, from the
        // next broker of a list at once; one the broker closed right after accepting it is a failed attempt.
        const link = wasUp ? this.backoff.linkLost(Date.now()) : null;
        if (link?.proven) this.rotation?.reset();
        let why = this.lastError;
        if (link && !link.proven && (!why || why.code === 'connection-reset')) why = reason('closed-soon', { ms: String(link.lastedMs) });
        if (!why) {
            const waited = Date.now() - this.attemptStartedAt;
            const timeout = this.options.client.connectTimeout ?? 30000;
            why = !wasUp && waited >= timeout ? reason('timeout', { address: this.options.address }) : describeClose(wasUp, this.protocolVersion);
        }
        this.retryLater(why);
    }

    private retryLater(why: Reason): void {
        const client = this.client;
        if (!client || this.closing) return;
        const next = this.rotation?.moveOn(client, this.options.client.servername);
        if (next) this.options = { ...this.options, url: next.broker.url, address: next.broker.address };
        const delay = next?.when === 'at-once' ? 0 : this.backoff.next();
        const attempt = this.rotation?.failures ?? this.backoff.attempts;
        this.setStatus({ state: 'reconnecting', address: this.options.address, attempt, reason: why });
        this.reconnectTimer = setTimeout(() => {
            this.reconnectTimer = null;
            if (this.client === client) void this.attempt(client);
        }, delay);
    }

    private route(topic: string, payload: Buffer, packet: IPublishPacket): number {
        return this.subscriptions.route(topic, payload, packet, (err, subscriber) => this.emit('delivery-error', err, subscriber));
    }

    private scheduleReconcile(delayMs: number): void {
        if (this.reconcileTimer) {
            if (delayMs > 0) return; // a pending run will see this change too
            clearTimeout(this.reconcileTimer);
        }
        this.subscribeDue = delayMs === 0;
        this.reconcileTimer = setTimeout(() => this.runReconcileNow(), delayMs);
    }

    private runReconcileNow(): void {
        if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
        this.reconcileTimer = null;
        this.subscribeDue = false;
        this.reconcile();
    }

    /** Brings the broker's subscriptions in line with what the subscribers want. */
    private reconcile(): void {
        const client = this.client;
        if (!client || !this.connected) return;
        const changes = this.subscriptions.reconcile();
        if (changes.unsubscribe.length > 0) this.sendUnsubscribe(client, changes.unsubscribe);
        for (const sent of changes.subscribe) {
            // Right behind an UNSUBSCRIBE of the same filter, a SUBSCRIBE waits for the UNSUBACK:
            // aedes 1.2 (the embedded broker) acknowledges the two out of order and drops the new subscription.
            if (this.unsubscribing.has(sent.filter)) this.unsubscribing.set(sent.filter, sent);
            else this.sendSubscribe(client, sent);
        }
        // After the packets: with a durable store, a record written before them would hold them back until its sync.
        this.subscriptions.saveSession();
    }

    private sendUnsubscribe(client: MqttClient, filters: string[]): void {
        for (const filter of filters) this.unsubscribing.set(filter, null);
        client.unsubscribe(filters, (err) => {
            for (const filter of filters) {
                const waiting = this.unsubscribing.get(filter);
                this.unsubscribing.delete(filter);
                if (!waiting) continue;
                // The link went first: the subscription is sent on the next one.
                if (err || this.client !== client) this.subscriptions.unsent(waiting);
                else this.sendSubscribe(client, waiting);
            }
        });
    }

    private sendSubscribe(client: MqttClient, sent: BrokerSubscription): void {
        const { filter, qos, id } = sent;
        const options = this.protocolVersion === 5 ? { qos, ...sent.options, properties: { subscriptionIdentifier: id } } : { qos };
        client.subscribe(filter, options, (err, granted) => {
            const grant = granted?.[0];
            let why: string | undefined;
            // The link went before the SUBACK: not a refusal. The link's status says why, and the
            // filter is sent again on the next link. A broker without shared subscriptions closes
            // the link on a $share filter, so that one is reported to its nodes.
            if (err && err.message === 'Connection closed' && !filter.startsWith('$share/')) {
                this.subscriptions.unanswered(sent);
                return;
            }
            if (err) why = describeUnansweredSubscribe(filter, err.message);
            else if (grant && grant.qos >= 0x80) why = describeAckReason(grant.qos);
            if (why === undefined) {
                if (grant) this.emit('subscribed', filter, grant.qos as QoS);
                return;
            }
            this.subscriptions.refused(sent, why);
        });
    }

    private setStatus(status: LinkStatus): void {
        this.link = status;
        this.emit('status', status);
    }

    private clearTimers(): void {
        if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
        if (this.reconcileTimer) clearTimeout(this.reconcileTimer);
        if (this.idleTimer) clearTimeout(this.idleTimer);
        this.reconnectTimer = null;
        this.reconcileTimer = null;
        this.subscribeDue = false;
        this.idleTimer = null;
        // A held message stays unacknowledged: the broker sends it again on the next connection.
        this.hold.drop();
    }
}
