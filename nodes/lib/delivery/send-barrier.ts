/**
 * With a durable store, every packet goes to the broker only once the records written before it are
 * synced (the store's send barrier), so a put need not wait for its own sync: one sync covers a whole
 * batch, and MQTT.js reads the next incoming packet while an acknowledgement waits. Without the barrier
 * the store syncs before each put's callback instead, which is as safe and slower.
 *
 * This wraps MQTT.js's one internal write function, _writePacket (MQTT.js 5); what it relies on is
 * tested in test/unit/mqttjs-internals.test.ts.
 */
import type { MqttClient } from 'mqtt';
import type { DeliveryStore } from './types';

type WritePacket = (packet: { cmd: string }, cb?: (err?: Error) => void) => void;

export function installSendBarrier(client: MqttClient, store: DeliveryStore): void {
    const internals = client as unknown as { _writePacket?: WritePacket; stream?: { destroyed?: boolean } };
    const write = internals._writePacket;
    if (!store.durable || typeof write !== 'function') return;
    internals._writePacket = (packet, cb) => {
        const stream = internals.stream;
        // An acknowledgement of an incoming message: MQTT.js reads the next packet once its callback
        // runs. It may read on while the acknowledgement waits at the barrier.
        const readOn = packet.cmd === 'puback' || packet.cmd === 'pubrec' || packet.cmd === 'pubcomp';
        store.afterDurable(() => {
            if (internals.stream !== stream || stream?.destroyed) {
                // That link is gone; MQTT.js resends what the store holds on the next one.
                if (!readOn) cb?.(new Error('Connection closed'));
                return;
            }
            write.call(client, packet, readOn ? undefined : cb);
        });
        if (readOn) cb?.();
    };
}
