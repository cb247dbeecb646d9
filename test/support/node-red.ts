/**
 * Loads the compiled nodes into node-red-node-test-helper. The Node-RED runtime is the devDependency
 * (4.x), or the one at MQTT_WIRE_NODE_RED (a path to a node-red package: .ci/run uses it to run the
 * whole suite again with Node-RED 5 on Node.js 22).
 */
import * as path from 'path';

// eslint-disable-next-line @typescript-eslint/no-var-requires
export const helper = require('node-red-node-test-helper');
helper.init(process.env.MQTT_WIRE_NODE_RED ? require.resolve(path.resolve(process.env.MQTT_WIRE_NODE_RED)) : require.resolve('node-red'));

const dist = path.join(__dirname, '..', '..', 'dist');
export const brokerConfigNode = require(path.join(dist, 'broker-config'));
export const mqttInNode = require(path.join(dist, 'mqtt-in'));
export const mqttOutNode = require(path.join(dist, 'mqtt-out'));
export const allNodes = [brokerConfigNode, mqttInNode, mqttOutNode];

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

/** Waits for a node's status to reach a fill colour (the status call is spied on by the helper). */
export async function waitForStatus(nodeId: string, match: (status: { fill?: string; shape?: string; text?: string }) => boolean, what: string, timeoutMs = 10000): Promise<{ fill?: string; text?: string }> {
    const node = getNode(nodeId);
    let found: any;
    await eventually(() => {
        const calls = node.status.getCalls?.() ?? [];
        for (let i = calls.length - 1; i >= 0; i--) {
            if (match(calls[i].args[0])) {
                found = calls[i].args[0];
                return true;
            }
        }
        return false;
    }, what, timeoutMs);
    return found;
}

/** The node's latest status. */
export function lastStatus(nodeId: string): { fill?: string; shape?: string; text?: string } | undefined {
    const node = getNode(nodeId);
    const calls = node.status.getCalls?.() ?? [];
    return calls.length ? calls[calls.length - 1].args[0] : undefined;
}

/**
 * The hooks most node test files share: a Mosquitto for the file (made with `startBroker`, when
 * given) and the test helper's server, started before the tests and stopped after them, and the flow
 * unloaded after each test. Returns a getter for the broker.
 */
export function useRuntime<B extends { dispose(): Promise<void> }>(startBroker?: () => Promise<B>): () => B {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
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
