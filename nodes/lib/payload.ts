/** Conversion between msg.payload and the bytes of an MQTT message. */
import { TextDecoder } from 'util';

/**
 * How mqtt-in presents a payload. The values and their meanings are those of Node-RED's core
 * `mqtt in` node: 'auto' is its older default, which never parses JSON.
 */
export type InputDatatype = 'auto' | 'auto-detect' | 'utf8' | 'buffer' | 'json' | 'base64';

const DATATYPES: readonly InputDatatype[] = ['auto', 'auto-detect', 'utf8', 'buffer', 'json', 'base64'];

/** An unset datatype is 'utf8', as in the core node's runtime (its editor proposes 'auto-detect'). */
export function normalizeDatatype(value: unknown): InputDatatype | null {
    if (value === undefined || value === null || value === '') return 'utf8';
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

/** What an MQTT 5 publish declares about its payload; nothing on MQTT 3.1.1. */
export interface PayloadDeclaration {
    contentType?: string;
    payloadFormatIndicator?: boolean;
}

type ContentKind = 'text' | 'json' | 'binary';

/**
 * The content types the core node acts on under 'auto' and 'auto-detect', matched as it matches
 * them: the whole value, ignoring case. Any other value ("text/csv", "application/ld+json",
 * "application/json; charset=utf-8") gets the same treatment as no content type.
 */
const CONTENT_KINDS: ReadonlyMap<string, ContentKind> = new Map<string, ContentKind>([
    ...(['text/css', 'text/html', 'text/plain', 'application/xml'] as const).map((type) => [type, 'text'] as const),
    ['application/json', 'json'],
    ...([
        'application/octet-stream', 'application/pdf', 'application/x-gtar', 'application/x-gzip', 'application/x-tar',
        'application/zip', 'audio/aac', 'audio/ac3', 'audio/basic', 'audio/mp4', 'audio/ogg',
        'image/bmp', 'image/gif', 'image/jpeg', 'image/tiff', 'image/png',
    ] as const).map((type) => [type, 'binary'] as const),
]);

/** The kind a declared content type names, or undefined for none or one the core node does not know. */
function contentKind(contentType: string | undefined): ContentKind | undefined {
    return contentType ? CONTENT_KINDS.get(contentType.toLowerCase()) : undefined;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** An ASCII control character other than tab, line feed and carriage return, or DEL. */
function isControlByte(byte: number): boolean {
    return (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) || byte === 0x7f;
}

/**
 * Whether the core node takes these bytes for text: valid UTF-8 without ASCII control characters
 * other than tab, LF and CR (its UTF-8 test rejects those, so "a\0b" stays a Buffer there).
 */
export function looksLikeText(bytes: Buffer): boolean {
    if (bytes.some(isControlByte)) return false;
    try {
        strictUtf8.decode(bytes);
        return true;
    } catch {
        return false;
    }
}

/**
 * Outcome of a conversion. When it fails the msg is not sent on; `payload` is what the error msg
 * carries so that a Catch node can see what arrived.
 */
export type PayloadResult = { ok: true; payload: unknown } | { ok: false; payload: unknown; error: string };

/**
 * bytes -> msg.payload for a datatype, as the core node converts them:
 * - 'buffer', 'base64', 'utf8': the bytes, their Base64, their UTF-8 decoding (U+FFFD for bad bytes).
 * - 'json': the parsed value; an error when the text does not parse or the bytes are not text.
 * - 'auto' and 'auto-detect': follow an MQTT 5 content type the core node knows (text types give a
 *   string, binary types the Buffer, application/json the text that must parse, else an error);
 *   otherwise text is a string and anything else a Buffer. 'auto-detect' then hands on JSON parsed,
 *   'auto' never does.
 * A payload format indicator of 1 (UTF-8) counts the bytes as text without checking them.
 */
export function bufferToPayload(bytes: Buffer, datatype: InputDatatype, declared: PayloadDeclaration = {}): PayloadResult {
    const declaredText = declared.payloadFormatIndicator === true;
    switch (datatype) {
        case 'buffer':
            return { ok: true, payload: bytes };
        case 'base64':
            return { ok: true, payload: bytes.toString('base64') };
        case 'utf8':
            return { ok: true, payload: bytes.toString('utf8') };
        case 'json': {
            if (!declaredText && !looksLikeText(bytes)) return { ok: false, payload: bytes, error: 'it is not text: not UTF-8, or it holds control characters' };
            const text = bytes.toString('utf8');
            try {
                return { ok: true, payload: JSON.parse(text) };
            } catch (err) {
                return { ok: false, payload: text, error: (err as Error).message };
            }
        }
        case 'auto':
        case 'auto-detect': {
            const parse = datatype === 'auto-detect';
            const kind = contentKind(declared.contentType);
            if (kind === 'binary') return { ok: true, payload: bytes };
            if (kind === 'text') return { ok: true, payload: bytes.toString('utf8') };
            if (kind === 'json') {
                const text = bytes.toString('utf8');
                try {
                    const value: unknown = JSON.parse(text);
                    return { ok: true, payload: parse ? value : text };
                } catch (err) {
                    return { ok: false, payload: text, error: `declared ${declared.contentType}: ${(err as Error).message}` };
                }
            }
            if (!declaredText && !looksLikeText(bytes)) return { ok: true, payload: bytes };
            const text = bytes.toString('utf8');
            if (!parse) return { ok: true, payload: text };
            try {
                return { ok: true, payload: JSON.parse(text) };
            } catch {
                return { ok: true, payload: text };
            }
        }
    }
}
