/**
 * Flows shaped like the ones Node-RED's core MQTT tests (21-mqtt_spec.js, Node-RED 4.1.8) build,
 * with only the node types changed to this package's: one broker, an mqtt-in wired to a helper node,
 * an mqtt-out, and a Catch node for the mqtt-in wired to the same helper. Property names and value
 * types (numbers where the core test writes numbers) are the core flow's, so these flows show what a
 * migrated flow meets.
 */
import { allNodes, coreNode, FlowNode, getNode, helper } from './node-red';

export const BROKER_ID = 'mqtt.broker';
export const IN_ID = 'mqtt.in';
export const OUT_ID = 'mqtt.out';
export const HELPER_ID = 'helper.node';
export const CATCH_ID = 'catch.node';

const catchNode = coreNode('common/25-catch.js');
const statusNode = coreNode('common/25-status.js');

type Options = Record<string, unknown>;

/**
 * A broker-config node as the core test writes its mqtt-broker: host and port, an empty client id,
 * clean session, auto-unsubscribe and auto-connect on unless the options say otherwise, and the
 * options' own keys on top. The birth, close and will QoS default to "0" when their topic is set.
 */
export function coreBroker(id: string, port: number, options: Options = {}): FlowNode {
    const lifecycle: Options = {};
    for (const kind of ['birth', 'close', 'will']) {
        if (options[`${kind}Topic`]) {
            lifecycle[`${kind}Qos`] = '0';
            lifecycle[`${kind}Payload`] = '';
        }
    }
    return {
        type: 'broker-config',
        name: id.replace('.', '_'),
        wires: [],
        broker: '127.0.0.1',
        clientid: '',
        ...lifecycle,
        ...options,
        id,
        port,
        cleansession: String(options.cleansession) !== 'false',
        autoUnsubscribe: String(options.autoUnsubscribe) !== 'false',
        autoConnect: String(options.autoConnect) !== 'false',
    };
}

/** An mqtt-in as the core test writes it: static on `topic` (inputs 0) or dynamic (inputs 1, no topic). */
export function coreIn(brokerId: string, topic: string, options: Options = {}): FlowNode {
    const dynamic = options.topicType === 'dynamic';
    return {
        id: IN_ID,
        type: 'mqtt-in',
        name: 'mqtt_in',
        ...options,
        topic: dynamic ? '' : topic,
        broker: brokerId,
        topicType: dynamic ? 'dynamic' : 'static',
        inputs: dynamic ? 1 : 0,
        wires: [[HELPER_ID]],
    };
}

/** An mqtt-out as the core test writes it: no topic, QoS or retain of its own, so the msg decides. */
export function coreOut(brokerId: string, options: Options = {}): FlowNode {
    return { id: OUT_ID, type: 'mqtt-out', name: 'mqtt_out', topic: '', ...options, broker: brokerId, wires: [] };
}

/** The core test's basic flow: broker, mqtt-in -> helper, mqtt-out, and a Catch of the mqtt-in -> helper. */
export function coreFlow(port: number, brokerOptions: Options, inTopic: string, inOptions: Options = {}, outOptions: Options = {}): FlowNode[] {
    const brokerId = String(brokerOptions.id ?? BROKER_ID);
    return [
        coreBroker(brokerId, port, brokerOptions),
        coreIn(String(inOptions.broker ?? brokerId), inTopic, inOptions),
        coreOut(String(outOptions.broker ?? brokerId), outOptions),
        { id: HELPER_ID, type: 'helper' },
        { id: CATCH_ID, type: 'catch', scope: [IN_ID], uncaught: false, wires: [[HELPER_ID]] },
    ];
}

/** Loads the flow on one tab (Catch and Status nodes work within their tab), with the core Catch and Status nodes. */
export function loadCoreFlow(flow: FlowNode[]): Promise<void> {
    const onTab = [{ id: 'tab', type: 'tab' }, ...flow.map((n) => (n.type === 'broker-config' ? n : { z: 'tab', ...n }))];
    return new Promise((resolve, reject) => helper.load([...allNodes, catchNode, statusNode], onTab, {}, (err?: Error) => (err ? reject(err) : resolve())));
}

interface ConnectionLike {
    readonly connected: boolean;
    on(event: 'status', listener: () => void): void;
    off(event: 'status', listener: () => void): void;
}

/** Resolves once every named broker-config's connection is up (the core test's wait for `connected`), on its status events. */
export function brokersConnected(brokerIds: string[], timeoutMs = 10000): Promise<void> {
    return Promise.all(brokerIds.map((id) => connectedOnce(getNode(id).connection as ConnectionLike, id, timeoutMs))).then(() => undefined);
}

function connectedOnce(connection: ConnectionLike, id: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
        const check = (): void => {
            if (!connection.connected) return;
            stop();
            resolve();
        };
        const timer = setTimeout(() => {
            stop();
            reject(new Error(`timed out waiting for ${id} to connect`));
        }, timeoutMs);
        const stop = (): void => {
            clearTimeout(timer);
            connection.off('status', check);
        };
        connection.on('status', check);
        check();
    });
}

/** The next message the helper node receives. */
export function nextAtHelper(timeoutMs = 10000): Promise<any> {
    return firstAtHelper(() => true, 'a message at the helper node', timeoutMs);
}

/** The first message from now on at the helper node for which `match` holds. */
export function firstAtHelper(match: (msg: any) => boolean, what: string, timeoutMs = 10000): Promise<any> {
    const first = new Promise((resolve, reject) => {
        const node = getNode(HELPER_ID);
        const timer = setTimeout(() => {
            node.off('input', take);
            reject(new Error(`timed out waiting for ${what}`));
        }, timeoutMs);
        const take = (msg: unknown): void => {
            if (!match(msg)) return;
            clearTimeout(timer);
            node.off('input', take);
            resolve(msg);
        };
        node.on('input', take);
    });
    // A test that fails before it awaits this must not also end in an unhandled rejection.
    first.catch(() => undefined);
    return first;
}

let topicCount = 0;
const topicBase = `yardstick${process.pid}/`;

/** A topic of its own for each test, as the core test's nextTopic() gives. */
export function freshTopic(): string {
    topicCount++;
    return `${topicBase}unittest${topicCount}`;
}
