/**
 * What a message may ask of an mqtt-in or mqtt-out node with `msg.action`, read and checked before
 * anything is done, with the names and defaults of Node-RED's core MQTT nodes: `connect` (with
 * `msg.broker` to change the connection's settings), `disconnect`, and for mqtt-in `subscribe`,
 * `unsubscribe` and `getSubscriptions`. Each problem is an ActionError with a code (the key of its
 * text in the nodes' catalogues) and the values its text names.
 */
import { brokerFieldText } from './broker-list';
import type { BrokerConfigProps } from './broker-settings';
import type { LifecycleKind, LifecycleProps } from './lifecycle-messages';
import { InputDatatype, normalizeDatatype } from './payload';
import type { QoS } from './subscription-plan';
import type { SubscriptionOptions } from './subscriptions';
import { checkTopicFilter } from './topic';

export type ActionName = 'connect' | 'disconnect' | 'subscribe' | 'unsubscribe' | 'getSubscriptions';
export const IN_ACTIONS: readonly ActionName[] = ['connect', 'disconnect', 'subscribe', 'unsubscribe', 'getSubscriptions'];
export const OUT_ACTIONS: readonly ActionName[] = ['connect', 'disconnect'];

export type ActionProblemCode =
    | 'unknown-action'
    | 'bad-subscription'
    | 'invalid-topic'
    | 'invalid-qos'
    | 'invalid-option'
    | 'invalid-datatype'
    | 'broker-not-object'
    | 'broker-unknown-key'
    | 'broker-bad-value'
    | 'broker-bad-secret'
    | 'broker-embedded'
    | 'already-connected';

export class ActionError extends Error {
    override name = 'ActionError';
    constructor(
        readonly code: ActionProblemCode,
        text: string,
        readonly params: Record<string, string> = {},
    ) {
        super(text);
    }
}

/** One dynamic subscription, as a subscribe action asks for it. */
export interface DynamicSubscription {
    topic: string;
    qos: QoS;
    /** Undefined when the action did not say (the broker's default, off). */
    nl?: boolean;
    rap: boolean;
    rh: 0 | 1 | 2;
    /** How its payloads become msg.payload; undefined: the node's own datatype. */
    datatype?: InputDatatype;
}

/** A msg value as an error text shows it: JSON where it can be, else its own text (a BigInt as 1n, a circular object as [object Object]). */
export function showValue(value: unknown): string {
    if (typeof value === 'bigint') return `${value}n`;
    try {
        return JSON.stringify(value) ?? String(value);
    } catch {
        return String(value);
    }
}

/** msg.broker keys whose value is a secret: a refusal names the key, never the value. */
const SECRET_KEYS = ['password'];

export function parseAction(value: unknown, allowed: readonly ActionName[]): ActionName {
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as ActionName;
    throw new ActionError('unknown-action', `unknown action ${showValue(value)}: use ${allowed.join(', ')}`, { action: showValue(value), allowed: allowed.join(', ') });
}

const isEmpty = (value: unknown): boolean => value === undefined || value === null || value === '';

/** true/'true' and false/'false'; `fallback` when missing; anything else is refused. */
function readBoolean(value: unknown, name: string, fallback: boolean | undefined): boolean | undefined {
    if (isEmpty(value)) return fallback;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw new ActionError('invalid-option', `${name} must be true or false, not ${showValue(value)}`, { name, value: showValue(value) });
}

function readQoS(value: unknown, fallback: QoS): QoS {
    if (isEmpty(value)) return fallback;
    if (value === 0 || value === 1 || value === 2) return value;
    if (value === '0' || value === '1' || value === '2') return Number(value) as QoS;
    throw new ActionError('invalid-qos', `QoS must be 0, 1 or 2, not ${showValue(value)}`, { qos: showValue(value) });
}

function readRetainHandling(value: unknown): 0 | 1 | 2 {
    if (isEmpty(value)) return 0;
    if (value === 0 || value === 1 || value === 2) return value;
    if (value === '0' || value === '1' || value === '2') return Number(value) as 0 | 1 | 2;
    throw new ActionError('invalid-option', `rh must be 0, 1 or 2, not ${showValue(value)}`, { name: 'rh', value: showValue(value) });
}

function readDatatype(value: unknown): InputDatatype {
    const datatype = normalizeDatatype(value);
    if (datatype === null) {
        throw new ActionError('invalid-datatype', `datatype must be auto-detect, auto, utf8, buffer, json or base64, not ${showValue(value)}`, { datatype: showValue(value) });
    }
    return datatype;
}

function readFilter(value: unknown): string {
    if (typeof value !== 'string' || value === '') {
        throw new ActionError('invalid-topic', `a topic filter must be a non-empty string, not ${showValue(value)}`, { topic: showValue(value), reason: 'not a non-empty string' });
    }
    const problem = checkTopicFilter(value);
    if (problem) throw new ActionError('invalid-topic', `invalid topic filter "${value}": ${problem.text}`, { topic: value, reason: problem.text, rule: problem.code });
    return value;
}

/** msg.topic as one list of entries: a string, an object or an array of them. */
function entries(topic: unknown): unknown[] {
    if (Array.isArray(topic)) return topic;
    if (typeof topic === 'string' || (typeof topic === 'object' && topic !== null)) return [topic];
    throw new ActionError('bad-subscription', `msg.topic must be a topic, a {topic, qos} object or an array of them, not ${showValue(topic)}`, { topic: showValue(topic) });
}

/**
 * msg.topic of a subscribe action: a filter, an object `{topic, qos, nl, rap, rh, datatype}` or an
 * array of them. QoS defaults to 2, retain-as-published to true, retain handling to 0, the datatype to
 * the node's, as in the core node.
 * Every entry is checked before any is used, so a bad one subscribes none.
 */
export function parseSubscriptions(topic: unknown): DynamicSubscription[] {
    return entries(topic).map((entry) => {
        if (typeof entry === 'string') entry = { topic: entry };
        if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new ActionError('bad-subscription', `each subscription must be a topic or a {topic, qos} object, not ${showValue(entry)}`, { topic: showValue(entry) });
        const e = entry as Record<string, unknown>;
        const sub: DynamicSubscription = {
            topic: readFilter(e.topic),
            qos: readQoS(e.qos, 2),
            rap: readBoolean(e.rap, 'rap', true) as boolean,
            rh: readRetainHandling(e.rh),
        };
        const nl = readBoolean(e.nl, 'nl', undefined);
        if (nl !== undefined) sub.nl = nl;
        if (!isEmpty(e.datatype)) sub.datatype = readDatatype(e.datatype);
        return sub;
    });
}

/** msg.topic of an unsubscribe action: a filter, an object with `topic`, an array of them, or `true` for all. */
export function parseUnsubscriptions(topic: unknown): string[] | true {
    if (topic === true) return true;
    return entries(topic).map((entry) => readFilter(typeof entry === 'object' && entry !== null ? (entry as { topic?: unknown }).topic : entry));
}

/** The subscription options of an mqtt-in node's own properties (the core's nl, rap, rh). */
export function nodeSubscriptionOptions(config: { nl?: unknown; rap?: unknown; rh?: unknown }): SubscriptionOptions {
    return { nl: readBoolean(config.nl, 'nl', false), rap: readBoolean(config.rap, 'rap', false), rh: readRetainHandling(config.rh) };
}

/** The options a dynamic subscription asks the broker for. */
export function subscriptionOptionsOf(sub: DynamicSubscription): SubscriptionOptions {
    return { nl: sub.nl === true, rap: sub.rap, rh: sub.rh };
}

/** What getSubscriptions lists of a dynamic subscription: the core's shape, with the options on MQTT 5 only and the datatype when given. */
export function describeSubscription(sub: DynamicSubscription, v5: boolean): Record<string, unknown> {
    const listed: Record<string, unknown> = { topic: sub.topic, qos: sub.qos };
    if (v5) {
        listed.rh = sub.rh;
        listed.rap = sub.rap;
        if (sub.nl !== undefined) listed.nl = sub.nl;
    }
    if (sub.datatype !== undefined) listed.datatype = sub.datatype;
    return listed;
}

/** msg.broker of a connect action: the broker-config properties it changes, new credentials, and `force`. */
export interface BrokerOverride {
    /** With a birth, close or will message its flow properties (`birthTopic`, ... `birthMsg`), all five. */
    props: Partial<BrokerConfigProps & LifecycleProps>;
    username?: string;
    password?: string;
    /** Also when connected: disconnect, then connect with the new settings. */
    force: boolean;
}

type Kind = 'brokers' | 'string' | 'number' | 'flag' | 'version' | 'json-object' | 'lifecycle';
/** The core's msg.broker keys this package acts on, and what each holds. */
const OVERRIDE_KEYS: { readonly [key: string]: Kind } = {
    broker: 'brokers',
    url: 'brokers',
    port: 'number',
    protocol: 'string',
    wspath: 'string',
    clientid: 'string',
    usetls: 'flag',
    verifyservercert: 'flag',
    cleansession: 'flag',
    autoConnect: 'flag',
    keepalive: 'number',
    protocolVersion: 'version',
    sessionExpiry: 'number',
    sessionExpiryInterval: 'number',
    username: 'string',
    password: 'string',
    force: 'flag',
    userProps: 'json-object',
    userProperties: 'json-object',
    birth: 'lifecycle',
    close: 'lifecycle',
    will: 'lifecycle',
};
/** Keys the core node takes and this package does not support yet: accepted and left alone, as in a flow. */
const IGNORED_KEYS = ['compatmode', 'autoUnsubscribe', 'topicAliasMaximum', 'maximumPacketSize', 'receiveMaximum'];
/** The keys of msg.broker.birth, .close and .will, as in the core node. */
const LIFECYCLE_KEYS = ['topic', 'payload', 'qos', 'retain', 'properties'];

function fits(kind: Kind, value: unknown): boolean {
    switch (kind) {
        case 'brokers':
            // One broker, or several tried in turn (broker-list.ts).
            return typeof value === 'string' || (Array.isArray(value) && value.length > 0 && value.every((b) => typeof b === 'string'));
        case 'string':
            return typeof value === 'string';
        case 'number':
            return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)));
        case 'flag':
            return value === true || value === false || value === 'true' || value === 'false';
        case 'version':
            return [3, 4, 5, '3', '4', '5'].includes(value as number | string);
        case 'json-object':
            return typeof value === 'string' || (typeof value === 'object' && value !== null && !Array.isArray(value));
        case 'lifecycle':
            return value === null || (typeof value === 'object' && !Array.isArray(value));
    }
}

/**
 * msg.broker.birth, .close or .will as the flow properties of that message: `{topic, payload, qos,
 * retain, properties}`, or null (as an object without a topic) for none. All five properties are set,
 * so the message replaces the node's whole. Its values are checked where the node's are.
 */
function lifecycleProps(kind: LifecycleKind, value: Record<string, unknown> | null): LifecycleProps {
    const message = value ?? {};
    const unknown = Object.keys(message).find((key) => !LIFECYCLE_KEYS.includes(key));
    if (unknown !== undefined) throw new ActionError('broker-unknown-key', `msg.broker.${kind}.${unknown} is not a connection setting`, { key: `${kind}.${unknown}` });
    return {
        [`${kind}Topic`]: message.topic,
        [`${kind}Payload`]: message.payload,
        [`${kind}Qos`]: message.qos,
        [`${kind}Retain`]: message.retain,
        [`${kind}Msg`]: message.properties,
    };
}

/** msg.broker: undefined or null for none; refused when it is not an object or holds a key or value that means nothing. */
export function parseBrokerOverride(value: unknown): BrokerOverride | null {
    if (value === undefined || value === null) return null;
    if (typeof value !== 'object' || Array.isArray(value)) {
        throw new ActionError('broker-not-object', `msg.broker must be an object of connection settings, not ${showValue(value)}`, { value: showValue(value) });
    }
    const override: BrokerOverride = { props: {}, force: false };
    const props = override.props as Record<string, unknown>;
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
        if (IGNORED_KEYS.includes(key)) continue;
        // As in the core node, userProperties wins over userProps.
        if (key === 'userProps' && Object.prototype.hasOwnProperty.call(value, 'userProperties')) continue;
        const kind = Object.prototype.hasOwnProperty.call(OVERRIDE_KEYS, key) ? OVERRIDE_KEYS[key] : undefined;
        if (!kind) throw new ActionError('broker-unknown-key', `msg.broker.${key} is not a connection setting`, { key });
        if (!fits(kind, v)) {
            if (SECRET_KEYS.includes(key)) throw new ActionError('broker-bad-secret', `msg.broker.${key} must be a string (its value is not shown)`, { key });
            throw new ActionError('broker-bad-value', `msg.broker.${key} cannot be ${showValue(v)}`, { key, value: showValue(v) });
        }
        if (key === 'force') override.force = v === true || v === 'true';
        else if (key === 'username' || key === 'password') override[key] = v as string;
        else if (kind === 'brokers') props.broker = brokerFieldText(v as string | string[]);
        else if (key === 'sessionExpiryInterval') props.sessionExpiry = v;
        else if (kind === 'json-object') props.userProps = typeof v === 'string' ? v : JSON.stringify(v);
        else if (kind === 'lifecycle') Object.assign(props, lifecycleProps(key as LifecycleKind, v as Record<string, unknown> | null));
        else props[key] = v;
    }
    return override;
}

/**
 * The broker-config's properties and credentials with msg.broker's over them. A new broker without
 * a port keeps the node's port, as in the core node; a URL brings its own.
 */
export function mergeBrokerOverride(
    config: BrokerConfigProps & LifecycleProps,
    credentials: { user?: string; password?: string },
    override: BrokerOverride,
): { props: BrokerConfigProps & LifecycleProps; credentials: { user?: string; password?: string } } {
    if (config.mode === 'embedded') throw new ActionError('broker-embedded', 'msg.broker cannot change the settings of an embedded broker');
    return {
        props: { ...config, ...override.props },
        credentials: {
            user: override.username ?? credentials.user,
            password: override.password ?? credentials.password,
        },
    };
}
