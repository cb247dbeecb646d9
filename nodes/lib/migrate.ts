/**
 * Rewrites the core MQTT nodes of a Node-RED flow (`mqtt-broker`, `mqtt in`, `mqtt out`) as this
 * package's (`broker-config`, `mqtt-in`, `mqtt-out`). Ids, wiring, tabs, groups, positions, names and
 * every property with the same meaning stay as they are; what this package does not carry over, or
 * does differently, comes back as notes. Flow JSON in, flow JSON out: no file access, no Node-RED.
 */
import { brokerLines, brokerUrlScheme, protocolOfScheme, readFlag, removeUserInfo } from './broker-settings';
import { normalizeDatatype } from './payload';

export const TYPE_MAP = {
    'mqtt-broker': 'broker-config',
    'mqtt in': 'mqtt-in',
    'mqtt out': 'mqtt-out',
} as const;
export type CoreType = keyof typeof TYPE_MAP;

/**
 * - `dropped`: a core setting this package does not have; the flow loses it.
 * - `changed`: a value rewritten so that the node behaves here as it did under the core node.
 * - `differs`: kept as it was, but this package does something else with it.
 * - `check`: something outside the MQTT nodes that may need a look.
 */
export type NoteKind = 'dropped' | 'changed' | 'differs' | 'check';

export interface MigrationNote {
    kind: NoteKind;
    nodeId: string;
    /** The node's type in the input flow. */
    nodeType: string;
    nodeName: string;
    /** The flow property the note is about, when there is one. */
    property?: string;
    text: string;
}

export interface MigratedNode {
    id: string;
    from: CoreType;
    to: (typeof TYPE_MAP)[CoreType];
    name: string;
}

export interface MigrationResult {
    /** The flow in the shape it came in: an array of nodes, or the object that holds them under `flows`. */
    flow: unknown;
    migrated: MigratedNode[];
    notes: MigrationNote[];
}

export class FlowFormatError extends Error {
    override name = 'FlowFormatError';
}

type FlowNode = { id: string; type: string; [property: string]: unknown };

function isFlowNode(value: unknown): value is FlowNode {
    return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as FlowNode).id === 'string' && typeof (value as FlowNode).type === 'string';
}

function isCoreType(type: string): type is CoreType {
    return Object.prototype.hasOwnProperty.call(TYPE_MAP, type);
}

function isEmpty(value: unknown): boolean {
    return value === undefined || value === null || value === '';
}

function isFalse(value: unknown): boolean {
    return value === false || value === 'false';
}

/** The nodes of a flow file: Node-RED writes an array; its admin API (v2) an object with `flows`. */
function nodesOf(input: unknown): unknown[] {
    if (Array.isArray(input)) return input;
    if (typeof input === 'object' && input !== null && Array.isArray((input as { flows?: unknown }).flows)) {
        return (input as { flows: unknown[] }).flows;
    }
    throw new FlowFormatError('not a Node-RED flow: expected an array of nodes, or an object with a "flows" array');
}

/** Parses the text of a flow file; throws FlowFormatError when it is not JSON or not a flow. */
export function parseFlow(text: string): unknown {
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (err) {
        throw new FlowFormatError(`not JSON: ${(err as Error).message}`);
    }
    nodesOf(parsed);
    return parsed;
}

class Notes {
    readonly list: MigrationNote[] = [];

    add(node: FlowNode, kind: NoteKind, text: string, property?: string): void {
        this.list.push({ kind, nodeId: node.id, nodeType: node.type, nodeName: typeof node.name === 'string' ? node.name : '', property, text });
    }
}

/** Broker properties of the core runtime that this package has no setting for, with what they did. */
const UNSUPPORTED_BROKER_NUMBERS: { [property: string]: string } = {
    topicAliasMaximum: 'topic alias maximum',
    maximumPacketSize: 'maximum packet size',
    receiveMaximum: 'receive maximum',
};

function migrateBroker(source: FlowNode, notes: Notes): FlowNode {
    const node: FlowNode = { ...source, type: TYPE_MAP['mqtt-broker'] };
    node.mode = 'external';

    // A hand-written core flow may hold a whole URL in `url`; the core runtime prefers it to `broker`.
    if (!isEmpty(source.url)) {
        node.broker = String(source.url);
        notes.add(source, 'changed', `the URL "${source.url}" is moved to "broker", where this package reads a URL`, 'url');
    }
    delete node.url;

    // The core node logged in with a user name and password written in the URL; this package keeps
    // them only as credentials, so they leave the flow and the note says where to enter them.
    const lines = brokerLines(node.broker);
    const withoutSecrets = lines.map(removeUserInfo);
    if (withoutSecrets.some((line, i) => line !== lines[i])) {
        node.broker = withoutSecrets.join('\n');
        notes.add(source, 'changed', 'the user name and password in the broker URL are removed from the flow: enter them in the broker node\'s User name and Password fields (this package refuses an address that holds them)', 'broker');
    }

    const scheme = brokerUrlScheme(node.broker);
    if (scheme) {
        const protocol = protocolOfScheme(scheme);
        if (protocol) node.protocol = protocol;
        else notes.add(source, 'differs', `the scheme "${scheme}" of broker "${node.broker}" is not one this package connects with (mqtt, mqtts, ws, wss, tcp, ssl, tls): the broker node will not start`, 'broker');
    } else {
        node.protocol = readFlag('usetls', source.usetls) ? 'mqtts' : 'mqtt';
        // Without a port the core node connects to 1883 whatever the protocol; here an empty port means the protocol's own.
        if (isEmpty(source.port)) {
            node.port = '1883';
            if (node.protocol === 'mqtts') notes.add(source, 'changed', 'the port was empty: the core node connected to 1883 even with TLS, so 1883 is set', 'port');
        }
    }

    if (source.compatmode === true || source.compatmode === 'true' || String(source.protocolVersion) === '3') {
        node.protocolVersion = '4';
        notes.add(source, 'dropped', 'MQTT 3.1 (protocol level 3) is not spoken here: the broker node connects with MQTT 3.1.1, which a broker that knows only 3.1 refuses', source.compatmode === true || source.compatmode === 'true' ? 'compatmode' : 'protocolVersion');
    }
    delete node.compatmode;
    const v5 = String(node.protocolVersion) === '5';

    const usesTls = node.protocol === 'mqtts' || node.protocol === 'wss';
    if (usesTls && isEmpty(source.tls) && isEmpty(source.verifyservercert)) {
        notes.add(source, 'differs', 'TLS without a tls-config node and without "verify server certificate" set: the core node did not verify the certificate, this package does (set verifyservercert to false to keep the old behaviour)', 'verifyservercert');
    }

    const clean = readFlag('cleansession', source.cleansession);
    if (!clean && isEmpty(source.clientid)) {
        notes.add(source, 'differs', 'clean session is off without a client id: the core node connected with a clean session anyway (and warned); this package keeps a persistent session under a client id made from the node id', 'cleansession');
    }

    if (isEmpty(source.userProps) && !isEmpty(source.userProperties)) {
        node.userProps = typeof source.userProperties === 'string' ? source.userProperties : JSON.stringify(source.userProperties);
        notes.add(source, 'changed', 'the user properties are moved to "userProps", the name both the core editor and this package use', 'userProperties');
    }
    delete node.userProperties;
    if (isEmpty(source.sessionExpiry) && !isEmpty(source.sessionExpiryInterval)) {
        node.sessionExpiry = source.sessionExpiryInterval;
        notes.add(source, 'changed', 'the session expiry is moved to "sessionExpiry", the name both the core editor and this package use', 'sessionExpiryInterval');
    }
    delete node.sessionExpiryInterval;
    if (v5 && !clean && isEmpty(node.sessionExpiry)) {
        notes.add(source, 'differs', 'MQTT 5 without a clean session and without a session expiry: under the core node the broker ended the session at each disconnect; here it keeps it for 7 days (set sessionExpiry to 0 to keep the old behaviour)', 'sessionExpiry');
    }

    if (isFalse(source.autoUnsubscribe)) {
        notes.add(source, 'dropped', '"automatically unsubscribe" off is not a setting here: a node deleted from the flow has its subscription removed at the broker; when the last node stops, the connection closes without unsubscribing, so a persistent session keeps its subscriptions', 'autoUnsubscribe');
    }
    delete node.autoUnsubscribe;

    for (const [property, what] of Object.entries(UNSUPPORTED_BROKER_NUMBERS)) {
        if (!isEmpty(source[property])) notes.add(source, 'dropped', `the ${what} (${source[property]}) is not a setting here: the broker's and MQTT.js's values apply`, property);
        delete node[property];
    }
    return node;
}

function migrateIn(source: FlowNode, notes: Notes): FlowNode {
    const node: FlowNode = { ...source, type: TYPE_MAP['mqtt in'] };
    const qos = source.qos;
    if (!isEmpty(qos) && ![0, 1, 2].includes(Number(qos))) {
        node.qos = '2';
        notes.add(source, 'changed', `QoS "${qos}" is not 0, 1 or 2: the core node subscribed with QoS 2 and this package refuses it, so 2 is set`, 'qos');
    }
    if (normalizeDatatype(source.datatype) === null) {
        node.datatype = 'auto-detect';
        notes.add(source, 'changed', `the output "${source.datatype}" is not one this package knows: the core node treated it as auto-detect, which is set`, 'datatype');
    }
    return node;
}

function migrateOut(source: FlowNode): FlowNode {
    return { ...source, type: TYPE_MAP['mqtt out'] };
}

/** The flow with every core MQTT node rewritten as this package's, and the notes on what did not carry over. */
export function migrateFlow(input: unknown): MigrationResult {
    const nodes = nodesOf(input);
    const notes = new Notes();
    const migrated: MigratedNode[] = [];
    const brokerIds = new Set(nodes.filter((n) => isFlowNode(n) && n.type === 'mqtt-broker').map((n) => (n as FlowNode).id));
    const allIds = new Set(nodes.filter(isFlowNode).map((n) => n.id));

    const output = nodes.map((value) => {
        if (!isFlowNode(value)) return value;
        if (!isCoreType(value.type)) {
            for (const [property, ref] of Object.entries(value)) {
                if (property !== 'id' && typeof ref === 'string' && brokerIds.has(ref)) {
                    notes.add(value, 'check', `refers to the core broker ${ref} in "${property}": that node is now a broker-config, which a node of type "${value.type}" may not accept`, property);
                }
            }
            return value;
        }
        const from = value.type;
        const node = from === 'mqtt-broker' ? migrateBroker(value, notes) : from === 'mqtt in' ? migrateIn(value, notes) : migrateOut(value);
        if (from !== 'mqtt-broker' && !isEmpty(value.broker) && !allIds.has(String(value.broker))) {
            notes.add(value, 'check', `its broker ${value.broker} is not in this flow: select a broker-config node in its dialog`, 'broker');
        }
        migrated.push({ id: value.id, from, to: TYPE_MAP[from], name: typeof value.name === 'string' ? value.name : '' });
        return node;
    });

    const flow = Array.isArray(input) ? output : { ...(input as object), flows: output };
    return { flow, migrated, notes: notes.list };
}

const HEADINGS: { readonly [kind in NoteKind]: string } = {
    dropped: 'Not carried over',
    changed: 'Rewritten to keep the core behaviour',
    differs: 'Kept, but working differently here',
    check: 'To check by hand',
};

function describeNode(note: MigrationNote): string {
    return `${note.nodeType}${note.nodeName ? ` "${note.nodeName}"` : ''} (${note.nodeId})`;
}

/** The outcome in words, for a person reading a terminal. */
export function formatReport(result: MigrationResult): string {
    const lines: string[] = [];
    if (result.migrated.length === 0) {
        lines.push('No core MQTT node (mqtt-broker, mqtt in, mqtt out) in this flow: nothing to migrate.');
    } else {
        const counts = Object.keys(TYPE_MAP).map((from) => {
            const n = result.migrated.filter((m) => m.from === from).length;
            return n > 0 ? `${n} ${from} -> ${TYPE_MAP[from as CoreType]}` : '';
        });
        lines.push(`Migrated ${result.migrated.length} node${result.migrated.length === 1 ? '' : 's'}: ${counts.filter(Boolean).join(', ')}.`);
        lines.push('Ids, wiring, tabs, positions, names and every property with the same meaning are kept.');
        if (result.migrated.some((m) => m.from === 'mqtt-broker')) {
            lines.push('Credentials (user name and password) are kept by node id, under the same names, in the credentials file beside the flow (flows_cred.json for flows.json): with the ids kept, they carry over unchanged.');
        }
    }
    for (const kind of Object.keys(HEADINGS) as NoteKind[]) {
        const notes = result.notes.filter((n) => n.kind === kind);
        if (notes.length === 0) continue;
        lines.push('', `${HEADINGS[kind]} (${notes.length}):`);
        for (const note of notes) lines.push(`  - ${describeNode(note)}${note.property ? ` ${note.property}` : ''}: ${note.text}`);
    }
    if (result.migrated.length > 0 && result.notes.length === 0) lines.push('Everything carried over.');
    return lines.join('\n');
}
