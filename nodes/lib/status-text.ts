/**
 * A node status that the editor shows in its own language. The editor passes a status text through
 * its catalogues as a bare key, without parameters; a status such as "connected to 127.0.0.1:1883"
 * needs them. So the status text carries the catalogue keys with their parameters, as JSON, and both
 * the runtime (for its log) and the editor (resources/status-text.js, for the canvas) render it with
 * their own catalogue through `renderStatus`.
 *
 * Shape: a list of parts, shown joined by " - ". A part is a literal string, or `[key, params]` with
 * a full catalogue key ("broker-config.status.connected") and parameters that are parts again.
 * Imports nothing: the editor loads it as is.
 */

export type StatusPart = string | [key: string, params?: { [name: string]: StatusPart }];
export type Translate = (key: string, params: Record<string, string>) => string;

export const STATUS_SEPARATOR = ' - ';

/** The text for a node's status (`node.status({ text })`). */
export function encodeStatus(parts: StatusPart[]): string {
    return JSON.stringify(parts);
}

function isPart(value: unknown): value is StatusPart {
    if (typeof value === 'string') return true;
    if (!Array.isArray(value) || value.length < 1 || value.length > 2 || typeof value[0] !== 'string') return false;
    if (value.length === 1) return true;
    const params = value[1] as unknown;
    if (params === null || typeof params !== 'object' || Array.isArray(params)) return false;
    return Object.values(params as object).every(isPart);
}

/** The parts of a status text made by `encodeStatus`; null for any other text. */
export function decodeStatus(text: unknown): StatusPart[] | null {
    if (typeof text !== 'string' || text.charAt(0) !== '[') return null;
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch {
        return null;
    }
    return Array.isArray(parsed) && parsed.every(isPart) ? (parsed as StatusPart[]) : null;
}

function renderPart(part: StatusPart, translate: Translate): string {
    if (typeof part === 'string') return part;
    const params: Record<string, string> = {};
    for (const [name, value] of Object.entries(part[1] ?? {})) params[name] = renderPart(value, translate);
    return translate(part[0], params);
}

/** The status in words, each key translated by `translate`. */
export function renderStatus(parts: StatusPart[], translate: Translate): string {
    return parts.map((part) => renderPart(part, translate)).join(STATUS_SEPARATOR);
}
