import type { MqttClient } from 'mqtt';
import { PublishTopicCheck } from './malformed-packet';

/**
 * A PUBLISH whose Topic Name holds a wildcard, U+0000 or ill-formed UTF-8 is malformed, and the
 * receiver closes the network connection (MQTT 5.0 sections 1.5.4, 3.3.2.1 and 4.13.1; 3.1.1
 * sections 1.5.3 and 3.3.2.1). MQTT.js decodes the name as it can, so the raw bytes are checked
 * on their way to its parser: such a packet, and what follows it, never reaches MQTT.js (nothing
 * of it is delivered or acknowledged), `malformed` is told why, and the stream is closed (the
 * client then emits 'close'). This wraps MQTT.js's streamBuilder (MQTT.js 5), and each stream's
 * emit of 'data'.
 */
export function guardPublishTopics(client: MqttClient, malformed: (detail: string) => void): void {
    type Stream = MqttClient['stream'];
    const internals = client as unknown as { streamBuilder?: (client: MqttClient) => Stream };
    const build = internals.streamBuilder;
    if (typeof build !== 'function') return;
    internals.streamBuilder = (c) => {
        const stream = build(c);
        const check = new PublishTopicCheck();
        const emit = stream.emit;
        let cut = false;
        stream.emit = (event: string | symbol, ...args: unknown[]): boolean => {
            const chunk = args[0];
            if (event !== 'data' || !(chunk instanceof Uint8Array)) return emit.call(stream, event, ...args);
            if (cut) return false;
            const found = check.scan(chunk);
            if (!found) return emit.call(stream, event, chunk);
            cut = true;
            if (found.before > 0) emit.call(stream, event, chunk.subarray(0, found.before));
            malformed(found.detail);
            stream.destroy();
            return false;
        };
        return stream;
    };
}
