/** Conversion between msg.payload and the bytes of an MQTT message. */
import { TextDecoder } from 'util';

/** How mqtt-in presents a payload; the values are those of Node-RED's core `mqtt in` node. */
export type InputDatatype = 'auto-detect' | 'utf8' | 'buffer' | 'json' | 'base64';

const DATATYPES: readonly InputDatatype[] = ['auto-detect', 'utf8', 'buffer', 'json', 'base64'];

/** Accepts the core node's legacy 'auto' and an unset value as 'auto-detect'. */
export function normalizeDatatype(value: unknown): InputDatatype | null {
    if (value === undefined || value === null || value === '' || value === 'auto') return 'auto-detect';
    return DATATYPES.includes(value as InputDatatype) ? (value as InputDatatype) : null;
}

export class PayloadError extends Error {
    override name = 'PayloadError';
}

/**
 * msg.payload -> bytes: a Buffer as it is, a string as UTF-8, an object or array as JSON, a number,
 * boolean or bigint as its text, null and undefined as an empty payload. Throws PayloadError for
 * what has no faithful byte form (a function, a symbol, an object JSON cannot hold).
 */
export function payloadToBuffer(payload: unknown): Buffer {
    if (Buffer.isBuffer(payload)) return payload;
    switch (typeof payload) {
        case 'string':
            return Buffer.from(payload, 'utf8');
        case 'number':
        case 'boolean':
        case 'bigint':
            return Buffer.from(String(payload), 'utf8');
        case 'undefined':
            return Buffer.alloc(0);
        case 'object': {
            if (payload === null) return Buffer.alloc(0);
            if (ArrayBuffer.isView(payload)) {
                return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
            }
            if (payload instanceof ArrayBuffer) return Buffer.from(payload);
            let json: string | undefined;
            try {
                json = JSON.stringify(payload);
            } catch (err) {
                throw new PayloadError(`it cannot be written as JSON (${(err as Error).message})`);
            }
            return Buffer.from(json ?? '', 'utf8');
        }
        default:
            throw new PayloadError(`a ${typeof payload} has no MQTT payload form`);
    }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The payload as text when it is valid UTF-8, else null. */
function decodeUtf8(bytes: Buffer): string | null {
    try {
        return strictUtf8.decode(bytes);
    } catch {
        return null;
    }
}

export type PayloadResult = { ok: true; payload: unknown } | { ok: false; payload: unknown; error: string };

/**
 * bytes -> msg.payload for a datatype. 'auto-detect' behaves as the core node's: valid UTF-8 that
 * parses as JSON becomes the parsed value, other UTF-8 a string, anything else a Buffer. Under
 * 'json' a payload that does not parse is an error; the result then carries the raw text (or the
 * Buffer, when it is not even UTF-8) so the flow can still see what arrived.
 */
export function bufferToPayload(bytes: Buffer, datatype: InputDatatype): PayloadResult {
    switch (datatype) {
        case 'buffer':
            return { ok: true, payload: bytes };
        case 'base64':
            return { ok: true, payload: bytes.toString('base64') };
        case 'utf8':
            return { ok: true, payload: bytes.toString('utf8') };
        case 'json': {
            const text = decodeUtf8(bytes);
            if (text === null) return { ok: false, payload: bytes, error: 'it is not UTF-8 text' };
            try {
                return { ok: true, payload: JSON.parse(text) };
            } catch (err) {
                return { ok: false, payload: text, error: (err as Error).message };
            }
        }
        case 'auto-detect': {
            const text = decodeUtf8(bytes);
            if (text === null) return { ok: true, payload: bytes };
            try {
                return { ok: true, payload: JSON.parse(text) };
            } catch {
                return { ok: true, payload: text };
            }
        }
    }
}
