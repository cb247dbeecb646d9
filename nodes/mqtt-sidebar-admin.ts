/**
 * The runtime side of the editor's MQTT sidebar: keeps a list of the broker-config nodes running and
 * answers the sidebar's polls over the admin HTTP API, guarded by the permission broker-config.read:
 *   GET mqtt-wire/sidebar                   every broker-config: state, subscriptions and their nodes, traffic
 *   GET mqtt-wire/sidebar/<id>/topics       the topics one broker-config has seen (for topic completions)
 * Traffic (rates and the topics seen) is watched only for a broker-config whose "monitor" is on.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { BrokerHandle } from './broker-handle';
import type { Connection, LinkState } from './lib/connection';
import { filterCovers } from './lib/topic';
import { TrafficMonitor, TrafficSnapshot } from './lib/traffic-monitor';

interface Tracked {
    node: BrokerHandle;
    mode: string;
    connection: Connection | null;
    monitor: TrafficMonitor | null;
    connectedSince: number | null;
}

export interface SubscriptionView {
    filter: string;
    /** The highest QoS its nodes ask for. */
    qos: number;
    /** A subscription held at the broker (this filter, or one that covers it) takes its messages. */
    subscribed: boolean;
    holders: { id: string; name: string; type: string }[];
}

export interface BrokerView {
    id: string;
    name: string;
    mode: string;
    address: string;
    state: LinkState | 'config-error';
    status: { fill?: string; shape?: string; text?: string };
    /** Milliseconds since the epoch; null while the link is down. */
    connectedSince: number | null;
    subscriptions: SubscriptionView[];
    monitor: boolean;
    /** Present when monitor is on. */
    traffic?: TrafficSnapshot;
}

/** Starts watching a broker-config's connection, once it has one. */
export type WatchConnection = (connection: Connection) => void;

export interface MqttSidebar {
    /** Lists a broker-config node (also one whose configuration is wrong) until it closes. */
    track(node: BrokerHandle, config: NodeDef & { mode?: unknown; monitor?: unknown }): WatchConnection;
}

interface FlowNodeConfig {
    id: string;
    type: string;
    name?: string;
    broker?: string;
    topic?: string;
    inputs?: number | string;
}

/** Registers the admin routes for one Node-RED runtime; broker-config.ts calls it once, at load. */
export function mqttSidebar(RED: NodeAPI): MqttSidebar {
    const tracked = new Map<string, Tracked>();
    const permission = RED.auth.needsPermission('broker-config.read');

    /** The mqtt-in nodes of the flows with a fixed filter on this broker: who holds the subscriptions without an owner. */
    function staticHolders(brokerId: string): Map<string, FlowNodeConfig[]> {
        const byFilter = new Map<string, FlowNodeConfig[]>();
        RED.nodes.eachNode((n) => {
            const config = n as unknown as FlowNodeConfig;
            if (config.type !== 'mqtt-in' || config.broker !== brokerId || Number(config.inputs) === 1 || typeof config.topic !== 'string') return;
            if (!RED.nodes.getNode(config.id)) return;
            const list = byFilter.get(config.topic) ?? [];
            list.push(config);
            byFilter.set(config.topic, list);
        });
        return byFilter;
    }

    function subscriptionsOf(entry: Tracked): SubscriptionView[] {
        const connection = entry.connection;
        if (!connection) return [];
        const atBroker = [...connection.brokerFilters.keys()];
        const fixed = staticHolders(entry.node.id);
        const views: SubscriptionView[] = [];
        for (const [filter, subscribers] of connection.subscribers) {
            const holders = new Map<string, { id: string; name: string; type: string }>();
            let qos = 0;
            for (const subscriber of subscribers) {
                if (subscriber.qos > qos) qos = subscriber.qos;
                const owner = subscriber.owner as Partial<Node> | undefined;
                if (owner && typeof owner.id === 'string') holders.set(owner.id, { id: owner.id, name: owner.name ?? '', type: owner.type ?? '' });
            }
            for (const config of fixed.get(filter) ?? []) holders.set(config.id, { id: config.id, name: config.name ?? '', type: config.type });
            const subscribed = connection.connected && atBroker.some((held) => filterCovers(held, filter));
            views.push({ filter, qos, subscribed, holders: [...holders.values()] });
        }
        return views.sort((a, b) => (a.filter < b.filter ? -1 : a.filter > b.filter ? 1 : 0));
    }

    function viewOf(entry: Tracked): BrokerView {
        const { node, connection } = entry;
        const status = node.currentStatus();
        const view: BrokerView = {
            id: node.id,
            name: node.name ?? '',
            mode: entry.mode,
            address: connection?.status.address ?? '',
            state: connection ? connection.status.state : 'config-error',
            status: { fill: status.fill, shape: status.shape, text: typeof status.text === 'string' ? status.text : '' },
            connectedSince: entry.connectedSince,
            subscriptions: subscriptionsOf(entry),
            monitor: entry.monitor !== null,
        };
        if (entry.monitor) view.traffic = entry.monitor.snapshot();
        return view;
    }

    RED.httpAdmin.get('/mqtt-wire/sidebar', permission, (_req, res) => {
        const brokers = [...tracked.values()].map(viewOf);
        res.json({ brokers });
    });
    RED.httpAdmin.get('/mqtt-wire/sidebar/:id/topics', permission, (req, res) => {
        const entry = tracked.get(String(req.params.id));
        if (!entry) {
            res.status(404).json({ error: 'no such broker-config is running' });
            return;
        }
        res.json({ monitor: entry.monitor !== null, topics: entry.monitor ? entry.monitor.topicNames().sort() : [] });
    });

    return {
        track(node, config) {
            const entry: Tracked = { node, mode: config.mode === 'embedded' ? 'embedded' : 'external', connection: null, monitor: null, connectedSince: null };
            tracked.set(node.id, entry);
            node.on('close', () => {
                if (tracked.get(node.id) === entry) tracked.delete(node.id);
                if (entry.connection) entry.connection.observer = null;
            });
            return (connection) => {
                entry.connection = connection;
                if (config.monitor === true || config.monitor === 'true') {
                    entry.monitor = new TrafficMonitor();
                    connection.observer = entry.monitor;
                }
                connection.on('status', (link) => {
                    if (link.state !== 'connected') entry.connectedSince = null;
                    else if (entry.connectedSince === null) entry.connectedSince = Date.now();
                });
            };
        },
    };
}
