/** How the connection quiets and ends its MQTT.js clients. */
import type { IClientOptions, MqttClient } from 'mqtt';

/**
 * MQTT.js logs each packet through the `debug` module, which allocates for every call even when
 * nothing is printed (a fifth of what a relayed message allocates); its log stays on only when
 * DEBUG asks for it.
 */
export const quietMqttJs: Pick<IClientOptions, 'log'> = /mqttjs/.test(process.env.DEBUG ?? '') ? {} : { log: () => undefined };

/** Ends a client politely (DISCONNECT), or by force when that does not finish in time. */
export function endClient(client: MqttClient, patienceMs = 2000): Promise<void> {
    return new Promise((resolve) => {
        const timer = setTimeout(() => {
            client.stream?.destroy();
            resolve();
        }, patienceMs);
        client.end(!client.connected, () => {
            clearTimeout(timer);
            resolve();
        });
    });
}
