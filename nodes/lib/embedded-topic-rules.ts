/**
 * The MQTT 3.1.1 topic rules that aedes (the embedded broker) does not keep by itself, as aedes
 * hooks, so that a device on the network gets from the embedded broker what the spec says, by the
 * same rules as the nodes (nodes/lib/topic.ts):
 * - every string of every packet is well-formed UTF-8 without U+0000, else the connection closes
 *   [MQTT-1.5.3-1] [MQTT-1.5.3-2];
 * - a SUBSCRIBE with a malformed Topic Filter, a PUBLISH or a Will with a malformed Topic Name, is
 *   a protocol violation: the connection closes [MQTT-4.8.0-1], as aedes does for the malformed
 *   filters it notices itself and as Mosquitto does;
 * - retained messages go to a new subscription by topicMatches ('+' matches an empty level,
 *   wildcards at the first level do not match '$' topics).
 *
 * Pure: aedes and mqtt-packet are described by the small interfaces below.
 */
import { SHARE_PREFIX, checkTopicFilter, checkTopicName, topicMatches } from './topic';
import { isWellFormedUtf8 } from './malformed-packet';

export interface Subscription {
    topic: string;
    qos: number;
}
interface Topical {
    topic: string;
}
interface ConnectPacket {
    will?: Topical | null;
}

/** aedes' authorizeSubscribe: an error closes the connection, a null subscription gets SUBACK 0x80. */
export function authorizeSubscribe(_client: unknown, sub: Subscription, done: (error: Error | null, sub?: Subscription | null) => void): void {
    const problem = checkTopicFilter(sub.topic);
    if (problem !== null) return done(new Error(`SUBSCRIBE to ${JSON.stringify(sub.topic)}: ${problem.text}`));
    // aedes has no shared subscriptions (MQTT 3.1.1 defines none): it would take "$share/g/a" for
    // the plain topic of that name. Refused (0x80, Failure) rather than silently never shared.
    if (sub.topic.startsWith(SHARE_PREFIX)) return done(null, null);
    done(null, sub);
}

/** aedes' authorizePublish (a client's PUBLISH, or a Will): an error closes the connection. */
export function authorizePublish(_client: unknown, packet: Topical, done: (error: Error | null) => void): void {
    const problem = checkTopicName(packet.topic);
    if (problem !== null) return done(new Error(`PUBLISH to ${JSON.stringify(packet.topic)}: ${problem.text}`));
    // aedes' own policy, kept: clients cannot publish under $SYS/, where the broker reports on
    // itself (a Server may reserve '$' topics, MQTT 3.1.1 section 4.7.2).
    if (packet.topic.startsWith('$SYS/')) return done(new Error('$SYS/ topics are reserved for the broker'));
    done(null);
}

/** aedes' preConnect: a Will Topic is a Topic Name [MQTT-3.1.4-1]; an error closes the connection before CONNACK. */
export function preConnect(_client: unknown, packet: ConnectPacket, done: (error: Error | null, accept: boolean) => void): void {
    const problem = packet.will ? checkTopicName(packet.will.topic) : null;
    if (problem !== null) return done(new Error(`Will Topic ${JSON.stringify(packet.will?.topic)}: ${problem.text}`), false);
    done(null, true);
}

/** The part of an mqtt-packet 9 parser that reads a UTF-8 string: its buffer, and where it reads. */
export interface StringParser {
    _pos: number;
    _list: { slice(start: number, end: number): Uint8Array };
    _parseString(): string | null;
}

/**
 * Makes `parser` refuse strings with U+0000 or ill-formed UTF-8. mqtt-packet decodes each string
 * with U+FFFD in place of an ill-formed sequence, so the raw bytes are judged, while they are still
 * in its buffer, whenever a U+FFFD appears. A refused string reads as one that cannot be parsed: the
 * parser reports an error and aedes closes the connection, before the packet does anything.
 * Returns false when the parser has no such method (another mqtt-packet): nothing is checked then.
 */
export function refuseMalformedStrings(parser: StringParser): boolean {
    const parseString = parser._parseString;
    if (typeof parseString !== 'function') return false;
    parser._parseString = function (this: StringParser): string | null {
        const start = this._pos + 2; // after the two bytes of its length
        const text = parseString.call(this);
        if (text === null) return null;
        if (text.includes('\u0000')) return null;
        if (text.includes('\ufffd') && !isWellFormedUtf8(this._list.slice(start, this._pos))) return null;
        return text;
    };
    return true;
}

/**
 * The retained messages for a SUBSCRIBE to `filters`, out of `all` the broker keeps: for each
 * filter in turn, those it matches (a message matched by two filters comes twice, as for two
 * SUBSCRIBEs, MQTT 3.1.1 section 3.8.4).
 */
export async function* retainedMatching<T extends Topical>(all: AsyncIterable<T>, filters: readonly string[]): AsyncGenerator<T> {
    const retained: T[] = [];
    for await (const packet of all) retained.push(packet);
    for (const filter of filters) {
        for (const packet of retained) if (topicMatches(filter, packet.topic)) yield packet;
    }
}
