/**
 * A raw MQTT client for the topic tests: mqtt-packet over a plain socket, so that it can send what
 * MQTT.js would refuse (malformed topics, lone surrogates as bytes), and see exactly what a broker
 * answers, or that it closed the connection.
 */
import assert from 'node:assert/strict';
import * as net from 'net';

export interface Packet {
    cmd: string;
    messageId?: number;
    reasonCode?: number;
    returnCode?: number;
    granted?: number[];
    topic?: string;
    payload?: Buffer;
    retain?: boolean;
    properties?: { subscriptionIdentifier?: number | number[] };
}
interface Parser {
    on(event: 'packet', listener: (packet: Packet) => void): void;
    on(event: 'error', listener: (error: Error) => void): void;
    parse(data: Buffer): number;
}
export const mqttPacket: { generate(packet: object, opts?: object): Buffer; parser(opts?: object): Parser } = require('mqtt-packet');

export type Version = 4 | 5;

/** UTF-8 that also encodes lone surrogates (as 3 bytes, like CESU-8), which Buffer.from will not. */
export function looseUtf8(s: string): Buffer {
    const bytes: number[] = [];
    for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
            const d = s.charCodeAt(i + 1);
            if (d >= 0xdc00 && d <= 0xdfff) {
                bytes.push(...Buffer.from(s.slice(i, i + 2)));
                i++;
                continue;
            }
        }
        if (c >= 0xd800 && c <= 0xdfff) bytes.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
        else bytes.push(...Buffer.from(s[i]));
    }
    return Buffer.from(bytes);
}

/** Encodes `packet` whose topic is `topic`, bytes exact even when it has lone surrogates. */
export function encode(packet: object, topic: string, version: Version): Buffer {
    const exact = looseUtf8(topic);
    const placeholder = topic.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
    const withPlaceholder = { ...packet } as { topic?: string; subscriptions?: Array<{ topic: string; qos: number }> };
    if (withPlaceholder.subscriptions) withPlaceholder.subscriptions = [{ ...withPlaceholder.subscriptions[0], topic: placeholder }];
    else withPlaceholder.topic = placeholder;
    const buffer = mqttPacket.generate(withPlaceholder, { protocolVersion: version });
    if (placeholder === topic) return buffer;
    // U+FFFD and a lone surrogate both take 3 bytes: overwrite the topic in place.
    const at = buffer.indexOf(Buffer.from(placeholder));
    exact.copy(buffer, at);
    return buffer;
}

let clientCount = 0;

export class RawClient {
    private readonly queue: Packet[] = [];
    private wake: (() => void) | null = null;
    closed = false;
    onPublish: ((packet: Packet) => void) | null = null;
    /** Resolves when the socket has closed. */
    readonly gone: Promise<void>;
    private markGone!: () => void;

    private constructor(
        private readonly socket: net.Socket,
        readonly version: Version,
    ) {
        this.gone = new Promise((resolve) => (this.markGone = resolve));
        const parser = mqttPacket.parser({ protocolVersion: version });
        parser.on('packet', (packet) => {
            if (packet.cmd === 'publish' && this.onPublish) this.onPublish(packet);
            else this.queue.push(packet);
            this.wake?.();
        });
        parser.on('error', () => socket.destroy());
        socket.on('data', (data) => parser.parse(data));
        socket.on('error', () => undefined);
        socket.on('close', () => {
            this.closed = true;
            this.wake?.();
            this.markGone();
        });
    }

    /** Opens a network connection and sends nothing yet. */
    static async open(port: number, version: Version): Promise<RawClient> {
        const socket = net.connect(port, '127.0.0.1');
        socket.setNoDelay(true);
        await new Promise<void>((resolve, reject) => {
            socket.once('connect', resolve);
            socket.once('error', reject);
        });
        return new RawClient(socket, version);
    }

    /** Connects with a clean session; `context` ends the message of a failed CONNACK. */
    static async connect(port: number, version: Version, context = ''): Promise<RawClient> {
        const client = await RawClient.open(port, version);
        client.send(
            mqttPacket.generate(
                { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clean: true, keepalive: 0, clientId: RawClient.newClientId() },
                { protocolVersion: version },
            ),
        );
        const ack = await client.next((p) => p.cmd === 'connack', 5000);
        assert.ok(typeof ack !== 'string' && (ack.reasonCode ?? ack.returnCode ?? 0) === 0, `CONNACK: ${JSON.stringify(ack)}${context}`);
        return client;
    }

    static newClientId(): string {
        return `topic-test-${process.pid}-${++clientCount}`;
    }

    send(buffer: Buffer): void {
        this.socket.write(buffer);
    }

    /** The first queued packet satisfying `wanted`, or 'closed' / 'timeout'. */
    async next(wanted: (p: Packet) => boolean, timeoutMs = 5000): Promise<Packet | 'closed' | 'timeout'> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const i = this.queue.findIndex(wanted);
            if (i >= 0) return this.queue.splice(i, 1)[0];
            if (this.closed) return 'closed';
            const left = deadline - Date.now();
            if (left <= 0) return 'timeout';
            await new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, left);
                this.wake = () => {
                    clearTimeout(timer);
                    resolve();
                };
            });
            this.wake = null;
        }
    }

    close(): void {
        this.closed = true; // now, not at the 'close' event: the next send must see it
        this.socket.destroy();
    }
}

