/**
 * How the network connection of a client sends: each packet leaves without waiting (no Nagle),
 * and the packets written in one turn of the event loop leave together.
 *
 * Nagle's algorithm holds a small write while an earlier one is unacknowledged; the broker delays
 * its ACK of a packet it does not answer (an acknowledgement of ours), so an acknowledgement
 * followed by a publish waited about 40 ms, per message. Switching it off alone makes every
 * packet a system call and a TCP segment of its own, which at thousands of messages a second
 * costs more CPU than the rest of the message path; gathering the writes of one turn (cork, then
 * uncork at setImmediate) sends them in one.
 *
 * This wraps MQTT.js's streamBuilder (MQTT.js 5), as publish-topic-guard.ts does; what it relies
 * on is tested in test/unit/mqttjs-internals.test.ts.
 */
import type { MqttClient } from 'mqtt';

interface TunableStream {
    write: (...args: unknown[]) => boolean;
    cork?: () => void;
    uncork?: () => void;
    setNoDelay?: (noDelay: boolean) => void;
    destroyed?: boolean;
}

export function tuneClientStreams(client: MqttClient): void {
    const internals = client as unknown as { streamBuilder?: (client: MqttClient) => unknown };
    const build = internals.streamBuilder;
    if (typeof build !== 'function') return;
    internals.streamBuilder = (c) => {
        const stream = build(c) as TunableStream;
        // A TCP or TLS socket; a WebSocket stream has no such switch (the ws library sets it on its socket).
        stream.setNoDelay?.(true);
        gatherWritesPerTurn(stream);
        return stream;
    };
}

/** Holds the stream's writes from the first one in a turn of the event loop until setImmediate. */
export function gatherWritesPerTurn(stream: TunableStream): void {
    const { cork, uncork } = stream;
    if (typeof cork !== 'function' || typeof uncork !== 'function') return;
    const write = stream.write;
    let gathering = false;
    const flush = (): void => {
        gathering = false;
        if (!stream.destroyed) uncork.call(stream);
    };
    stream.write = function (this: TunableStream) {
        if (!gathering) {
            gathering = true;
            cork.call(stream);
            setImmediate(flush);
        }
        // eslint-disable-next-line prefer-rest-params -- passes the arguments on without an array per write
        return write.apply(this, arguments as unknown as unknown[]);
    };
}
