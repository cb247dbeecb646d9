/**
 * Birth, close and will messages of a broker-config, with the flow properties and meanings of
 * Node-RED's core `mqtt-broker` node: `birthTopic`, `birthPayload`, `birthQos`, `birthRetain`, and the
 * same for `close` and `will`. The birth message is published after every (re)connect, once the
 * subscriptions are sent; the close message before every clean disconnect; the will is handed to the
 * broker in CONNECT, which publishes it when the link dies without a DISCONNECT.
 *
 * An empty topic turns the message off, as in the core node. An invalid topic, QoS or retain flag
 * turns it off too and is reported in words; the connection works without that message.
 */
import type { IClientOptions, MqttClient } from 'mqtt';
import type { OutgoingMessage } from './delivery/types';
import { describeAckReason } from './errors';
import { payloadToBuffer } from './payload';
import type { QoS } from './subscription-plan';
import { checkTopicName, TopicProblemCode } from './topic';

export const LIFECYCLE_KINDS = ['birth', 'close', 'will'] as const;
export type LifecycleKind = (typeof LIFECYCLE_KINDS)[number];

/** The flow properties: `birthTopic`, `birthPayload`, `birthQos`, `birthRetain`, and so on. */
export type LifecycleProps = { [P in `${LifecycleKind}${'Topic' | 'Payload' | 'Qos' | 'Retain'}`]?: unknown };

export interface LifecycleProblem {
    kind: LifecycleKind;
    /** What is wrong: 'topic' (then `topicCode` says how), 'qos' or 'retain'. */
    code: 'topic' | 'qos' | 'retain';
    topicCode?: TopicProblemCode;
    /** The value that is wrong, as text. */
    value: string;
    /** In English, as the log and the status say it without a catalogue. */
    text: string;
}

export interface LifecycleMessages {
    birth: OutgoingMessage | null;
    close: OutgoingMessage | null;
    will: OutgoingMessage | null;
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

/** One message of the flow properties: null when its topic is empty (off), or a problem that turns it off. */
export function readLifecycleMessage(kind: LifecycleKind, props: LifecycleProps): OutgoingMessage | LifecycleProblem | null {
    const topicValue = props[`${kind}Topic`];
    if (isEmpty(topicValue)) return null;
    const topic = String(topicValue);
    const topicProblem = checkTopicName(topic);
    if (topicProblem) {
        return { kind, code: 'topic', topicCode: topicProblem.code, value: topic, text: `the ${kind} message is off: its topic "${topic}" is invalid: ${topicProblem.text}` };
    }
    const qosValue = props[`${kind}Qos`];
    const qos = readLifecycleQos(qosValue);
    if (qos === null) {
        return { kind, code: 'qos', value: String(qosValue), text: `the ${kind} message is off: its QoS must be 0, 1 or 2, not "${String(qosValue)}"` };
    }
    const retainValue = props[`${kind}Retain`];
    const retain = readLifecycleRetain(retainValue);
    if (retain === null) {
        return { kind, code: 'retain', value: String(retainValue), text: `the ${kind} message is off: its retain flag must be true or false, not "${String(retainValue)}"` };
    }
    return { topic, payload: payloadToBuffer(props[`${kind}Payload`]), qos, retain };
}

export function readLifecycleMessages(props: LifecycleProps): LifecycleMessages {
    const result: LifecycleMessages = { birth: null, close: null, will: null, problems: [] };
    for (const kind of LIFECYCLE_KINDS) {
        const read = readLifecycleMessage(kind, props);
        if (read && 'kind' in read) result.problems.push(read);
        else result[kind] = read;
    }
    return result;
}

/** The will as MQTT.js takes it in its connect options (no MQTT 5 properties). */
export function willOption(will: OutgoingMessage): NonNullable<IClientOptions['will']> {
    return { topic: will.topic, payload: will.payload, qos: will.qos, retain: will.retain };
}

/**
 * Publishes a birth or close message on `client` directly, not through the outbox: it speaks of this
 * link, so it is neither queued while the link is down nor kept for a later one. Resolves when the
 * broker has it (QoS 0: when written); rejects with why not, or when it takes longer than `patienceMs`.
 */
export function publishLifecycleMessage(client: Pick<MqttClient, 'publish'>, message: OutgoingMessage, patienceMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no answer from the broker within ${patienceMs} ms`)), patienceMs);
        client.publish(message.topic, message.payload, { qos: message.qos, retain: message.retain }, (err) => {
            clearTimeout(timer);
            if (!err) return resolve();
            const code = (err as { code?: unknown }).code;
            reject(typeof code === 'number' ? new Error(`the broker refused it: ${describeAckReason(code)}`) : err);
        });
    });
}
