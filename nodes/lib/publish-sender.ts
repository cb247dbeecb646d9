/**
 * Hands the outbox's messages to MQTT.js and settles each one: on the broker's final acknowledgement
 * (PUBACK, or PUBCOMP for QoS 2), or with why the broker will not have it.
 */
import type { MqttClient } from 'mqtt';
import { DeliveryError } from './delivery/outbox';
import type { DeliveryStore, QueuedMessage } from './delivery/types';
import { describeAckReason } from './errors';
import { publishPacketSize } from './message-properties';

/** MQTT 5 reason code 0x97 in a PUBACK or PUBREC. */
const QUOTA_EXCEEDED = 0x97;

/**
 * The most bytes MQTT allows in one packet: a Remaining Length of at most 268,435,455 (MQTT 5.0 and
 * 3.1.1 section 2.2.3), the fixed header's byte and four length bytes. MQTT.js closes the link at
 * such a packet without a word, and sends a QoS 1/2 one again after each reconnect.
 */
export const MQTT_MAXIMUM_PACKET_BYTES = 1 + 4 + 268435455;
/**
 * More than a PUBLISH without properties adds to its payload and topic (a topic's UTF-8 bytes are at
 * most 3 per UTF-16 unit): fixed header, length, topic length, packet id, an empty properties section.
 */
const SMALL_PACKET_OVERHEAD = 16;

/** What the broker's CONNACK (MQTT 5) allows a client to send; absent: no limit said. */
export interface BrokerLimits {
    maximumPacketSize?: number;
    topicAliasMaximum?: number;
    /** The link speaks MQTT 5: every PUBLISH carries a properties section. */
    mqtt5?: boolean;
}

/** MQTT.js's record of the topic aliases sent on the current link (reset at each CONNACK). */
interface TopicAliasesSent {
    getTopicByAlias(alias: number): string | undefined;
}

export class PublishSender {
    /** QoS 1/2 messages handed to MQTT.js, by message id, until the broker's final acknowledgement. */
    private readonly awaitingAck = new Map<number, (err?: Error) => void>();
    private limits: BrokerLimits = {};

    constructor(private readonly store: DeliveryStore) {
        // A deletion from the outgoing store is the broker's final acknowledgement. It completes a
        // message whose callback MQTT.js dropped when the link went (it resends from the store), but
        // only after MQTT.js's own callback has had its chance to report a refusal.
        this.store.outgoing.onDelete((id) => {
            const finish = this.awaitingAck.get(id);
            if (finish) queueMicrotask(() => finish());
        });
    }

    /** The limits of the link just established (an empty object on MQTT 3.1.1). */
    setBrokerLimits(limits: BrokerLimits): void {
        this.limits = limits;
    }

    /** The topic to send `message` under on this link ('' when its alias stands for it), or why the broker would not take it. */
    private fitToLink(client: MqttClient, message: QueuedMessage['message']): { topic: string } | { why: string } {
        const { properties } = message;
        let topic = message.topic;
        const alias = properties?.topicAlias;
        if (alias !== undefined) {
            const most = this.limits.topicAliasMaximum ?? 0;
            if (alias > most) {
                return { why: most > 0 ? `topic alias ${alias} is over the broker's maximum of ${most}` : `the broker accepts no topic aliases (msg.topicAlias ${alias})` };
            }
            // The alias already stands for this topic on this link: send the alias alone, as the core node does.
            const sent = (client as unknown as { topicAliasSend?: TopicAliasesSent }).topicAliasSend;
            if (sent?.getTopicByAlias(alias) === topic) topic = '';
        }
        const most = this.limits.maximumPacketSize;
        // Sized only where a limit could be reached: the message path of the usual small message stays short.
        if (most === undefined && !properties && message.payload.length + 3 * topic.length + SMALL_PACKET_OVERHEAD < MQTT_MAXIMUM_PACKET_BYTES) return { topic };
        const size = publishPacketSize(topic, message.payload.length, message.qos, this.limits.mqtt5 ? (properties ?? {}) : undefined);
        if (size > MQTT_MAXIMUM_PACKET_BYTES) return { why: `the message is ${size} bytes, more than the ${MQTT_MAXIMUM_PACKET_BYTES} bytes MQTT allows in one packet` };
        if (most !== undefined && size > most) return { why: `the message is ${size} bytes, more than the broker's maximum packet size of ${most} bytes` };
        return { topic };
    }

    /** Sends through `client`, the link's client (none while the connection is closed). */
    send(client: MqttClient | null, sending: QueuedMessage, done: (err?: Error) => void): void {
        if (!client) {
            done(new DeliveryError('the connection is closed', 'closed'));
            return;
        }
        const { message } = sending;
        let id: number | undefined;
        let settled = false;
        const finish = (err?: Error): void => {
            if (settled) return;
            settled = true;
            if (id !== undefined && this.awaitingAck.get(id) === finish) this.awaitingAck.delete(id);
            done(err);
        };
        const fitted = this.fitToLink(client, message);
        if ('why' in fitted) {
            done(new DeliveryError(`not sent: ${fitted.why}`, 'refused'));
            return;
        }
        const { topic } = fitted;
        // A copy: MQTT.js may change the packet's properties, and the queued message must stay as it was.
        const options = message.properties ? { qos: message.qos, retain: message.retain, properties: { ...message.properties } } : { qos: message.qos, retain: message.retain };
        const publish = (): void => {
            client.publish(topic, message.payload, options, (err) => {
                if (!err) return finish();
                const code = (err as { code?: unknown }).code;
                if (code === QUOTA_EXCEEDED) {
                    // Over a quota of the broker's for now (Mosquitto restored from its persistence file
                    // counts exchanges its clients have long finished): it kept nothing, send it again.
                    finish(new DeliveryError(`the broker is busy: ${describeAckReason(code)}`, 'busy'));
                } else if (typeof code === 'number') {
                    // PUBACK/PUBREC with a reason code of 0x80 or more (MQTT 5): the broker will not take it.
                    finish(new DeliveryError(`the broker refused it: ${describeAckReason(code)}`, 'refused'));
                } else if (id !== undefined && this.store.outgoing.messageIds().includes(id)) {
                    // The link went ("Connection closed"): MQTT.js resends it from the store after
                    // reconnecting, and its deletion from the store completes it.
                } else {
                    finish(new DeliveryError(err.message, 'failed'));
                }
            });
        };
        if (sending.seq) id = this.store.handOver(sending.seq, publish);
        else publish();
        if (id !== undefined && !settled) this.awaitingAck.set(id, finish);
    }
}
