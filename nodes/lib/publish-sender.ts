/**
 * Hands the outbox's messages to MQTT.js and settles each one: on the broker's final acknowledgement
 * (PUBACK, or PUBCOMP for QoS 2), or with why the broker will not have it.
 */
import type { MqttClient } from 'mqtt';
import { DeliveryError } from './delivery/outbox';
import type { DeliveryStore, QueuedMessage } from './delivery/types';
import { describeAckReason } from './errors';

/** MQTT 5 reason code 0x97 in a PUBACK or PUBREC. */
const QUOTA_EXCEEDED = 0x97;

export class PublishSender {
    /** QoS 1/2 messages handed to MQTT.js, by message id, until the broker's final acknowledgement. */
    private readonly awaitingAck = new Map<number, (err?: Error) => void>();

    constructor(private readonly store: DeliveryStore) {
        // A deletion from the outgoing store is the broker's final acknowledgement. It completes a
        // message whose callback MQTT.js dropped when the link went (it resends from the store), but
        // only after MQTT.js's own callback has had its chance to report a refusal.
        this.store.outgoing.onDelete((id) => {
            const finish = this.awaitingAck.get(id);
            if (finish) queueMicrotask(() => finish());
        });
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
        const publish = (): void => {
            client.publish(message.topic, message.payload, { qos: message.qos, retain: message.retain }, (err) => {
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
