/** The broker-config node: reads its settings, owns one shared Connection (and, in embedded mode,
 * the aedes broker), and tells every node that uses it how the link is doing. */
import * as crypto from 'crypto';
import type { IClientOptions } from 'mqtt';
import type { Node, NodeAPI, NodeDef, NodeStatus } from 'node-red';
import type { BrokerHandle, UserRole } from './broker-handle';
import { registerConnectionTest } from './broker-config-admin';
import { BrokerConfigProps, BrokerSettings, BrokerSettingsError, readMode, readProtocolVersion, resolveBrokerSettings, sendsSessionExpiry } from './lib/broker-settings';
import type { SettingsProblem } from './lib/settings-values';
import { mergeBrokerOverride } from './lib/actions';
import { aliyunCredentials } from './lib/aliyun-iot';
import { aliyunSecretProblem } from './lib/aliyun-settings';
import { resolveBrokerEndpoints } from './lib/broker-list';
import type { BrokerEndpoint } from './lib/broker-rotation';
import { Connection, ConnectionTarget, LinkStatus } from './lib/connection';
import { EmbeddedBroker } from './lib/embedded-broker';
import { durableStorePath, openDeliveryStore } from './lib/delivery/open-store';
import type { DeliveryStore } from './lib/delivery/types';
import { describeListenError, Reason } from './lib/errors';
import { decodeStatus, encodeStatus, renderStatus, StatusPart } from './lib/status-text';
import { LifecycleMessages, LifecycleProblem, LifecycleProps, readLifecycleMessages, willOption } from './lib/lifecycle-messages';
import { mqttSidebar } from './mqtt-sidebar-admin';

type BrokerConfigDef = NodeDef & BrokerConfigProps & LifecycleProps & { tls?: string; monitor?: boolean | string };
interface Credentials {
    user?: string;
    password?: string;
    /** Alibaba Cloud IoT mode: the device's DeviceSecret, which signs each connection. */
    aliyunDeviceSecret?: string;
}
interface TlsConfigNode extends Node {
    addTLSOptions(options: IClientOptions): IClientOptions;
}

/** A settings problem as a status part: the text the dialog shows under the field, in the editor's language. */
function problemPart(problem: SettingsProblem): StatusPart {
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(problem.params)) params[name] = String(value);
    return [`broker-config.validation.${problem.code}`, params];
}

export = function (RED: NodeAPI): void {
    const sidebar = mqttSidebar(RED);
    function BrokerConfigNode(this: BrokerHandle, config: BrokerConfigDef): void {
        RED.nodes.createNode(this, config);
        const node = this;
        const users = new Map<Node, UserRole>();
        let embedded: EmbeddedBroker | null = null;
        let lastLoggedReason = '';

        node.text = (key, params = {}, fallback) => {
            const full = `broker-config.${key}`;
            const translated = RED._(full, params);
            return translated === full && fallback !== undefined ? fallback : translated;
        };
        const reasonText = (why: Reason): string => node.text(`reason.${why.code}`, why.params, why.text);
        const lifecycle = readLifecycleMessages(config, readProtocolVersion(config.protocolVersion, readMode(config.mode)) === 5);
        /** What is wrong with a birth, close or will message, without saying which: `its QoS must be ...`. */
        const lifecycleDetailText = (problem: LifecycleProblem): string => {
            const reason = problem.topicCode ? node.text(`topic.${problem.topicCode}`) : (problem.reason ?? '');
            return node.text(`lifecycle.problem-${problem.code}`, { value: problem.value, reason }, problem.detail);
        };
        const lifecycleProblemText = (problem: LifecycleProblem): string => {
            const params = { kind: node.text(`lifecycle.${problem.kind}`, {}, problem.kind), problem: lifecycleDetailText(problem) };
            return node.text('lifecycle.off', params, problem.text);
        };
        /** What is wrong with the birth, close or will message, for the status of a working connection. */
        const lifecycleProblems = lifecycle.problems.map(lifecycleProblemText);

        let settings: BrokerSettings;
        let brokers: BrokerEndpoint[] = [];
        /** Why the settings cannot be used, for the status in the editor's language (the dialog's own text under the field). */
        let configProblem: StatusPart | null = null;
        try {
            settings = resolveBrokerSettings(config);
            const secretMissing = settings.aliyun && aliyunSecretProblem((node.credentials as Credentials | undefined)?.aliyunDeviceSecret);
            if (secretMissing) throw new BrokerSettingsError(secretMissing);
            brokers = resolveBrokerEndpoints(config);
            node.configError = null;
        } catch (err) {
            node.configError = (err as Error).message;
            configProblem = err instanceof BrokerSettingsError ? problemPart(err.problem) : ['broker-config.reason.other', { detail: node.configError }];
            node.connection = null;
            node.error(node.configError);
        }
        const watchInSidebar = sidebar.track(node, config);

        /** A catalogue text of this node for a status (every reason, topic rule and lifecycle problem has one). */
        const part = (key: string, params?: Record<string, StatusPart>): StatusPart => (params ? [`broker-config.${key}`, params] : [`broker-config.${key}`]);
        const reasonPart = (why: Reason): StatusPart => part(`reason.${why.code}`, why.params);
        const lifecycleProblemPart = (problem: LifecycleProblem): StatusPart => {
            const reason = problem.topicCode ? part(`topic.${problem.topicCode}`) : (problem.reason ?? '');
            const detail = part(`lifecycle.problem-${problem.code}`, { value: problem.value, reason });
            return part('lifecycle.off', { kind: part(`lifecycle.${problem.kind}`), problem: detail });
        };
        const lifecycleProblemParts = lifecycle.problems.map(lifecycleProblemPart);
        const status = (fill: NodeStatus['fill'], shape: NodeStatus['shape'], parts: StatusPart[]): NodeStatus => ({ fill, shape, text: encodeStatus(parts) });

        const statusOf = (link: LinkStatus, role: UserRole): NodeStatus => {
            // Messages waiting to be sent and QoS 0 dropped concern the nodes that publish only.
            const counts = role === 'publisher' ? countParts() : [];
            switch (link.state) {
                case 'connected': {
                    const parts = [part('status.connected', { broker: link.address }), ...counts];
                    if (lifecycleProblemParts.length) return status('yellow', 'dot', [...parts, ...lifecycleProblemParts]);
                    return status('green', 'dot', parts);
                }
                case 'connecting':
                    return status('yellow', 'ring', [part('status.connecting', { broker: link.address })]);
                case 'reconnecting': {
                    const reconnecting = part('status.reconnecting', { attempt: String(link.attempt), reason: link.reason ? reasonPart(link.reason) : '' });
                    return status('red', 'ring', [reconnecting, ...counts]);
                }
                default:
                    return status('red', 'ring', [part('status.disconnected')]);
            }
        };

        /** "12 waiting to be sent", "3 QoS 0 dropped while offline", when there is something to count. */
        const countParts = (): StatusPart[] => {
            const delivery = node.connection?.delivery;
            if (!delivery) return [];
            const parts: StatusPart[] = [];
            if (delivery.queued > 0) parts.push(part('status.waiting', { count: String(delivery.queued) }));
            if (delivery.droppedQoS0 > 0) parts.push(part('status.dropped', { count: String(delivery.droppedQoS0) }));
            return parts;
        };

        node.currentStatus = (role = 'publisher') => {
            if (configProblem) return status('red', 'ring', [configProblem]);
            if (node.connection?.awaitingConnect) return status('grey', 'ring', [part('status.auto-connect-off')]);
            return node.connection ? statusOf(node.connection.status, role) : status('red', 'ring', [part('status.disconnected')]);
        };
        /** A status in this runtime's language, for the log. */
        const statusInWords = (shown: NodeStatus): string => {
            const parts = decodeStatus(shown.text);
            return parts ? renderStatus(parts, (key, params) => RED._(key, params)) : String(shown.text ?? '');
        };

        node.register = (user, role = 'publisher') => {
            users.set(user, role);
            user.status(node.currentStatus(role));
            node.connection?.attach(user);
        };
        node.deregister = async (user) => {
            users.delete(user);
            await node.connection?.detach(user);
        };

        if (node.configError) {
            node.on('close', (done: () => void) => done());
            return;
        }
        settings = settings!;
        for (const problem of lifecycleProblems) node.error(problem);

        /** The broker address and client options for these settings: at start, and for a connect with msg.broker. */
        const targetOf = (settings: BrokerSettings, brokers: BrokerEndpoint[], credentials: Credentials, lifecycle: LifecycleMessages): ConnectionTarget => {
            const clientOptions: IClientOptions = {
                protocolVersion: settings.protocolVersion,
                clientId: settings.clientId || generatedClientId(node.id, settings.clean),
                keepalive: settings.keepalive,
                clean: settings.clean,
                connectTimeout: 30000,
            };
            if (settings.protocolVersion === 5) {
                // Ask for response and problem information, as the core node does.
                clientOptions.properties = { requestResponseInformation: true, requestProblemInformation: true };
                // Without it an MQTT 5 broker ends the session at the first disconnect.
                if (sendsSessionExpiry(settings)) clientOptions.properties.sessionExpiryInterval = settings.sessionExpiry;
                if (settings.connectUserProperties) clientOptions.properties.userProperties = settings.connectUserProperties;
            }
            if (lifecycle.will) clientOptions.will = willOption(lifecycle.will);
            if (settings.aliyun) {
                // Signed at each start and each connect action; reconnects reuse it (the platform's timestamp is optional).
                const signed = aliyunCredentials({ ...settings.aliyun, deviceSecret: credentials.aliyunDeviceSecret ?? '', timestamp: Date.now() });
                clientOptions.clientId = signed.clientId;
                clientOptions.username = signed.username;
                clientOptions.password = signed.password;
            } else if (settings.mode === 'external') {
                if (credentials.user) clientOptions.username = credentials.user;
                if (credentials.password) clientOptions.password = credentials.password;
            }
            if (settings.usesTls) {
                const tlsNode = config.tls ? (RED.nodes.getNode(config.tls) as TlsConfigNode | null) : null;
                if (tlsNode) tlsNode.addTLSOptions(clientOptions);
                else clientOptions.rejectUnauthorized = settings.verifyServerCert;
                if (clientOptions.rejectUnauthorized === false) {
                    node.warn(node.text('log.tls-verify-off', { broker: settings.address }));
                }
            }
            return { url: settings.url, address: settings.address, brokers, client: clientOptions, birth: lifecycle.birth, close: lifecycle.close };
        };
        const credentials = (node.credentials ?? {}) as Credentials;
        const target = targetOf(settings, brokers, credentials, lifecycle);
        node.targetFor = (override) => {
            const merged = mergeBrokerOverride(config, credentials, override);
            const mergedSettings = resolveBrokerSettings(merged.props);
            const mergedLifecycle = readLifecycleMessages(merged.props, mergedSettings.protocolVersion === 5);
            // A message msg.broker gives must be usable: the connect is refused rather than going without it.
            const given = mergedLifecycle.problems.find((problem) => Object.prototype.hasOwnProperty.call(override.props, `${problem.kind}Topic`));
            if (given) {
                const detail = lifecycleDetailText(given);
                throw new Error(node.text('lifecycle.refused', { kind: given.kind, problem: detail }, `msg.broker.${given.kind}: ${detail}`));
            }
            return targetOf(mergedSettings, resolveBrokerEndpoints(merged.props), { ...credentials, ...merged.credentials }, mergedLifecycle);
        };

        /** The durable store when asked for and possible; else memory, with the reason in the log. */
        function openStore(clientId: string): DeliveryStore {
            if (!settings.durable) return openDeliveryStore(null).store;
            const userDir = (RED.settings as { userDir?: string }).userDir;
            if (!userDir) {
                node.warn(node.text('log.durable-no-userdir'));
                return openDeliveryStore(null).store;
            }
            const file = durableStorePath(userDir, node.id, clientId);
            try {
                const opened = openDeliveryStore(file, (err) => node.error(node.text('log.durable-error', { file, reason: err.message })));
                if (opened.discardedBytes > 0) node.warn(node.text('log.durable-torn', { file, bytes: String(opened.discardedBytes) }));
                return opened.store;
            } catch (err) {
                node.error(node.text('log.durable-failed', { file, reason: (err as Error).message }));
                return openDeliveryStore(null).store;
            }
        }

        if (settings.mode === 'embedded') {
            embedded = new EmbeddedBroker(settings.listenHost, settings.port);
            const listenAddress = `${settings.listenHost}:${settings.port}`;
            embedded.start().then(
                () => node.log(node.text('log.embedded-listening', { address: listenAddress })),
                // The connection's attempts retry listening and put the reason on every node's status.
                () => undefined,
            );
        }
        const embeddedBroker = embedded;

        // An Alibaba client id carries the time it was signed: the store goes by the part before it.
        const store = openStore(settings.aliyun ? settings.aliyun.clientId : (target.client.clientId as string));
        const connection = new Connection({
            ...target,
            autoConnect: settings.autoConnect,
            store,
            backoff: { initialMs: settings.reconnectDelayMs, maxMs: settings.reconnectDelayMaxMs, jitter: 0.2 },
            outbox: { maxInflight: settings.maxInflight, maxQueued: settings.queueLimit, queueQoS0: settings.queueQoS0 },
            prepare: embeddedBroker ? () => embeddedBroker.start() : undefined,
            describePrepareError: (err) => describeListenError(err, settings.listenHost, settings.port),
        });
        node.connection = connection;
        watchInSidebar(connection);

        // While the link is down, and after it is back while what waited is still being sent, the
        // counts of waiting and dropped messages change: show them each second until none waits.
        let countsTimer: NodeJS.Timeout | null = null;
        const counting = (link: LinkStatus): boolean =>
            link.state === 'reconnecting' || link.state === 'connecting' || (link.state === 'connected' && connection.delivery.queued > 0);
        const stopCounting = (): void => {
            if (countsTimer) clearInterval(countsTimer);
            countsTimer = null;
        };
        const showStatus = (): void => {
            for (const [user, role] of users) user.status(node.currentStatus(role));
            if (!counting(connection.status)) stopCounting();
        };
        connection.on('status', (link) => {
            for (const [user, role] of users) user.status(statusOf(link, role));
            if (!counting(link)) stopCounting();
            else if (!countsTimer) countsTimer = setInterval(showStatus, 1000);
            // Log each new reason once, not every attempt.
            const why = link.state === 'reconnecting' && link.reason ? reasonText(link.reason) : '';
            if (why && why !== lastLoggedReason) node.warn(why);
            if (link.state === 'connected' && lastLoggedReason) node.log(statusInWords(statusOf(link, 'publisher')));
            lastLoggedReason = link.state === 'connected' ? '' : why || lastLoggedReason;
        });
        connection.on('delivery-error', (err) => node.error(err));
        connection.on('lifecycle-error', (kind, err) => {
            const params = { kind: node.text(`lifecycle.${kind}`, {}, kind), reason: err.message };
            node.error(node.text('lifecycle.failed', params, `the ${kind} message could not be published: ${err.message}`));
        });

        connection.on('orphan-error', (err, message) => node.error(node.text('log.restored-failed', { topic: message.topic, reason: err.message })));

        node.on('close', (done: () => void) => {
            stopCounting();
            void (async () => {
                const waiting = connection.delivery.queued;
                await connection.close();
                if (store.durable && waiting > 0) node.log(node.text('log.kept-for-restart', { count: String(waiting) }));
                if (embeddedBroker) {
                    await embeddedBroker.stop();
                    node.log(node.text('log.embedded-stopped'));
                }
            })().finally(done);
        });
    }

    RED.nodes.registerType('broker-config', BrokerConfigNode as unknown as (this: Node, def: NodeDef) => void, {
        credentials: { user: { type: 'text' }, password: { type: 'password' }, aliyunDeviceSecret: { type: 'password' } },
    });
    registerConnectionTest(RED);
};

/**
 * A client id when the user gave none. A clean session gets a fresh one each start; a persistent
 * session needs the same id after a restart (the broker finds the session by it), so it is derived
 * from the config node's id. Two Node-RED instances sharing one flow and a persistent session must
 * set their own client ids.
 */
function generatedClientId(nodeId: string, clean: boolean): string {
    const suffix = clean ? crypto.randomBytes(4).toString('hex') : nodeId.replace(/[^0-9a-zA-Z]/g, '').slice(0, 16);
    return `mqttwire_${suffix}`;
}
