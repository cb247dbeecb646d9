/**
 * When an incoming message is acknowledged to the broker. While nodes restart (a redeploy), a
 * QoS 1/2 message that no node can take yet is not acknowledged: MQTT.js reads nothing more until
 * it is, and it goes to the node that comes back, or, if the connection closes first, the broker
 * sends it again on the next connection. When the window ends with no taker it is acknowledged (it
 * was not wanted).
 */
import type { IPublishPacket } from 'mqtt';

/** Hands a packet to the subscribers it is for; returns how many that was. */
export type RouteHeld = (topic: string, packet: IPublishPacket) => number;

export class RedeployHold {
    /**
     * The packet MQTT.js emitted last, the topic it was routed by and how many subscribers took it.
     * MQTT.js asks to acknowledge a packet right after emitting it, so the last one is all there is
     * to remember (and no record per message).
     */
    private lastPacket: IPublishPacket | null = null;
    private lastTopic = '';
    private lastCount = 0;
    private held: { packet: IPublishPacket; topic: string; acknowledge: () => void } | null = null;
    private windowTimer: NodeJS.Timeout | null = null;

    /** MQTT.js emitted the packet as a message and `count` subscribers took it. */
    routed(packet: IPublishPacket, topic: string, count: number): void {
        this.lastPacket = packet;
        this.lastTopic = topic;
        this.lastCount = count;
    }

    /** MQTT.js asks whether to acknowledge the packet (its handleMessage): now, or once a node takes it. */
    acknowledgeOrHold(packet: IPublishPacket, acknowledge: () => void): void {
        const routed = this.lastPacket === packet;
        this.lastPacket = null;
        if (packet.qos === 0 || !this.windowTimer || (routed && this.lastCount > 0)) acknowledge();
        else this.held = { packet, topic: routed ? this.lastTopic : String(packet.topic), acknowledge };
    }

    /** A subscriber went, maybe only to restart: a window of `ms` opens (or starts again). */
    openWindow(ms: number): void {
        if (this.windowTimer) clearTimeout(this.windowTimer);
        this.windowTimer = setTimeout(() => this.endWindow(), ms);
    }

    /** A subscriber came: the held message goes to it, and is acknowledged, if `route` finds it a taker. */
    offer(route: RouteHeld): void {
        if (!this.held) return;
        const { packet, topic, acknowledge } = this.held;
        if (route(topic, packet) > 0) {
            this.held = null;
            acknowledge();
        }
    }

    /** The link is ending: a held message stays unacknowledged, and the broker sends it again on the next connection. */
    drop(): void {
        if (this.windowTimer) clearTimeout(this.windowTimer);
        this.windowTimer = null;
        this.held = null;
    }

    private endWindow(): void {
        this.windowTimer = null;
        const held = this.held;
        this.held = null;
        held?.acknowledge();
    }
}
