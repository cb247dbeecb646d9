/**
 * Turns what goes wrong on a connection into a reason a user can act on. Each reason has a code
 * (a key under "broker-config.reason" in the message catalogues), the values its text needs, and
 * an English text for logs, tests and any caller without a catalogue.
 */
export type ReasonCode =
    | 'refused'
    | 'host-not-found'
    | 'timeout'
    | 'not-authorized'
    | 'bad-credentials'
    | 'identifier-rejected'
    | 'server-unavailable'
    | 'unsupported-protocol'
    | 'tls-certificate'
    | 'tls-other'
    | 'tls-reset'
    | 'connection-reset'
    | 'closed'
    | 'closed-soon'
    | 'closed-v5'
    | 'port-in-use'
    | 'listen-failed'
    | 'broker-refused'
    | 'broker-disconnected'
    | 'malformed-packet'
    | 'other';

export interface Reason {
    code: ReasonCode;
    params: Record<string, string>;
    text: string;
}

const ENGLISH: Record<ReasonCode, string> = {
    refused: 'nothing is listening at __address__ - is the broker running?',
    'host-not-found': 'host not found: __host__',
    timeout: 'no answer from __address__ (timed out)',
    'not-authorized': 'not authorized - check the user name and password, and what the broker allows this client',
    'bad-credentials': 'bad user name or password',
    'identifier-rejected': 'the broker rejected the client id',
    'server-unavailable': 'the broker is unavailable',
    'unsupported-protocol': 'the broker does not support this MQTT version',
    'tls-certificate': 'TLS: the server certificate was not accepted (__detail__)',
    'tls-other': 'TLS error: __detail__',
    'tls-reset': 'TLS: the connection was reset before the broker answered - is this a TLS port?',
    'connection-reset': 'the connection was reset',
    closed: 'the connection was closed',
    'closed-soon': 'the broker closed the connection __ms__ ms after accepting it: another client may be using the same client id, or the broker refuses part of the session (RabbitMQ does while the node that holds the client\'s subscriptions is down)',
    'closed-v5': 'the broker closed the connection without answering the MQTT 5 CONNECT: it may speak MQTT 3.1.1 only (as RabbitMQ 3 does) - choose MQTT 3.1.1',
    'port-in-use': 'port __port__ on __host__ is already in use - is another broker running there?',
    'listen-failed': 'cannot listen on __host__:__port__ (__detail__)',
    'broker-refused': 'the broker refused the connection: __detail__',
    'broker-disconnected': 'the broker closed the connection: __detail__',
    'malformed-packet': 'the broker sent a malformed packet: __detail__',
    other: '__detail__',
};

export function reason(code: ReasonCode, params: Record<string, string> = {}): Reason {
    return { code, params, text: fillPlaceholders(ENGLISH[code], params) };
}

/** Replaces Node-RED style `__name__` placeholders. */
export function fillPlaceholders(template: string, params: Record<string, string>): string {
    return template.replace(/__(\w+)__/g, (whole, name: string) => (name in params ? params[name] : whole));
}

// Node's TLS verification failures (err.code); anything else from the TLS layer is 'tls-other'.
const CERTIFICATE_ERRORS = new Set([
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'UNABLE_TO_GET_ISSUER_CERT',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'CERT_HAS_EXPIRED',
    'CERT_NOT_YET_VALID',
    'CERT_REVOKED',
    'CERT_UNTRUSTED',
    'CERT_REJECTED',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'HOSTNAME_MISMATCH',
]);

// CONNACK return codes of MQTT 3.1.1 (section 3.2.2.3) and reason codes of MQTT 5 (3.2.2.2).
const CONNACK_REASONS: Record<number, ReasonCode> = {
    1: 'unsupported-protocol',
    2: 'identifier-rejected',
    3: 'server-unavailable',
    4: 'bad-credentials',
    5: 'not-authorized',
    0x84: 'unsupported-protocol',
    0x85: 'identifier-rejected',
    0x86: 'bad-credentials',
    0x87: 'not-authorized',
    0x88: 'server-unavailable',
    0x89: 'server-unavailable',
};

interface ErrorLike {
    code?: unknown;
    message?: unknown;
    address?: unknown;
    port?: unknown;
    hostname?: unknown;
}

/** Describes a socket, TLS or CONNACK error from MQTT.js (or a listen error of the embedded broker). */
export function describeConnectionError(err: unknown, address: string): Reason {
    const e: ErrorLike = typeof err === 'object' && err !== null ? (err as ErrorLike) : { message: String(err) };
    const message = typeof e.message === 'string' ? e.message : String(err);
    const host = address.replace(/:\d+$/, '');
    if (typeof e.code === 'number') {
        const code = CONNACK_REASONS[e.code];
        if (code) return reason(code);
        return reason('broker-refused', { detail: `${message} (reason code ${e.code})` });
    }
    switch (e.code) {
        case 'ECONNREFUSED':
            return reason('refused', { address });
        case 'ENOTFOUND':
        case 'EAI_AGAIN':
            return reason('host-not-found', { host: typeof e.hostname === 'string' ? e.hostname : host });
        case 'ETIMEDOUT':
            return reason('timeout', { address });
        case 'ECONNRESET':
        case 'EPIPE':
            return reason('connection-reset');
        case 'EHOSTUNREACH':
        case 'ENETUNREACH':
            return reason('other', { detail: `${address} cannot be reached (${e.code})` });
    }
    if (typeof e.code === 'string') {
        if (CERTIFICATE_ERRORS.has(e.code)) return reason('tls-certificate', { detail: message });
        if (e.code.startsWith('ERR_TLS') || e.code.startsWith('ERR_SSL')) return reason('tls-other', { detail: message });
        // OpenSSL's failures during the handshake: "write EPROTO ...:SSL routines:<function>:wrong version number:<file>".
        const openssl = e.code === 'EPROTO' ? /SSL routines:[^:]*:([^:]+)/.exec(message) : null;
        if (openssl) return reason('tls-other', { detail: opensslDetail(openssl[1]) });
    }
    if (/certificate/i.test(message)) return reason('tls-certificate', { detail: message });
    // MQTT.js's own: no CONNACK within connectTimeout, or no PINGRESP within the keep-alive.
    if (message === 'connack timeout' || message === 'Keepalive timeout') return reason('timeout', { address });
    const malformed = e.code === undefined ? describeParserError(message) : null;
    if (malformed !== null) return reason('malformed-packet', { detail: malformed });
    return reason('other', { detail: message });
}

/**
 * A reset before the broker's first answer over TLS (mqtts, wss): what a plain MQTT listener does
 * with a TLS handshake (Mosquitto resets it), so the reason names TLS; any other reason as it is.
 */
export function describeResetOverTls(why: Reason, url: string, answered: boolean): Reason {
    return why.code === 'connection-reset' && !answered && /^(mqtts|wss):/i.test(url) ? reason('tls-reset') : why;
}

/** OpenSSL's reason in words; a server that answers a handshake with something else does not speak TLS there. */
function opensslDetail(openssl: string): string {
    return openssl === 'wrong version number' ? 'the server does not answer in TLS (wrong version number) - is this a TLS port?' : openssl;
}

/**
 * The errors of mqtt-packet's parser (MQTT.js 5 passes them on as 'error', without a code), each a
 * packet that breaks the protocol, in words; null for any other message.
 */
export function describeParserError(message: string): string | null {
    if (message === 'Packet must not have both QoS bits set to 1') return 'a PUBLISH with QoS 3';
    const flags = /^Invalid header flag bits, must be 0x[0-9a-f]+ for (\w+) packet$/.exec(message);
    if (flags) return `a ${flags[1].toUpperCase()} with reserved header flags set wrong`;
    if (PARSER_ERROR.test(message)) return `a packet that cannot be parsed (${message})`;
    return null;
}

// How the other messages of mqtt-packet 9's parser begin (none of MQTT.js's own begins so).
const PARSER_ERROR = /^(Invalid |Cannot parse |Malformed |Packet too short$|Not supported|Unknown property$|Connect flag |Will (Retain|QoS) )/;

/**
 * Why a link closed without an error. A broker that speaks MQTT 3.1.1 only may close the connection
 * on an MQTT 5 CONNECT without a CONNACK (RabbitMQ 3.x does, without a word).
 */
export function describeClose(wasConnected: boolean, protocolVersion: number): Reason {
    return !wasConnected && protocolVersion === 5 ? reason('closed-v5') : reason('closed');
}

/** Describes why the embedded broker could not listen. */
export function describeListenError(err: unknown, host: string, port: number): Reason {
    const e: ErrorLike = typeof err === 'object' && err !== null ? (err as ErrorLike) : { message: String(err) };
    if (e.code === 'EADDRINUSE') return reason('port-in-use', { host, port: String(port) });
    const detail = typeof e.message === 'string' ? e.message : String(err);
    return reason('listen-failed', { host, port: String(port), detail });
}

/** Reason codes a broker puts in SUBACK/PUBACK/PUBREC/DISCONNECT (MQTT 5 section 2.4); 3.1.1 SUBACK failure is 0x80. */
const ACK_REASON_TEXT: Record<number, string> = {
    0x80: 'unspecified error',
    0x81: 'malformed packet',
    0x82: 'protocol error',
    0x83: 'implementation specific error',
    0x87: 'not authorized',
    0x89: 'server busy',
    0x8b: 'server shutting down',
    0x8d: 'keep alive timeout',
    0x8e: 'session taken over',
    0x8f: 'topic filter invalid',
    0x90: 'topic name invalid',
    0x91: 'packet identifier in use',
    0x93: 'receive maximum exceeded',
    0x94: 'topic alias invalid',
    0x95: 'packet too large',
    0x96: 'message rate too high',
    0x97: 'quota exceeded',
    0x98: 'administrative action',
    0x99: 'payload format invalid',
    0x9a: 'retain not supported',
    0x9b: 'QoS not supported',
    0x9c: 'use another server',
    0x9d: 'server moved',
    0x9e: 'shared subscriptions not supported',
    0x9f: 'connection rate exceeded',
    0xa0: 'maximum connect time',
    0xa1: 'subscription identifiers not supported',
    0xa2: 'wildcard subscriptions not supported',
};

export function describeAckReason(code: number): string {
    const text = ACK_REASON_TEXT[code];
    return text ? `${text} (reason code 0x${code.toString(16)})` : `reason code 0x${code.toString(16)}`;
}

/** A broker's DISCONNECT (MQTT 5) in words; a broker without shared subscriptions sends 0x9E for a $share filter. */
export function describeDisconnect(code: number): Reason {
    const detail = code === 0x9e ? `it does not do shared subscriptions ($share/...) (reason code 0x9e)` : describeAckReason(code);
    return reason('broker-disconnected', { detail });
}

/**
 * Why a SUBSCRIBE got no SUBACK (MQTT.js's error, "Connection closed" when the link went first). A
 * broker without shared subscriptions closes the link on a $share filter, with no reason on MQTT 3.1.1.
 */
export function describeUnansweredSubscribe(filter: string, message: string): string {
    if (message === 'Connection closed' && filter.startsWith('$share/')) {
        return 'the broker closed the connection instead of answering - does it do shared subscriptions ($share/...)?';
    }
    return message;
}
