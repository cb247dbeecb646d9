/**
 * Finds a PUBLISH from the broker whose Topic Name is malformed, in the raw bytes of the network
 * connection, before MQTT.js parses them. A Topic Name must be a well-formed UTF-8 string without
 * U+0000 (MQTT 5.0 section 1.5.4, 3.1.1 section 1.5.3) and must not contain wildcards (5.0 and
 * 3.1.1 section 3.3.2.1); a packet that breaks this is malformed, and the receiver closes the
 * network connection. MQTT.js decodes the name with a replacement character (U+FFFD) for each
 * ill-formed sequence, which cannot be told apart from a U+FFFD that was sent: hence the bytes.
 *
 * Pure: imports nothing but Buffer.
 */

const NUL = 0x00;
const HASH = 0x23; // '#'
const PLUS = 0x2b; // '+'
const PUBLISH = 3;

/** Why `topic` (the raw bytes of a PUBLISH Topic Name) is malformed, in words; null when it is fine. */
export function publishTopicProblem(topic: Uint8Array): string | null {
    let ascii = true;
    let nul = false;
    let wildcard = false;
    // In UTF-8 the bytes 0x00, '#' and '+' are only ever those characters: every byte of a
    // multi-byte sequence is 0x80 or more.
    for (let i = 0; i < topic.length; i++) {
        const b = topic[i];
        if (b === NUL) nul = true;
        else if (b === HASH || b === PLUS) wildcard = true;
        else if (b >= 0x80) ascii = false;
    }
    if (!ascii && !isWellFormedUtf8(topic)) return 'a PUBLISH topic name that is not valid UTF-8';
    if (nul) return 'a PUBLISH topic name with U+0000';
    if (wildcard) return `a PUBLISH topic name with a wildcard (${Buffer.from(topic.buffer, topic.byteOffset, topic.length).toString('utf8')})`;
    return null;
}

/**
 * Decoding replaces each ill-formed sequence with U+FFFD (bytes EF BF BD, themselves well formed),
 * so the bytes come back unchanged from decoding and encoding again exactly when they are well formed.
 */
export function isWellFormedUtf8(bytes: Uint8Array): boolean {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    return Buffer.from(buffer.toString('utf8'), 'utf8').equals(buffer);
}

export interface MalformedPublish {
    /** How many bytes of the chunk come before the malformed packet (they may be passed on). */
    before: number;
    /** publishTopicProblem's words. */
    detail: string;
}

const enum Stage {
    Header,
    Length,
    TopicLength,
    Topic,
    Rest,
    /** Found a malformed PUBLISH, or a length the parser will refuse: nothing more to look at. */
    Done,
}

/**
 * Follows the packets of one network connection, chunk by chunk (a packet may span chunks), and
 * reports the first PUBLISH whose Topic Name is malformed. Reads only the fixed header and the Topic
 * Name; everything else the parser of MQTT.js checks (and refuses) itself.
 */
export class PublishTopicCheck {
    private stage = Stage.Header;
    private publish = false;
    /** Remaining Length being read, and how many of its bytes were read. */
    private length = 0;
    private lengthBytes = 0;
    /** Bytes of the current packet still to come after the fixed header. */
    private remaining = 0;
    private topicLength = 0;
    /** Bytes of the Topic Name (or of its length) read so far. */
    private got = 0;
    /** The parts of a Topic Name that spans chunks. */
    private parts: Uint8Array[] = [];

    /** The first malformed PUBLISH that starts in or before `chunk`, or null. */
    scan(chunk: Uint8Array): MalformedPublish | null {
        // Where the current packet starts in this chunk: 0 when it began in an earlier one.
        let packetStart = 0;
        let i = 0;
        while (i < chunk.length && this.stage !== Stage.Done) {
            switch (this.stage) {
                case Stage.Header:
                    packetStart = i;
                    this.publish = chunk[i++] >> 4 === PUBLISH;
                    this.length = 0;
                    this.lengthBytes = 0;
                    this.stage = Stage.Length;
                    break;
                case Stage.Length: {
                    const b = chunk[i++];
                    this.length += (b & 0x7f) * 128 ** this.lengthBytes++;
                    if (b & 0x80) {
                        // At most 4 bytes (MQTT 5.0 section 1.5.5): MQTT.js refuses a longer one.
                        if (this.lengthBytes === 4) this.stage = Stage.Done;
                        break;
                    }
                    this.remaining = this.length;
                    this.stage = this.publish && this.remaining >= 2 ? Stage.TopicLength : Stage.Rest;
                    this.topicLength = 0;
                    this.got = 0;
                    break;
                }
                case Stage.TopicLength:
                    this.topicLength = (this.topicLength << 8) | chunk[i++];
                    this.remaining--;
                    if (++this.got < 2) break;
                    this.got = 0;
                    // Empty (MQTT 5 with a Topic Alias), or longer than the packet (the parser refuses it).
                    this.stage = this.topicLength > 0 && this.topicLength <= this.remaining ? Stage.Topic : Stage.Rest;
                    break;
                case Stage.Topic: {
                    const take = Math.min(this.topicLength - this.got, chunk.length - i);
                    const part = chunk.subarray(i, i + take);
                    i += take;
                    this.remaining -= take;
                    this.got += take;
                    if (this.got < this.topicLength) {
                        this.parts.push(part);
                        break;
                    }
                    const topic = this.parts.length > 0 ? Buffer.concat([...this.parts, part]) : part;
                    this.parts = [];
                    const detail = publishTopicProblem(topic);
                    if (detail !== null) {
                        this.stage = Stage.Done;
                        return { before: packetStart, detail };
                    }
                    this.stage = Stage.Rest;
                    break;
                }
                case Stage.Rest: {
                    const skip = Math.min(this.remaining, chunk.length - i);
                    i += skip;
                    this.remaining -= skip;
                    break;
                }
            }
            if (this.stage === Stage.Rest && this.remaining === 0) this.stage = Stage.Header;
        }
        return null;
    }
}
