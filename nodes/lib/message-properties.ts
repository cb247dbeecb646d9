/**
 * MQTT 5 PUBLISH properties between a Node-RED msg and a packet, under the names Node-RED's core MQTT
 * nodes use: msg.userProperties, msg.responseTopic, msg.correlationData, msg.contentType,
 * msg.messageExpiryInterval, msg.payloadFormatIndicator and msg.topicAlias on the way out; the same
 * (without topicAlias, with reasonString) on the way in. The mqtt-out node's own fields (userProps,
 * respTopic, correl, contentType, expiry) win over the msg when set, as in the core node.
 *
 * Unlike the core node, which drops a value it cannot use without a word, a value of the wrong type
 * is refused with the reason, so that a Catch node sees it.
 */
import { checkTopicName } from './topic';

/** The properties of an outgoing PUBLISH, as MQTT.js takes them. */
export interface PublishProperties {
    payloadFormatIndicator?: boolean;
    messageExpiryInterval?: number;
    topicAlias?: number;
    responseTopic?: string;
    correlationData?: Buffer;
    userProperties?: { [name: string]: string };
    contentType?: string;
}

/** The mqtt-out node's property fields, as a core flow holds them. */
export interface NodePropertyFields {
    userProps?: unknown;
    respTopic?: unknown;
    correl?: unknown;
    contentType?: unknown;
    expiry?: unknown;
}

/** What a msg may carry (the names read from it). */
export const MSG_PROPERTY_NAMES = [
    'userProperties',
    'responseTopic',
    'correlationData',
    'contentType',
    'messageExpiryInterval',
    'payloadFormatIndicator',
    'topicAlias',
] as const;

const MAX_FOUR_BYTE = 0xffffffff;
const MAX_TWO_BYTE = 0xffff;

export class PropertyError extends Error {
    override name = 'PropertyError';
}

function isAbsent(value: unknown): boolean {
    return value === undefined || value === null || value === '';
}

function describe(value: unknown): string {
    if (typeof value === 'string') return JSON.stringify(value);
    if (Buffer.isBuffer(value)) return 'a Buffer';
    if (Array.isArray(value)) return 'an array';
    if (value === null) return 'null';
    if (typeof value === 'object') return 'an object';
    return `${typeof value} ${String(value)}`;
}

/** User properties: an object of name/value pairs; a value that is not a string is sent as its JSON, as the core node does. */
export function readUserProperties(value: unknown, where: string): { [name: string]: string } | undefined {
    if (isAbsent(value)) return undefined;
    if (typeof value !== 'object' || Array.isArray(value) || Buffer.isBuffer(value)) {
        throw new PropertyError(`${where} must be an object of name: value pairs, not ${describe(value)}`);
    }
    const out: { [name: string]: string } = {};
    let count = 0;
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
        if (v === undefined || v === null) continue;
        out[name] = typeof v === 'string' ? v : JSON.stringify(v);
        count++;
    }
    return count > 0 ? out : undefined;
}

function readString(value: unknown, where: string): string | undefined {
    if (isAbsent(value)) return undefined;
    if (typeof value !== 'string') throw new PropertyError(`${where} must be a string, not ${describe(value)}`);
    return value;
}

function readResponseTopic(value: unknown, where: string): string | undefined {
    const topic = readString(value, where);
    if (topic === undefined) return undefined;
    const problem = checkTopicName(topic);
    if (problem) throw new PropertyError(`${where} ${JSON.stringify(topic)} is not a valid topic: ${problem.text}`);
    return topic;
}

function readCorrelationData(value: unknown, where: string): Buffer | undefined {
    if (isAbsent(value)) return undefined;
    if (typeof value === 'string') return Buffer.from(value, 'utf8');
    if (value instanceof Uint8Array) return Buffer.from(value);
    throw new PropertyError(`${where} must be a Buffer or a string, not ${describe(value)}`);
}

/** A whole number from `min` to `max`, given as a number or its text (the core node's parseInt accepts both). */
export function readWholeNumber(value: unknown, where: string, min: number, max: number): number | undefined {
    if (isAbsent(value)) return undefined;
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
        throw new PropertyError(`${where} must be a whole number from ${min} to ${max}, not ${describe(value)}`);
    }
    return n;
}

function readFlag(value: unknown, where: string): boolean | undefined {
    if (isAbsent(value)) return undefined;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    throw new PropertyError(`${where} must be true or false, not ${describe(value)}`);
}

/**
 * The properties an mqtt-out node sets from its own fields; throws a PropertyError when one is not
 * usable (the node then refuses every message with that reason). `whose` begins the error's words
 * (a broker's birth message reads the same fields: "its").
 */
export function readNodeProperties(fields: NodePropertyFields, whose = "the node's"): PublishProperties {
    const props: PublishProperties = {};
    if (!isAbsent(fields.userProps)) {
        let parsed: unknown;
        try {
            parsed = typeof fields.userProps === 'string' ? JSON.parse(fields.userProps) : fields.userProps;
        } catch (err) {
            throw new PropertyError(`${whose} user properties are not valid JSON: ${(err as Error).message}`);
        }
        props.userProperties = readUserProperties(parsed, `${whose} user properties`);
    }
    props.responseTopic = readResponseTopic(fields.respTopic, `${whose} response topic`);
    props.correlationData = readCorrelationData(fields.correl, `${whose} correlation data`);
    props.contentType = readString(fields.contentType, `${whose} content type`);
    props.messageExpiryInterval = readWholeNumber(fields.expiry, `${whose} message expiry`, 0, MAX_FOUR_BYTE);
    return withoutAbsent(props);
}

/**
 * The properties to publish `msg` with: the node's (`fixed`) where set, else the msg's. Throws a
 * PropertyError naming the msg property that is not usable.
 */
export function publishProperties(fixed: PublishProperties, msg: { [name: string]: unknown }): PublishProperties {
    const props: PublishProperties = {
        userProperties: fixed.userProperties ?? readUserProperties(msg.userProperties, 'msg.userProperties'),
        responseTopic: fixed.responseTopic ?? readResponseTopic(msg.responseTopic, 'msg.responseTopic'),
        correlationData: fixed.correlationData ?? readCorrelationData(msg.correlationData, 'msg.correlationData'),
        contentType: fixed.contentType ?? readString(msg.contentType, 'msg.contentType'),
        messageExpiryInterval: fixed.messageExpiryInterval ?? readWholeNumber(msg.messageExpiryInterval, 'msg.messageExpiryInterval', 0, MAX_FOUR_BYTE),
        payloadFormatIndicator: readFlag(msg.payloadFormatIndicator, 'msg.payloadFormatIndicator'),
        topicAlias: readWholeNumber(msg.topicAlias, 'msg.topicAlias', 1, MAX_TWO_BYTE),
    };
    return withoutAbsent(props);
}

function withoutAbsent(props: PublishProperties): PublishProperties {
    for (const key of Object.keys(props) as (keyof PublishProperties)[]) {
        if (props[key] === undefined) delete props[key];
    }
    return props;
}

export function hasProperties(props: PublishProperties | undefined): props is PublishProperties {
    return props !== undefined && Object.keys(props).length > 0;
}

/** The properties of a received PUBLISH, as MQTT.js gives them. */
export interface ReceivedProperties {
    payloadFormatIndicator?: boolean;
    messageExpiryInterval?: number;
    responseTopic?: string;
    correlationData?: Buffer;
    userProperties?: { [name: string]: string | string[] };
    contentType?: string;
    reasonString?: string;
}

/** What the core mqtt-in node copies from a received PUBLISH onto its msg. */
export interface ReceivedMsgProperties {
    responseTopic?: string;
    correlationData?: Buffer;
    contentType?: string;
    messageExpiryInterval?: number;
    payloadFormatIndicator?: boolean;
    reasonString?: string;
    userProperties?: { [name: string]: string };
}

/**
 * The msg properties of a received PUBLISH. A user property sent more than once arrives as the JSON
 * of its values' array, as in the core node.
 */
export function receivedMsgProperties(props: ReceivedProperties | undefined): ReceivedMsgProperties {
    const msg: ReceivedMsgProperties = {};
    if (!props) return msg;
    if (typeof props.responseTopic === 'string' && props.responseTopic) msg.responseTopic = props.responseTopic;
    if (props.correlationData instanceof Uint8Array) msg.correlationData = Buffer.from(props.correlationData);
    if (typeof props.contentType === 'string' && props.contentType) msg.contentType = props.contentType;
    if (typeof props.messageExpiryInterval === 'number') msg.messageExpiryInterval = props.messageExpiryInterval;
    if (typeof props.payloadFormatIndicator === 'boolean') msg.payloadFormatIndicator = props.payloadFormatIndicator;
    if (typeof props.reasonString === 'string' && props.reasonString) msg.reasonString = props.reasonString;
    if (props.userProperties && typeof props.userProperties === 'object') {
        const users = readUserProperties(props.userProperties, 'userProperties');
        if (users) msg.userProperties = users;
    }
    return msg;
}

function varIntSize(n: number): number {
    return n < 128 ? 1 : n < 16384 ? 2 : n < 2097152 ? 3 : 4;
}

/** Bytes of the properties section (without its length prefix). */
function propertiesSize(props: PublishProperties): number {
    const utf8 = (s: string): number => 2 + Buffer.byteLength(s, 'utf8');
    let size = 0;
    if (props.payloadFormatIndicator !== undefined) size += 1 + 1;
    if (props.messageExpiryInterval !== undefined) size += 1 + 4;
    if (props.topicAlias !== undefined) size += 1 + 2;
    if (props.responseTopic !== undefined) size += 1 + utf8(props.responseTopic);
    if (props.correlationData !== undefined) size += 1 + 2 + props.correlationData.length;
    if (props.contentType !== undefined) size += 1 + utf8(props.contentType);
    for (const [name, value] of Object.entries(props.userProperties ?? {})) size += 1 + utf8(name) + utf8(value);
    return size;
}

/**
 * The size in bytes of the PUBLISH packet MQTT.js writes for a message (MQTT 5 when `properties` is
 * given, else 3.1.1): what a broker compares with its Maximum Packet Size.
 */
export function publishPacketSize(topic: string, payloadLength: number, qos: number, properties?: PublishProperties): number {
    let remaining = 2 + Buffer.byteLength(topic, 'utf8') + (qos > 0 ? 2 : 0) + payloadLength;
    if (properties) {
        const size = propertiesSize(properties);
        remaining += varIntSize(size) + size;
    }
    return 1 + varIntSize(remaining) + remaining;
}
