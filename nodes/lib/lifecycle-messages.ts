/**
 * Birth, close and will messages of a broker-config, with the flow properties and meanings of
 * Node-RED's core `mqtt-broker` node: `birthTopic`, `birthPayload`, `birthQos`, `birthRetain`, the MQTT 5
 * properties in `birthMsg`, and the same for `close` and `will`. The birth message is published after
 * every (re)connect, once the subscriptions are sent; the close message before every clean disconnect;
 * the will is handed to the broker in CONNECT, which publishes it when the link dies without a
 * DISCONNECT.
 *
 * An empty topic turns the message off, as in the core node. An invalid topic, QoS, retain flag or
 * property turns it off too and is reported in words; the connection works without that message.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import type { OutgoingMessage } from './delivery/types';
import { describeAckReason } from './errors';
import { hasProperties, NodePropertyFields, PropertyError, PublishProperties, readNodeProperties, readWholeNumber } from './message-properties';
import { payloadToBuffer, PayloadError } from './payload';
import type { QoS } from './subscription-plan';
import { checkTopicName, TopicProblemCode } from './topic';

export const LIFECYCLE_KINDS = ['birth', 'close', 'will'] as const;
export type LifecycleKind = (typeof LIFECYCLE_KINDS)[number];

/** The flow properties: `birthTopic`, `birthPayload`, `birthQos`, `birthRetain`, `birthMsg`, and so on. */
export type LifecycleProps = { [P in `${LifecycleKind}${'Topic' | 'Payload' | 'Qos' | 'Retain' | 'Msg'}`]?: unknown };

export type LifecycleProblemCode = 'topic' | 'qos' | 'retain' | 'payload' | 'properties';

export interface LifecycleProblem {
    kind: LifecycleKind;
    /** What is wrong (also the key of its words in the catalogue, lifecycle.problem-*); for 'topic' `topicCode` says how. */
    code: LifecycleProblemCode;
    topicCode?: TopicProblemCode;
    /** The value that is wrong, as text. */
    value: string;
    /** For 'payload' and 'properties': why, in English. */
    reason?: string;
    /** What is wrong, in English: `its QoS must be 0, 1 or 2, not "7"`. */
    detail: string;
    /** The same, as the log and the status say it without a catalogue: `the close message is off: its QoS ...`. */
    text: string;
}

/** The will also carries the seconds the broker waits before publishing it (MQTT 5). */
export interface WillMessage extends OutgoingMessage {
    delayInterval?: number;
}

export interface LifecycleMessages {
    birth: OutgoingMessage | null;
    close: OutgoingMessage | null;
    will: WillMessage | null;
    problems: LifecycleProblem[];
}

function isEmpty(value: unknown): boolean {
    return value === undefined || value === null || value === '';
}

/** 0, 1 or 2, as a number or text; empty means 0. Null for anything else. */
export function readLifecycleQos(value: unknown): QoS | null {
    if (isEmpty(value)) return 0;
    const text = String(value).trim();
    return text === '0' || text === '1' || text === '2' ? (Number(text) as QoS) : null;
}

/** true/'true' and false/'false'; empty means false. Null for anything else. */
export function readLifecycleRetain(value: unknown): boolean | null {
    if (isEmpty(value) || value === false || value === 'false') return false;
    return value === true || value === 'true' ? true : null;
}

/**
 * The names of the MQTT 5 properties of a lifecycle message: the core flow's (`birthMsg`) and, for the
 * same property, MQTT.js's, which the core node also takes in msg.broker. The flow's name wins.
 */
const PROPERTY_NAMES = {
    contentType: 'contentType',
    userProps: 'userProperties',
    respTopic: 'responseTopic',
    correl: 'correlationData',
    expiry: 'messageExpiryInterval',
    payloadFormatIndicator: 'payloadFormatIndicator',
    delay: 'willDelayInterval',
} as const;
type FlowPropertyName = keyof typeof PROPERTY_NAMES;

/** The names a `birthMsg`, `closeMsg` or `willMsg` (or msg.broker's `properties`) may hold. */
export function lifecyclePropertyNames(kind: LifecycleKind): string[] {
    const names = Object.entries(PROPERTY_NAMES).filter(([flow]) => kind === 'will' || flow !== 'delay');
    return names.flatMap(([flow, mqttjs]) => (flow === mqttjs ? [flow] : [flow, mqttjs]));
}

const MAX_WILL_DELAY = 0xffffffff;

/** The MQTT 5 properties of a message, and the will's delay; throws a PropertyError in words. */
function readProperties(kind: LifecycleKind, value: unknown): { properties?: PublishProperties; delayInterval?: number } {
    if (isEmpty(value)) return {};
    if (typeof value !== 'object' || Array.isArray(value) || Buffer.isBuffer(value)) {
        throw new PropertyError(`its MQTT 5 properties must be an object, not ${JSON.stringify(value)}`);
    }
    const given = value as Record<string, unknown>;
    const known = lifecyclePropertyNames(kind);
    const unknown = Object.keys(given).find((name) => !known.includes(name));
    if (unknown !== undefined) throw new PropertyError(`its MQTT 5 properties have no "${unknown}" (use ${known.join(', ')})`);
    const field = (name: FlowPropertyName): unknown => (isEmpty(given[name]) ? given[PROPERTY_NAMES[name]] : given[name]);
    const fields: NodePropertyFields = { contentType: field('contentType'), userProps: field('userProps'), respTopic: field('respTopic'), correl: field('correl'), expiry: field('expiry') };
    const properties = readNodeProperties(fields, 'its');
    // The core node's own tests put it in willMsg; its runtime ignores it. Sent here, as MQTT 5 allows.
    const format = field('payloadFormatIndicator');
    if (!isEmpty(format)) {
        if (typeof format !== 'boolean') throw new PropertyError(`its payload format indicator must be true or false, not ${JSON.stringify(format)}`);
        properties.payloadFormatIndicator = format;
    }
    const delayInterval = kind === 'will' ? readWholeNumber(field('delay'), 'its will delay', 0, MAX_WILL_DELAY) : undefined;
    return { ...(hasProperties(properties) ? { properties } : {}), ...(delayInterval === undefined ? {} : { delayInterval }) };
}

function problem(kind: LifecycleKind, code: LifecycleProblemCode, value: string, detail: string, extra: Partial<LifecycleProblem> = {}): LifecycleProblem {
    return { kind, code, value, detail, text: `the ${kind} message is off: ${detail}`, ...extra };
}

/**
 * One message of the flow properties: null when its topic is empty (off), or a problem that turns it
 * off. The MQTT 5 properties are read (and checked) only with `v5`: on MQTT 3.1.1 none is sent.
 */
export function readLifecycleMessage(kind: LifecycleKind, props: LifecycleProps, v5 = false): WillMessage | LifecycleProblem | null {
    const topicValue = props[`${kind}Topic`];
    if (isEmpty(topicValue)) return null;
    const topic = String(topicValue);
    const topicProblem = checkTopicName(topic);
    if (topicProblem) {
        return problem(kind, 'topic', topic, `its topic "${topic}" is invalid: ${topicProblem.text}`, { topicCode: topicProblem.code });
    }
    const qosValue = props[`${kind}Qos`];
    const qos = readLifecycleQos(qosValue);
    if (qos === null) return problem(kind, 'qos', String(qosValue), `its QoS must be 0, 1 or 2, not "${String(qosValue)}"`);
    const retainValue = props[`${kind}Retain`];
    const retain = readLifecycleRetain(retainValue);
    if (retain === null) return problem(kind, 'retain', String(retainValue), `its retain flag must be true or false, not "${String(retainValue)}"`);
    let payload: Buffer;
    try {
        payload = payloadToBuffer(props[`${kind}Payload`]);
    } catch (err) {
        if (!(err instanceof PayloadError)) throw err;
        return problem(kind, 'payload', '', `its payload cannot be sent: ${err.message}`, { reason: err.message });
    }
    const message: WillMessage = { topic, payload, qos, retain };
    if (!v5) return message;
    try {
        return { ...message, ...readProperties(kind, props[`${kind}Msg`]) };
    } catch (err) {
        if (!(err instanceof PropertyError)) throw err;
        return problem(kind, 'properties', '', err.message, { reason: err.message });
    }
}

export function readLifecycleMessages(props: LifecycleProps, v5 = false): LifecycleMessages {
    const result: LifecycleMessages = { birth: null, close: null, will: null, problems: [] };
    for (const kind of LIFECYCLE_KINDS) {
        const read = readLifecycleMessage(kind, props, v5);
        if (read && 'kind' in read) result.problems.push(read);
        else result[kind] = read;
    }
    return result;
}

/** The will as MQTT.js takes it in its connect options, with its MQTT 5 properties and delay when it has any. */
export function willOption(will: WillMessage): NonNullable<IClientOptions['will']> {
    const option: NonNullable<IClientOptions['will']> = { topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain };
    if (will.properties || will.delayInterval !== undefined) {
        option.properties = { ...will.properties };
        if (will.delayInterval !== undefined) option.properties.willDelayInterval = will.delayInterval;
    }
    return option;
}

/**
 * Publishes a birth or close message on `client` directly, not through the outbox: it speaks of this
 * link, so it is neither queued while the link is down nor kept for a later one. Resolves when the
 * broker has it (QoS 0: when written); rejects with why not, or when it takes longer than `patienceMs`.
 */
export function publishLifecycleMessage(client: Pick<MqttClient, 'publish'>, message: OutgoingMessage, patienceMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer from the broker within ${patienceMs} ms`)), patienceMs);
        const options = message.properties ? { qos: message.qos, retain: message.retain, properties: message.properties } : { qos: message.qos, retain: message.retain };
        client.publish(message.topic, message.payload, options, (err) => {
            clearTimeout(timer);
            if (!err) return resolve();
            const code = (err as { code?: unknown }).code;
            reject(typeof code === 'number' ? new Error(`the broker refused it: ${describeAckReason(code)}`) : err);
        });
    });
}
