/**
 * The append-only log behind the file delivery store: a short file header, then records, each framed
 * so that a torn or damaged tail (a crash mid-write, a power loss) is recognised and cut off.
 *
 * File:    "MQWJ" | u32 format version | record | record | ...
 * Record:  u32 body length | u32 CRC-32 of (length field + body) | body      (little-endian)
 * Body:    u8 record type | fields of that type (see RecordType)
 *
 * A packet or a queued message is encoded as: u32 header length | JSON header (every field except
 * the payload, with a queued message's MQTT 5 properties; Buffers anywhere inside, e.g.
 * correlationData, tagged so they come back as Buffers) | u8 payload kind (0 none, 1 Buffer, 2 string) | payload bytes (the rest of the body).
 *
 * This module is the format only: it builds and reads records; journal-file.ts writes and syncs them.
 */
import type { Packet } from 'mqtt-packet';
import type { OutgoingMessage, StoredSubscription } from './types';

const FILE_MAGIC = Buffer.from('MQWJ', 'latin1');
const FORMAT_VERSION = 1;
export const FILE_HEADER_SIZE = 8;
export const RECORD_OVERHEAD = 8;
/** Larger than any MQTT packet (256 MiB): a length beyond this is damage, not data. */
const MAX_BODY = 268435455 + 65536;

export const enum RecordType {
    /** f64 seq | message */
    Enqueue = 1,
    /** f64 seq */
    Dequeue = 2,
    /** u8 store (0 outgoing, 1 incoming) | packet */
    Put = 3,
    /** u8 store | u16 messageId */
    Del = 4,
    /** u8 store */
    Clear = 5,
    /** f64 seq | packet: removes queued seq and puts the packet into the outgoing store, in one record */
    HandOver = 6,
    /** JSON array of subscriptions */
    Subscriptions = 7,
    /** f64 next seq: written first by a compaction, so the counter survives an empty queue */
    NextSeq = 8,
}

export const enum StoreId {
    Outgoing = 0,
    Incoming = 1,
}

// ---- CRC-32 (IEEE 802.3, the zlib/PNG one), table-driven; zlib.crc32 is missing before Node 20.15/22.2.

const CRC_TABLE = (() => {
    const table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        table[n] = c;
    }
    return table;
})();

/** The CRC of the record at `start` ending at `end`: its length field and its body, skipping the CRC field. */
function recordCrc(buf: Buffer, start: number, end: number): number {
    let crc = -1;
    for (let i = start; i < start + 4; i++) crc = CRC_TABLE[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
    for (let i = start + RECORD_OVERHEAD; i < end; i++) crc = CRC_TABLE[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
    return (crc ^ -1) >>> 0;
}

// ---- Values with Buffers inside, through JSON.

/**
 * A Buffer becomes `{"\u0000b": base64}`. MQTT strings may not contain U+0000, but to stay exact for
 * any object, a key that starts with U+0000 is escaped by doubling that character.
 */
const BUFFER_TAG = '\u0000b';

function toJsonValue(value: unknown): unknown {
    if (value === null || typeof value !== 'object') return value;
    if (value instanceof Uint8Array) return { [BUFFER_TAG]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') };
    if (Array.isArray(value)) return value.map(toJsonValue);
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
        const v = (value as Record<string, unknown>)[key];
        if (v === undefined) continue;
        out[key.charCodeAt(0) === 0 ? '\u0000' + key : key] = toJsonValue(v);
    }
    return out;
}

function fromJsonValue(value: unknown): unknown {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map(fromJsonValue);
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === BUFFER_TAG) return Buffer.from((value as Record<string, string>)[BUFFER_TAG], 'base64');
    const out: Record<string, unknown> = {};
    for (const key of keys) out[key.charCodeAt(0) === 0 ? key.slice(1) : key] = fromJsonValue((value as Record<string, unknown>)[key]);
    return out;
}

/** The pieces of an encoded object with a `payload`: the JSON header and the payload bytes. */
interface EncodedObject {
    header: Buffer;
    kind: 0 | 1 | 2;
    payload: Buffer | null;
}

function encodeObject(object: object): EncodedObject {
    const head: Record<string, unknown> = {};
    let payload: unknown;
    for (const key of Object.keys(object)) {
        const v = (object as Record<string, unknown>)[key];
        if (key === 'payload') payload = v;
        else if (v !== undefined) head[key.charCodeAt(0) === 0 ? '\u0000' + key : key] = toJsonValue(v);
    }
    const header = Buffer.from(JSON.stringify(head), 'utf8');
    if (payload === undefined || payload === null) return { header, kind: 0, payload: null };
    if (typeof payload === 'string') return { header, kind: 2, payload: Buffer.from(payload, 'utf8') };
    if (payload instanceof Uint8Array) return { header, kind: 1, payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength) };
    // Anything else MQTT.js would not send as a payload; keep it in the header rather than lose it.
    head.payload = toJsonValue(payload);
    return { header: Buffer.from(JSON.stringify(head), 'utf8'), kind: 0, payload: null };
}

function encodedObjectSize(e: EncodedObject): number {
    return 4 + e.header.length + 1 + (e.payload ? e.payload.length : 0);
}

/** Writes an encoded object at `offset`; returns the offset after it. */
function writeObject(buf: Buffer, offset: number, e: EncodedObject): number {
    buf.writeUInt32LE(e.header.length, offset);
    offset += 4;
    offset += e.header.copy(buf, offset);
    buf[offset++] = e.kind;
    if (e.payload) offset += e.payload.copy(buf, offset);
    return offset;
}

/** Reads an object written by writeObject that runs to `end`. The payload is copied out of `buf`. */
function readObject(buf: Buffer, offset: number, end: number): Record<string, unknown> {
    if (offset + 5 > end) throw new Error('object too short');
    const headerLength = buf.readUInt32LE(offset);
    offset += 4;
    if (offset + headerLength + 1 > end) throw new Error('object header overruns its record');
    const object = fromJsonValue(JSON.parse(buf.toString('utf8', offset, offset + headerLength))) as Record<string, unknown>;
    if (object === null || typeof object !== 'object' || Array.isArray(object)) throw new Error('object header is not an object');
    offset += headerLength;
    const kind = buf[offset++];
    if (kind === 1) object.payload = Buffer.from(buf.subarray(offset, end));
    else if (kind === 2) object.payload = buf.toString('utf8', offset, end);
    else if (kind !== 0 || offset !== end) throw new Error('bad payload kind');
    return object;
}

// ---- Framing.

/** Allocates a record with room for a body of `bodyLength` bytes; fill the body from RECORD_OVERHEAD, then seal it. */
function allocRecord(bodyLength: number): Buffer {
    const record = Buffer.allocUnsafe(RECORD_OVERHEAD + bodyLength);
    record.writeUInt32LE(bodyLength, 0);
    return record;
}

function sealRecord(record: Buffer): Buffer {
    record.writeUInt32LE(recordCrc(record, 0, record.length), 4);
    return record;
}

// ---- Records, one builder for each type.

function seqRecord(type: RecordType, seq: number): Buffer {
    const record = allocRecord(9);
    record[RECORD_OVERHEAD] = type;
    record.writeDoubleLE(seq, RECORD_OVERHEAD + 1);
    return sealRecord(record);
}

/** A record of one type that holds a sequence number and an encoded object (Enqueue, HandOver). */
function seqObjectRecord(type: RecordType, seq: number, object: object): Buffer {
    const encoded = encodeObject(object);
    const record = allocRecord(9 + encodedObjectSize(encoded));
    record[RECORD_OVERHEAD] = type;
    record.writeDoubleLE(seq, RECORD_OVERHEAD + 1);
    writeObject(record, RECORD_OVERHEAD + 9, encoded);
    return sealRecord(record);
}

export function enqueueRecord(seq: number, message: OutgoingMessage): Buffer {
    return seqObjectRecord(RecordType.Enqueue, seq, message);
}

export function dequeueRecord(seq: number): Buffer {
    return seqRecord(RecordType.Dequeue, seq);
}

export function nextSeqRecord(seq: number): Buffer {
    return seqRecord(RecordType.NextSeq, seq);
}

export function putRecord(store: StoreId, packet: Packet): Buffer {
    const encoded = encodeObject(packet);
    const record = allocRecord(2 + encodedObjectSize(encoded));
    record[RECORD_OVERHEAD] = RecordType.Put;
    record[RECORD_OVERHEAD + 1] = store;
    writeObject(record, RECORD_OVERHEAD + 2, encoded);
    return sealRecord(record);
}

export function handOverRecord(seq: number, packet: Packet): Buffer {
    return seqObjectRecord(RecordType.HandOver, seq, packet);
}

export function delRecord(store: StoreId, messageId: number): Buffer {
    const record = allocRecord(4);
    record[RECORD_OVERHEAD] = RecordType.Del;
    record[RECORD_OVERHEAD + 1] = store;
    record.writeUInt16LE(messageId, RECORD_OVERHEAD + 2);
    return sealRecord(record);
}

export function clearRecord(store: StoreId): Buffer {
    const record = allocRecord(2);
    record[RECORD_OVERHEAD] = RecordType.Clear;
    record[RECORD_OVERHEAD + 1] = store;
    return sealRecord(record);
}

export function subscriptionsRecord(subscriptions: StoredSubscription[]): Buffer {
    const json = Buffer.from(JSON.stringify(subscriptions), 'utf8');
    const record = allocRecord(1 + json.length);
    record[RECORD_OVERHEAD] = RecordType.Subscriptions;
    json.copy(record, RECORD_OVERHEAD + 1);
    return sealRecord(record);
}

// ---- Decoding a record body.

export function messageIdOf(packet: { messageId?: unknown }): number {
    const id = packet.messageId;
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 1 || id > 0xffff) throw new Error(`bad messageId ${String(id)}`);
    return id;
}

function checkSeq(seq: number): number {
    if (!Number.isSafeInteger(seq) || seq < 1) throw new Error(`bad seq ${seq}`);
    return seq;
}

function checkStore(byte: number): StoreId {
    if (byte !== StoreId.Outgoing && byte !== StoreId.Incoming) throw new Error(`bad store ${byte}`);
    return byte;
}

function checkMessage(object: Record<string, unknown>): OutgoingMessage {
    if (typeof object.topic !== 'string' || !Buffer.isBuffer(object.payload)) throw new Error('bad queued message');
    // A message written before MQTT 5 properties were kept has none.
    const props = object.properties;
    if (props !== undefined && (props === null || typeof props !== 'object' || Array.isArray(props))) throw new Error('bad queued message properties');
    return object as unknown as OutgoingMessage;
}

function checkPacket(object: Record<string, unknown>): Packet {
    if (typeof object.cmd !== 'string') throw new Error('bad packet');
    messageIdOf(object);
    return object as unknown as Packet;
}

/** One record, decoded completely before anything is applied (a record that fails to decode is damage). */
export type DecodedRecord =
    | { type: RecordType.Enqueue; seq: number; message: OutgoingMessage }
    | { type: RecordType.Dequeue; seq: number }
    | { type: RecordType.Put; store: StoreId; packet: Packet }
    | { type: RecordType.Del; store: StoreId; messageId: number }
    | { type: RecordType.Clear; store: StoreId }
    | { type: RecordType.HandOver; seq: number; packet: Packet }
    | { type: RecordType.Subscriptions; subscriptions: StoredSubscription[] }
    | { type: RecordType.NextSeq; seq: number };

/** Decodes a record body (type byte first); throws when it is not a well-formed record. */
export function decodeRecord(body: Buffer): DecodedRecord {
    const type = body[0] as RecordType;
    switch (type) {
        case RecordType.Enqueue:
            return { type, seq: checkSeq(body.readDoubleLE(1)), message: checkMessage(readObject(body, 9, body.length)) };
        case RecordType.Dequeue:
        case RecordType.NextSeq:
            if (body.length !== 9) throw new Error('bad length');
            return { type, seq: checkSeq(body.readDoubleLE(1)) };
        case RecordType.Put:
            return { type, store: checkStore(body[1]), packet: checkPacket(readObject(body, 2, body.length)) };
        case RecordType.Del:
            if (body.length !== 4) throw new Error('bad length');
            return { type, store: checkStore(body[1]), messageId: messageIdOf({ messageId: body.readUInt16LE(2) }) };
        case RecordType.Clear:
            if (body.length !== 2) throw new Error('bad length');
            return { type, store: checkStore(body[1]) };
        case RecordType.HandOver:
            return { type, seq: checkSeq(body.readDoubleLE(1)), packet: checkPacket(readObject(body, 9, body.length)) };
        case RecordType.Subscriptions: {
            const subscriptions = JSON.parse(body.toString('utf8', 1)) as StoredSubscription[];
            if (!Array.isArray(subscriptions)) throw new Error('bad subscriptions');
            return { type, subscriptions };
        }
        default:
            throw new Error(`unknown record type ${String(type)}`);
    }
}

// ---- The file.

export function fileHeader(): Buffer {
    const header = Buffer.alloc(FILE_HEADER_SIZE);
    FILE_MAGIC.copy(header, 0);
    header.writeUInt32LE(FORMAT_VERSION, 4);
    return header;
}

export type HeaderCheck = 'ok' | 'empty' | 'foreign' | 'version';

/** Whether a file starts as ours. A file shorter than the header is a crash during its creation. */
export function checkFileHeader(buf: Buffer): HeaderCheck {
    if (buf.length < FILE_HEADER_SIZE) {
        // Shorter than a header: ours if what there is matches the start of one.
        return fileHeader().subarray(0, buf.length).equals(buf) ? 'empty' : 'foreign';
    }
    if (!buf.subarray(0, 4).equals(FILE_MAGIC)) return 'foreign';
    if (buf.readUInt32LE(4) !== FORMAT_VERSION) return 'version';
    return 'ok';
}

export interface ScanResult {
    /** Where the valid records end: the first torn or damaged record, or the end of the data. */
    validEnd: number;
}

/**
 * Walks the records after the file header, calling `onRecord` with each body (type byte first) until
 * the data ends or a record is torn or damaged (bad length, bad CRC, or `onRecord` throws on it: a body
 * that does not decode is as damaged as one that fails its CRC). Records before that point have been
 * applied; the one that failed has not (onRecord must check before it changes anything).
 */
export function scanRecords(buf: Buffer, onRecord: (body: Buffer, start: number) => void): ScanResult {
    let offset = FILE_HEADER_SIZE;
    while (offset < buf.length) {
        if (offset + RECORD_OVERHEAD > buf.length) break;
        const bodyLength = buf.readUInt32LE(offset);
        if (bodyLength < 1 || bodyLength > MAX_BODY) break;
        const end = offset + RECORD_OVERHEAD + bodyLength;
        if (end > buf.length) break;
        if (recordCrc(buf, offset, end) !== buf.readUInt32LE(offset + 4)) break;
        try {
            onRecord(buf.subarray(offset + RECORD_OVERHEAD, end), offset);
        } catch {
            break;
        }
        offset = end;
    }
    return { validEnd: Math.min(offset, buf.length) };
}
