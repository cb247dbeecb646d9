/**
 * Loads the compiled nodes into node-red-node-test-helper. The Node-RED runtime is the devDependency
 * (4.x), or the one at MQTT_WIRE_NODE_RED (a path to a node-red package: .ci/run uses it to run the
 * whole suite again with Node-RED 5 on Node.js 22).
 */
import * as path from 'path';
import { allSubscribedOn, subscribedOn } from './subscriptions';

export const helper = require('node-red-node-test-helper');
helper.init(process.env.MQTT_WIRE_NODE_RED ? require.resolve(path.resolve(process.env.MQTT_WIRE_NODE_RED)) : require.resolve('node-red'));

const dist = path.join(__dirname, '..', '..', 'dist');
export const brokerConfigNode = require(path.join(dist, 'broker-config'));
export const mqttInNode = require(path.join(dist, 'mqtt-in'));
export const mqttOutNode = require(path.join(dist, 'mqtt-out'));
export const allNodes = [brokerConfigNode, mqttInNode, mqttOutNode];

const nodeRedDir = path.dirname(require.resolve(process.env.MQTT_WIRE_NODE_RED ? path.resolve(process.env.MQTT_WIRE_NODE_RED, 'package.json') : 'node-red/package.json'));

/**
 * A core node (e.g. 'common/25-catch.js', 'network/10-mqtt.js') of the Node-RED the tests run with:
 * another Node-RED's copy registers its type a second time and fails.
 */
export function coreNode(file: string): unknown {
    return require(require.resolve(`@node-red/nodes/core/${file}`, { paths: [nodeRedDir] }));
}

export interface FlowNode {
    id: string;
    type: string;
    [key: string]: unknown;
}

/** Loads a flow with the three node types (and the helper node) and resolves once it runs. */
export function loadFlow(flow: FlowNode[], credentials: Record<string, unknown> = {}): Promise<void> {
    return new Promise((resolve, reject) => {
        helper.load(allNodes, flow, credentials, (err?: Error) => (err ? reject(err) : resolve()));
    });
}

export async function unloadFlow(): Promise<void> {
    await helper.unload();
}

export function getNode<T = any>(id: string): T {
    return helper.getNode(id) as T;
}

/** Resolves once `predicate` holds, polling; rejects with `what` after the timeout. */
export async function eventually(predicate: () => boolean, what: string, timeoutMs = 10000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
    }
}

/** A broker-config node for an external broker on 127.0.0.1:port. */
export function externalBroker(id: string, port: number, extra: Record<string, unknown> = {}): FlowNode {
    return { id, type: 'broker-config', mode: 'external', broker: '127.0.0.1', port: String(port), protocolVersion: '4', keepalive: '60', cleansession: true, autoConnect: true, ...extra };
}

/** A broker-config node running the embedded broker on 127.0.0.1:port. */
export function embeddedBroker(id: string, port: number, extra: Record<string, unknown> = {}): FlowNode {
    return { id, type: 'broker-config', mode: 'embedded', broker: '127.0.0.1', port: String(port), keepalive: '60', cleansession: true, autoConnect: true, ...extra };
}

/** Collects the messages a helper node receives. */
export function collect(helperId: string): any[] {
    const received: any[] = [];
    getNode(helperId).on('input', (msg: any) => received.push(msg));
    return received;
}

export interface NodeStatus {
    fill?: string;
    shape?: string;
    text?: string;
}

/**
 * The arguments of each call of a Node method (status, warn, error, ...) made on this node since its
 * flow loaded, oldest first. The test helper spies on the Node prototype, so the spy holds the calls
 * of every node: keep those made on this one.
 */
export function callsOn<A extends unknown[] = unknown[]>(nodeId: string, method: string): A[] {
    const calls: { thisValue: { id?: string } | undefined; args: A }[] = getNode(nodeId)[method].getCalls?.() ?? [];
    return calls.filter((call) => call.thisValue?.id === nodeId).map((call) => call.args);
}

/** The statuses the node has shown since its flow loaded, oldest first. */
export function statusHistory(nodeId: string): NodeStatus[] {
    return callsOn<[NodeStatus]>(nodeId, 'status').map(([status]) => status);
}

/** Waits until the node has shown a status that matches; resolves with the latest such status. */
export async function waitForStatus(nodeId: string, match: (status: NodeStatus) => boolean, what: string, timeoutMs = 10000): Promise<NodeStatus> {
    let found: NodeStatus | undefined;
    await eventually(() => {
        found = statusHistory(nodeId).reverse().find(match);
        return found !== undefined;
    }, what, timeoutMs);
    return found as NodeStatus;
}

/** The node's latest status. */
export function lastStatus(nodeId: string): NodeStatus | undefined {
    const history = statusHistory(nodeId);
    return history[history.length - 1];
}

/** Resolves once the broker confirmed (SUBACK) the subscription of broker-config `brokerId` to `filter`. */
export function waitForSubscribed(brokerId: string, filter: string, timeoutMs = 10000): Promise<void> {
    return subscribedOn(getNode(brokerId).connection, filter, timeoutMs);
}

/**
 * Resolves once the broker confirmed every filter broker-config `brokerId` subscribes to (at least
 * one): for flows whose node filters the connection folds into fewer broker filters.
 */
export function waitForAllSubscribed(brokerId: string, timeoutMs = 10000): Promise<void> {
    return allSubscribedOn(getNode(brokerId).connection, timeoutMs);
}

/**
 * The hooks most node test files share: a Mosquitto for the file (made with `startBroker`, when
 * given) and the test helper's server, started before the tests and stopped after them, and the flow
 * unloaded after each test. Returns a getter for the broker.
 */
export function useRuntime<B extends { dispose(): Promise<void> }>(startBroker?: () => Promise<B>): () => B {
    const { after, afterEach, before } = require('node:test') as typeof import('node:test');
    let broker: B | undefined;
    before(async () => {
        if (startBroker) broker = await startBroker();
        await new Promise<void>((resolve) => helper.startServer(resolve));
    });
    after(async () => {
        await broker?.dispose();
        await new Promise<void>((resolve) => helper.stopServer(resolve));
    });
    afterEach(() => unloadFlow());
    return () => {
        if (!broker) throw new Error('the broker of this test file has not started');
        return broker;
    };
}
