/**
 * The example flows of examples/ as a user imports them (Import > Examples): read from the files,
 * loaded into the test helper together with the core nodes they use. The only change a test makes
 * is where the brokers are: every broker-config is pointed at a private broker on a free loopback
 * port (an embedded one listens there), in place of 127.0.0.1:1883.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as mqtt from 'mqtt';
import { allNodes, coreNode, FlowNode, helper } from '../support/node-red';

export const EXAMPLES_DIR = path.join(__dirname, '..', '..', 'examples');
const PACKAGE_JSON = path.join(__dirname, '..', '..', 'package.json');

/** This package's node types, as package.json registers them. */
export const PACKAGE_NODE_TYPES: string[] = Object.keys(JSON.parse(fs.readFileSync(PACKAGE_JSON, 'utf8'))['node-red'].nodes);

/** The core node types an example may use, each with its file under @node-red/nodes/core. */
export const CORE_NODE_FILES: Readonly<Record<string, string>> = {
    inject: 'common/20-inject.js',
    debug: 'common/21-debug.js',
    comment: 'common/90-comment.js',
    change: 'function/15-change.js',
    function: 'function/10-function.js',
    switch: 'function/10-switch.js',
    json: 'parsers/70-JSON.js',
};

const coreNodes = Object.values(CORE_NODE_FILES).map((file) => coreNode(file));

/** The example files, by file name. */
export function exampleFiles(): string[] {
    return fs.readdirSync(EXAMPLES_DIR).filter((name) => name.endsWith('.json')).sort();
}

export function readExample(file: string): FlowNode[] {
    return JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, file), 'utf8')) as FlowNode[];
}

/** The one node named `name` (as the editor shows it) in the flow; throws when there is none or more. */
export function nodeNamed(flow: FlowNode[], name: string, type?: string): FlowNode {
    const found = flow.filter((n) => (n.name === name || n.label === name) && (type === undefined || n.type === type));
    if (found.length !== 1) throw new Error(`expected one node named "${name}"${type ? ` of type ${type}` : ''}, found ${found.length}`);
    return found[0];
}

/** The one node of `type` in the flow whose `key` is `value` (e.g. the mqtt-out on a topic). */
export function nodeWith(flow: FlowNode[], type: string, key: string, value: unknown): FlowNode {
    const found = flow.filter((n) => n.type === type && n[key] === value);
    if (found.length !== 1) throw new Error(`expected one ${type} with ${key} ${JSON.stringify(value)}, found ${found.length}`);
    return found[0];
}

/** The example with every broker-config on 127.0.0.1:port instead of what the file says; the rest as it is. */
export function pointedAt(flow: FlowNode[], port: number): FlowNode[] {
    return flow.map((n) => (n.type === 'broker-config' ? { ...n, broker: '127.0.0.1', port: String(port) } : { ...n }));
}

/**
 * Loads an example as a deploy would: its brokers on 127.0.0.1:port, and `credentials` (by
 * broker-config name) as the user would type them in the broker node. Resolves with the flow loaded.
 */
export function loadExample(file: string, port: number, credentials: Record<string, { user: string; password: string }> = {}): Promise<FlowNode[]> {
    const flow = pointedAt(readExample(file), port);
    const byId: Record<string, unknown> = {};
    for (const [name, given] of Object.entries(credentials)) byId[nodeNamed(flow, name, 'broker-config').id] = given;
    return new Promise((resolve, reject) => {
        helper.load([...allNodes, ...coreNodes], flow, byId, (err?: Error) => (err ? reject(err) : resolve(flow)));
    });
}

/** Clicks the button of an inject node, as the editor does. */
export function click(injectId: string): void {
    helper.getNode(injectId).receive({});
}

export interface Heard {
    topic: string;
    text: string;
    qos: number;
    retain: boolean;
}

/** An MQTT.js client of the test's own - a device, a meter, Home Assistant - that records what it hears. */
export class ForeignClient {
    readonly heard: Heard[] = [];
    private constructor(readonly client: mqtt.MqttClient) {
        client.on('message', (topic, payload, packet) => this.heard.push({ topic, text: payload.toString(), qos: packet.qos, retain: packet.retain }));
    }

    static async connect(port: number, options: mqtt.IClientOptions = {}): Promise<ForeignClient> {
        const clientId = `example-witness-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
        return new ForeignClient(await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId, reconnectPeriod: 0, ...options }));
    }

    async subscribe(filter: string, qos: 0 | 1 | 2 = 2): Promise<void> {
        await this.client.subscribeAsync(filter, { qos });
    }

    async publish(topic: string, payload: string, options: { qos?: 0 | 1 | 2; retain?: boolean } = {}): Promise<void> {
        await this.client.publishAsync(topic, payload, { qos: options.qos ?? 1, retain: options.retain ?? false });
    }

    on(topic: string): Heard[] {
        return this.heard.filter((h) => h.topic === topic);
    }

    async end(): Promise<void> {
        await this.client.endAsync(true);
    }
}

const CATALOGUE = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'nodes', 'locales', 'en-US', 'broker-config.json'), 'utf8'))['broker-config'];
const fillIn = (template: string, params: Record<string, string>): string => template.replace(/__(\w+)__/g, (_, key: string) => params[key] ?? '');

/**
 * The status of a broker-config's connection in the words the editor shows in English (the test
 * helper loads no message catalogues, so node statuses hold the catalogue keys).
 */
export function statusInWords(brokerConfigId: string): string {
    const status = helper.getNode(brokerConfigId).connection.status as { state: string; address: string; attempt: number; reason?: { code: string; params: Record<string, string> } };
    const reason = status.reason ? fillIn(CATALOGUE.reason[status.reason.code], status.reason.params) : '';
    const template = CATALOGUE.status[status.state];
    if (typeof template !== 'string') throw new Error(`no words for the connection state ${status.state}`);
    return fillIn(template, { broker: status.address, attempt: String(status.attempt), reason });
}
