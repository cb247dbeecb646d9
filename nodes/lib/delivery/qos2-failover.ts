/**
 * QoS 2 publishes across a change of broker (broker-rotation.ts).
 *
 * Once a broker has answered a QoS 2 PUBLISH with PUBREC, MQTT.js keeps only the PUBREL of it in the
 * outgoing store and sends that on the next connection. Another broker does not know the packet id:
 * it completes the PUBREL (PUBCOMP) without ever having had the message, and a broker that passes a
 * QoS 2 message on only at its PUBREL (Mosquitto does) took the message down with it. So while a
 * connection has several brokers, this keeps each QoS 2 PUBLISH until it is complete, and on a move
 * to another broker puts the PUBLISH back in place of its PUBREL: the new broker gets the message
 * itself. That is at least once, not exactly once: the lost broker may have passed it on already.
 * The copies live in memory: a PUBREL restored from a durable store after a restart has none.
 */
import type { IPublishPacket, Packet } from 'mqtt';
import type { PacketStore } from './types';

const kept = new WeakMap<PacketStore, Qos2Failover>();

export class Qos2Failover {
    private readonly publishes = new Map<number, IPublishPacket>();

    private constructor(private readonly outgoing: PacketStore) {
        const put = outgoing.put.bind(outgoing);
        outgoing.put = (packet, cb) => {
            if (packet.cmd === 'publish' && packet.qos === 2 && packet.messageId !== undefined) this.publishes.set(packet.messageId, packet);
            return put(packet, cb);
        };
        outgoing.onDelete((id) => this.publishes.delete(id));
    }

    /** The keeper of `outgoing`, installed at the first call. */
    static of(outgoing: PacketStore): Qos2Failover {
        let keeper = kept.get(outgoing);
        if (!keeper) kept.set(outgoing, (keeper = new Qos2Failover(outgoing)));
        return keeper;
    }

    /** Before connecting to another broker: each QoS 2 message waiting for its PUBCOMP goes again as a PUBLISH. Returns how many. */
    publishAgain(): number {
        let count = 0;
        for (const [id, publish] of this.publishes) {
            this.outgoing.get({ messageId: id }, (err?: Error, stored?: Packet) => {
                if (err || stored?.cmd !== 'pubrel') return;
                this.outgoing.put({ ...publish, dup: false }, () => undefined);
                count++;
            });
        }
        return count;
    }
}
