/**
 * Reads a broker-config node's properties (named as in Node-RED's core `mqtt-broker` node where the
 * meaning is the same) into what a connection needs. Pure: no Node-RED, no sockets.
 */
export type BrokerMode = 'external' | 'embedded';
export type BrokerProtocol = 'mqtt' | 'mqtts' | 'ws' | 'wss';
export type ProtocolVersion = 4 | 5;

export interface BrokerConfigProps {
    mode?: string;
    broker?: string;
    port?: string | number;
    protocol?: string;
    wspath?: string;
    usetls?: boolean | string;
    verifyservercert?: boolean | string;
    clientid?: string;
    keepalive?: string | number;
    cleansession?: boolean | string;
    protocolVersion?: string | number;
    autoConnect?: boolean | string;
    /** MQTT 5 session expiry interval in seconds (the core node's name). */
    sessionExpiry?: string | number;
    /** Seconds before the first reconnect attempt; it doubles up to reconnectDelayMax. */
    reconnectDelay?: string | number;
    reconnectDelayMax?: string | number;
    /** QoS 1/2 messages in flight at most (MQTT 3.1.1; MQTT 5 also obeys the broker's Receive Maximum). */
    maxInflight?: string | number;
    /** Messages waiting to be sent at most. */
    queueLimit?: string | number;
    /** Keep QoS 0 messages while disconnected too. */
    queueQoS0?: boolean | string;
    /** Keep QoS 1/2 state on disk: "auto" (when clean session is off), "on" or "off". */
    durable?: string;
}

export interface BrokerSettings {
    mode: BrokerMode;
    protocol: BrokerProtocol;
    /** Where the client connects. */
    host: string;
    port: number;
    /** WebSocket path, '' for mqtt/mqtts. */
    path: string;
    url: string;
    /** host:port, for status texts. */
    address: string;
    /** For the embedded broker: the address it listens on. */
    listenHost: string;
    protocolVersion: ProtocolVersion;
    /** '' means: the caller generates one. */
    clientId: string;
    keepalive: number;
    clean: boolean;
    autoConnect: boolean;
    /** Verify the server certificate when no tls-config node says otherwise. */
    verifyServerCert: boolean;
    usesTls: boolean;
    /** MQTT 5 only: how long the broker keeps a persistent session after a disconnect; 0 for a clean one. */
    sessionExpiry: number;
    reconnectDelayMs: number;
    reconnectDelayMaxMs: number;
    maxInflight: number;
    queueLimit: number;
    queueQoS0: boolean;
    /** Keep the outbox and QoS 1/2 state in a file in the Node-RED user directory. */
    durable: boolean;
}

/** A week: long enough for a Node-RED that is down over a weekend to find its messages waiting. */
export const DEFAULT_SESSION_EXPIRY = 7 * 24 * 3600;

const DEFAULT_PORTS: Record<BrokerProtocol, number> = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };
const SCHEMES: Record<string, BrokerProtocol> = {
    mqtt: 'mqtt',
    tcp: 'mqtt',
    mqtts: 'mqtts',
    ssl: 'mqtts',
    tls: 'mqtts',
    ws: 'ws',
    wss: 'wss',
};

export class BrokerSettingsError extends Error {
    override name = 'BrokerSettingsError';
}

function flag(value: unknown, fallback: boolean): boolean {
    if (value === undefined || value === null || value === '') return fallback;
    return value === true || value === 'true';
}

function wholeNumber(value: unknown, what: string, min: number, max: number, fallback: number): number {
    if (value === undefined || value === null || value === '') return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) {
        throw new BrokerSettingsError(`${what} must be a whole number from ${min} to ${max}, not "${value}"`);
    }
    return n;
}

export function resolveBrokerSettings(props: BrokerConfigProps): BrokerSettings {
    const mode: BrokerMode = props.mode === 'embedded' ? 'embedded' : 'external';
    let host = String(props.broker ?? '').trim() || (mode === 'embedded' ? '127.0.0.1' : 'localhost');
    let protocol: BrokerProtocol | undefined = SCHEMES[String(props.protocol ?? '')];
    let port: number | undefined;
    let path = typeof props.wspath === 'string' ? props.wspath : '';

    // A core flow may hold a whole URL in `broker` ("mqtts://host:8883", "ws://host/mqtt").
    const urlMatch = /^([a-z]+):\/\//i.exec(host);
    if (urlMatch) {
        const scheme = SCHEMES[urlMatch[1].toLowerCase()];
        if (!scheme) throw new BrokerSettingsError(`unknown scheme "${urlMatch[1]}" in broker "${host}"`);
        let parsed: URL;
        try {
            parsed = new URL(host.replace(/^[a-z]+:/i, 'http:'));
        } catch {
            throw new BrokerSettingsError(`"${host}" is not a valid broker address`);
        }
        protocol = scheme;
        host = parsed.hostname;
        // A URL says all: without a port it means the scheme's default, whatever the Port field holds.
        port = parsed.port ? Number(parsed.port) : DEFAULT_PORTS[scheme];
        if (parsed.pathname && parsed.pathname !== '/') path = parsed.pathname;
    }
    if (!protocol) protocol = flag(props.usetls, false) ? 'mqtts' : 'mqtt';
    if (mode === 'embedded') protocol = 'mqtt';
    if (port === undefined) port = wholeNumber(props.port, 'port', 1, 65535, DEFAULT_PORTS[protocol]);
    if (protocol === 'ws' || protocol === 'wss') {
        if (!path) path = '/mqtt';
        if (!path.startsWith('/')) path = '/' + path;
    } else {
        path = '';
    }

    let listenHost = '';
    if (mode === 'embedded') {
        listenHost = host === 'localhost' ? '127.0.0.1' : host;
        // A broker listening on every interface is still reached through loopback from here.
        host = listenHost === '0.0.0.0' || listenHost === '::' ? '127.0.0.1' : listenHost;
    }

    const version = Number(props.protocolVersion ?? 4);
    // aedes speaks MQTT 3.1.1 only.
    const protocolVersion: ProtocolVersion = mode === 'embedded' || version !== 5 ? 4 : 5;
    const clean = flag(props.cleansession, true);
    const reconnectDelay = wholeNumber(props.reconnectDelay, 'reconnect delay', 1, 3600, 1);
    const reconnectDelayMax = wholeNumber(props.reconnectDelayMax, 'longest reconnect delay', 1, 86400, 30);
    if (reconnectDelayMax < reconnectDelay) {
        throw new BrokerSettingsError(`the longest reconnect delay (${reconnectDelayMax} s) is shorter than the first (${reconnectDelay} s)`);
    }
    const durableChoice = props.durable === undefined || props.durable === '' ? 'auto' : String(props.durable);
    if (!['auto', 'on', 'off'].includes(durableChoice)) throw new BrokerSettingsError(`durable must be auto, on or off, not "${props.durable}"`);
    const bracketedHost = host.includes(':') ? `[${host}]` : host;
    const address = `${bracketedHost}:${port}`;
    return {
        mode,
        protocol,
        host,
        port,
        path,
        url: `${protocol}://${address}${path}`,
        address,
        listenHost,
        protocolVersion,
        clientId: String(props.clientid ?? '').trim(),
        keepalive: wholeNumber(props.keepalive, 'keep-alive', 0, 65535, 60),
        clean,
        autoConnect: flag(props.autoConnect, true),
        verifyServerCert: flag(props.verifyservercert, true),
        usesTls: protocol === 'mqtts' || protocol === 'wss',
        sessionExpiry: clean ? 0 : wholeNumber(props.sessionExpiry, 'session expiry', 0, 0xffffffff, DEFAULT_SESSION_EXPIRY),
        reconnectDelayMs: reconnectDelay * 1000,
        reconnectDelayMaxMs: reconnectDelayMax * 1000,
        maxInflight: wholeNumber(props.maxInflight, 'messages in flight', 1, 65535, 20),
        queueLimit: wholeNumber(props.queueLimit, 'queue limit', 1, 10000000, 10000),
        queueQoS0: flag(props.queueQoS0, false),
        durable: durableChoice === 'on' || (durableChoice === 'auto' && !clean),
    };
}
