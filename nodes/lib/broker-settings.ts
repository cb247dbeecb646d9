/**
 * Reads a broker-config node's properties (named as in Node-RED's core `mqtt-broker` node where the
 * meaning is the same) into what a connection needs, and holds every rule about those properties:
 * the runtime resolves them with these rules and the editor's broker dialog checks them with the same.
 *
 * This module imports only modules of nodes/lib/ that import nothing (settings-values.ts,
 * aliyun-settings.ts) and uses nothing a browser lacks (URL, but no Buffer, no process): the editor
 * loads its compiled output without a bundler, as window.MqttWireBrokerSettings
 * (scripts/copy-assets.js builds resources/broker-settings.js from it, those modules built in).
 */
import { ALIYUN_CHECKED_PROPERTIES, aliyunFieldProblem, isAliyun, resolveAliyun } from './aliyun-settings';
import type { AliyunConfigProps, AliyunDevice } from './aliyun-settings';
import { advice, BrokerSettingsError, DEFAULT_PORTS, durableProblem, isDurable, isEmpty, numberProblem, readFlag, readNumber, readUserProps, reconnectOrderProblem, refusal, userPropsProblem } from './settings-values';
import type { BrokerProtocol, SettingsProblem } from './settings-values';
// The editor reaches the rules of single values through this module too.
export { BrokerSettingsError, DEFAULT_DURABLE, DEFAULT_PORTS, DEFAULT_SESSION_EXPIRY, DURABLE_CHOICES, durableChoice, durableProblem, FLAG_DEFAULTS, isDurable, NUMBER_RULES, numberProblem, readFlag, readNumber, readUserProps, reconnectOrderProblem, userPropsProblem } from './settings-values';
export type { BrokerProtocol, DurableChoice, FlagProperty, NumberProperty, NumberRule, SettingsProblem, SettingsProblemCode } from './settings-values';
// The editor reaches the Alibaba rules through this module (window.MqttWireBrokerSettings).
export { ALIYUN_DEFAULTS, ALIYUN_KEEPALIVE, ALIYUN_SIGN_METHODS, aliyunSecretProblem, isAliyun } from './aliyun-settings';

export type BrokerMode = 'external' | 'embedded';
export type ProtocolVersion = 4 | 5;

export interface BrokerConfigProps extends AliyunConfigProps {
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
    /** MQTT 5 user properties sent in CONNECT: the JSON of an object of name/value pairs (the core node's name). */
    userProps?: string;
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
    /** MQTT 5 only: the user properties of the CONNECT packet; null for none. */
    connectUserProperties: { [name: string]: string } | null;
    /** Alibaba Cloud IoT mode: the device the connection signs for (aliyun-iot.ts); null otherwise. */
    aliyun: AliyunDevice | null;
}


/** URL schemes a broker address may start with, and the protocol each one means. */
export const SCHEMES: { readonly [scheme: string]: BrokerProtocol } = {
    mqtt: 'mqtt',
    tcp: 'mqtt',
    mqtts: 'mqtts',
    ssl: 'mqtts',
    tls: 'mqtts',
    ws: 'ws',
    wss: 'wss',
};

/** The host when the Broker field is empty: the embedded broker listens on this machine only. */
export const DEFAULT_HOSTS: { readonly [mode in BrokerMode]: string } = { external: 'localhost', embedded: '127.0.0.1' };

export const DEFAULT_WS_PATH = '/mqtt';


export function readMode(value: unknown): BrokerMode {
    return value === 'embedded' ? 'embedded' : 'external';
}


/** The protocol a scheme or a Protocol field names (as written, lower case), or null. */
export function protocolOfScheme(scheme: unknown): BrokerProtocol | null {
    const key = String(scheme ?? '');
    return Object.prototype.hasOwnProperty.call(SCHEMES, key) ? SCHEMES[key] : null;
}

/** The protocol of the Protocol field, or in a core flow of its usetls check box. A URL in the Broker field overrides it. */
export function fieldProtocol(props: Pick<BrokerConfigProps, 'protocol' | 'usetls'>): BrokerProtocol {
    return protocolOfScheme(props.protocol) ?? (readFlag('usetls', props.usetls) ? 'mqtts' : 'mqtt');
}

export function usesTls(protocol: unknown): boolean {
    return protocol === 'mqtts' || protocol === 'wss';
}

/** MQTT 5 only when asked for, and never for the embedded broker: aedes speaks MQTT 3.1.1 only. */
export function readProtocolVersion(value: unknown, mode: BrokerMode): ProtocolVersion {
    return mode === 'embedded' || Number(value ?? 4) !== 5 ? 4 : 5;
}

/** The session expiry interval is sent on MQTT 5 without a clean session only. */
export function sendsSessionExpiry(settings: Pick<BrokerSettings, 'protocolVersion' | 'clean'>): boolean {
    return settings.protocolVersion === 5 && !settings.clean;
}

const URL_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** The scheme, in lower case, when the Broker field holds a URL ("mqtts://host:8883"); null for a plain host. */
export function brokerUrlScheme(broker: unknown): string | null {
    const match = URL_SCHEME.exec(String(broker ?? '').trim());
    return match ? match[1].toLowerCase() : null;
}

export interface BrokerUrl {
    protocol: BrokerProtocol;
    host: string;
    port: number;
    /** '' when the URL has none. */
    path: string;
}

/**
 * A core flow may hold a whole URL in `broker` ("mqtts://host:8883", "ws://host/mqtt"). Null for a
 * plain host; throws on an unknown scheme and on a URL that does not parse.
 */
export function parseBrokerUrl(broker: unknown): BrokerUrl | null {
    const raw = String(broker ?? '').trim();
    const match = URL_SCHEME.exec(raw);
    if (!match) return null;
    // What the messages below show of the address: never a password in it.
    const address = withoutUserInfo(raw);
    const protocol = protocolOfScheme(match[1].toLowerCase());
    if (!protocol) {
        throw new BrokerSettingsError(refusal('broker-scheme', `unknown scheme "${match[1]}" in broker "${address}"`, { scheme: match[1] }));
    }
    let parsed: URL;
    try {
        parsed = new URL(raw.replace(URL_SCHEME, 'http://'));
    } catch {
        throw new BrokerSettingsError(refusal('broker-url', `"${address}" is not a valid broker address`, { broker: address }));
    }
    // MQTT.js would log in with them, as the core node does; here they would sit in the flow JSON.
    if (parsed.username || parsed.password) {
        throw new BrokerSettingsError(refusal('broker-userinfo', `the broker address "${address}" holds a user name or password, which would be stored in the flow: enter them in the User name and Password fields, which Node-RED keeps as credentials`, { broker: address }));
    }
    return {
        protocol,
        // An IPv6 host keeps its brackets in a URL's hostname; the address adds them again.
        host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
        // A URL says all: without a port it means the scheme's default, whatever the Port field holds.
        port: parsed.port ? Number(parsed.port) : DEFAULT_PORTS[protocol],
        path: parsed.pathname && parsed.pathname !== '/' ? parsed.pathname : '',
    };
}

/**
 * The host of a Broker line that is not a URL: an IPv6 address may come in brackets ("[::1]"). A
 * port after the host ("localhost:1883") is refused in words: the core node, too, would only look
 * for a host of that name.
 */
export function plainHost(line: string): string {
    const bracketed = /^\[([^\]]+)\]$/.exec(line);
    if (bracketed) return bracketed[1];
    const withPort = /^(\[[^\]]+\]|[^:[\]]+):(\d*)$/.exec(line);
    if (withPort) {
        throw new BrokerSettingsError(
            refusal('broker-host-port', `"${line}" has a port after the host: write the port in the Port field, or a whole URL such as mqtt://${withPort[1]}:${withPort[2] || '1883'}`),
        );
    }
    return line;
}

const USER_INFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i;

/** The address with any `user:password@` before its host shown as `***@`. */
export function withoutUserInfo(address: string): string {
    return address.replace(USER_INFO, '$1***@');
}

/** The address with any `user:password@` before its host taken out. */
export function removeUserInfo(address: string): string {
    return address.replace(USER_INFO, '$1');
}

/**
 * The Broker field holds one broker a line: the first is where the client connects, the others are
 * alternatives it moves to (broker-list.ts). Its lines, trimmed, without the empty ones.
 */
export function brokerLines(broker: unknown): string[] {
    return String(broker ?? '')
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter((line) => line !== '');
}

/** What is wrong with the Broker field: the runtime's refusals first, then advice where the runtime copes. Each line is checked. */
export function brokerProblem(broker: unknown, mode: unknown): SettingsProblem | null {
    const lines = brokerLines(broker);
    if (lines.length > 1 && readMode(mode) === 'embedded') return advice('embedded-list', 'an embedded broker listens on one address: remove the other lines');
    for (const line of lines.length > 0 ? lines : ['']) {
        const problem = brokerLineProblem(line, mode);
        if (problem) return problem;
    }
    return null;
}

function brokerLineProblem(address: string, mode: unknown): SettingsProblem | null {
    if (address === '') return advice('broker-empty', 'enter the host name or address of the broker');
    try {
        if (!parseBrokerUrl(address)) plainHost(address);
    } catch (err) {
        if (err instanceof BrokerSettingsError) return err.problem;
        throw err;
    }
    if (readMode(mode) === 'embedded' && brokerUrlScheme(address)) {
        return advice('embedded-url', 'an embedded broker listens on an address such as 127.0.0.1 or 0.0.0.0, not on a URL');
    }
    if (/\s/.test(address)) return advice('broker-space', 'a host name cannot contain spaces');
    return null;
}

/** The runtime puts a '/' before a WebSocket path without one; the dialog asks for it. */
export function wspathProblem(value: unknown): SettingsProblem | null {
    if (isEmpty(value) || String(value).charAt(0) === '/') return null;
    return advice('wspath', "the path must start with '/'");
}

/**
 * What the broker dialog says about property `name`, given all the properties (the others decide
 * whether it is read at all): a problem, or null.
 */
export function propertyProblem(name: string, props: BrokerConfigProps): SettingsProblem | null {
    if (name.startsWith('aliyun')) return isAliyun(props) ? aliyunFieldProblem(name, props) : null;
    if (isAliyun(props) && (name === 'broker' || name === 'port' || name === 'wspath')) return null;
    if (isAliyun(props) && name === 'keepalive') return aliyunFieldProblem(name, props);
    switch (name) {
        case 'broker':
            return brokerProblem(props.broker, props.mode);
        case 'port': {
            // The Port field serves the lines that are not URLs.
            const lines = brokerLines(props.broker);
            return lines.length > 0 && lines.every((line) => brokerUrlScheme(line) !== null) ? null : numberProblem('port', props.port);
        }
        case 'wspath':
            return wspathProblem(props.wspath);
        case 'reconnectDelayMax':
            return numberProblem('reconnectDelayMax', props.reconnectDelayMax) ?? reconnectOrderProblem(props.reconnectDelay, props.reconnectDelayMax);
        case 'sessionExpiry':
            return readFlag('cleansession', props.cleansession) ? null : numberProblem('sessionExpiry', props.sessionExpiry);
        case 'durable':
            return durableProblem(props.durable);
        case 'userProps':
            // Sent on MQTT 5 only.
            return readProtocolVersion(props.protocolVersion, readMode(props.mode)) === 5 ? userPropsProblem(props.userProps) : null;
        case 'keepalive':
        case 'reconnectDelay':
        case 'maxInflight':
        case 'queueLimit':
            return numberProblem(name, props[name]);
        default:
            return null;
    }
}

/** The properties propertyProblem has something to say about. */
export const CHECKED_PROPERTIES: readonly string[] = [
    'broker',
    'port',
    'wspath',
    'keepalive',
    'sessionExpiry',
    'reconnectDelay',
    'reconnectDelayMax',
    'maxInflight',
    'queueLimit',
    'durable',
    'userProps',
    ...ALIYUN_CHECKED_PROPERTIES,
];

export function resolveBrokerSettings(props: BrokerConfigProps): BrokerSettings {
    const mode = readMode(props.mode);
    const aliyun = isAliyun(props) ? resolveAliyun(props) : null;
    if (aliyun && 'problem' in aliyun) throw new BrokerSettingsError(aliyun.problem);
    // The first broker; broker-list.ts resolves each of the others with these same rules, and they must resolve.
    const lines = aliyun ? [] : brokerLines(props.broker);
    if (mode === 'external') for (const other of lines.slice(1)) resolveBrokerSettings({ ...props, broker: other });
    let host = aliyun ? aliyun.target.host : (lines[0] ?? DEFAULT_HOSTS[mode]);
    let protocol = aliyun ? aliyun.target.protocol : fieldProtocol(props);
    let path = typeof props.wspath === 'string' ? props.wspath : '';
    const url = aliyun ? null : parseBrokerUrl(host);
    if (url) {
        protocol = url.protocol;
        host = url.host;
        if (url.path) path = url.path;
    } else if (!aliyun) {
        host = plainHost(host);
    }
    if (mode === 'embedded') protocol = 'mqtt';
    const port = aliyun ? aliyun.target.port : url ? url.port : readNumber('port', props.port, DEFAULT_PORTS[protocol]);
    if (protocol === 'ws' || protocol === 'wss') {
        if (!path) path = DEFAULT_WS_PATH;
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

    const clean = readFlag('cleansession', props.cleansession);
    const reconnectDelay = readNumber('reconnectDelay', props.reconnectDelay);
    const reconnectDelayMax = readNumber('reconnectDelayMax', props.reconnectDelayMax);
    const order = reconnectOrderProblem(props.reconnectDelay, props.reconnectDelayMax);
    if (order) throw new BrokerSettingsError(order);
    const durable = durableProblem(props.durable);
    if (durable) throw new BrokerSettingsError(durable);
    const protocolVersion = readProtocolVersion(props.protocolVersion, mode);
    const connectUserProperties = protocolVersion === 5 ? readUserProps(props.userProps) : null;
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
        clientId: aliyun ? aliyun.target.device.clientId : String(props.clientid ?? '').trim(),
        keepalive: readNumber('keepalive', props.keepalive),
        clean,
        autoConnect: readFlag('autoConnect', props.autoConnect),
        verifyServerCert: readFlag('verifyservercert', props.verifyservercert),
        usesTls: usesTls(protocol),
        sessionExpiry: clean ? 0 : readNumber('sessionExpiry', props.sessionExpiry),
        reconnectDelayMs: reconnectDelay * 1000,
        reconnectDelayMaxMs: reconnectDelayMax * 1000,
        maxInflight: readNumber('maxInflight', props.maxInflight),
        queueLimit: readNumber('queueLimit', props.queueLimit),
        queueQoS0: readFlag('queueQoS0', props.queueQoS0),
        durable: isDurable(props.durable, clean),
        connectUserProperties,
        aliyun: aliyun ? aliyun.target.device : null,
    };
}
