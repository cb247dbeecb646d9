/**
 * Reads a broker-config node's properties (named as in Node-RED's core `mqtt-broker` node where the
 * meaning is the same) into what a connection needs, and holds every rule about those properties:
 * the runtime resolves them with these rules and the editor's broker dialog checks them with the same.
 *
 * This module imports nothing and uses nothing a browser lacks (URL, but no Buffer, no process): the
 * editor loads its compiled output without a bundler, as window.MqttWireBrokerSettings
 * (scripts/copy-assets.js builds resources/broker-settings.js from it).
 */
import { ALIYUN_CHECKED_PROPERTIES, aliyunFieldProblem, isAliyun, resolveAliyun } from './aliyun-settings';
import type { AliyunConfigProps, AliyunDevice, AliyunProblemCode } from './aliyun-settings';
// The editor reaches the Alibaba rules through this module (window.MqttWireBrokerSettings).
export { ALIYUN_DEFAULTS, ALIYUN_KEEPALIVE, ALIYUN_SIGN_METHODS, aliyunSecretProblem, isAliyun } from './aliyun-settings';

export type BrokerMode = 'external' | 'embedded';
export type BrokerProtocol = 'mqtt' | 'mqtts' | 'ws' | 'wss';
export type ProtocolVersion = 4 | 5;
export type DurableChoice = 'auto' | 'on' | 'off';

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

/** A week: long enough for a Node-RED that is down over a weekend to find its messages waiting. */
export const DEFAULT_SESSION_EXPIRY = 7 * 24 * 3600;

/** The port each protocol usually listens on: used when neither the Port field nor a URL gives one. */
export const DEFAULT_PORTS: { readonly [protocol in BrokerProtocol]: number } = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };

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

/** What each check box means when a flow (a core node's, say) does not hold it. */
export const FLAG_DEFAULTS = {
    usetls: false,
    verifyservercert: true,
    cleansession: true,
    autoConnect: true,
    queueQoS0: false,
} as const;
export type FlagProperty = keyof typeof FLAG_DEFAULTS;

export const DURABLE_CHOICES: readonly DurableChoice[] = ['auto', 'on', 'off'];
/** What an empty durable-store choice means. */
export const DEFAULT_DURABLE: DurableChoice = 'auto';

export interface NumberRule {
    /** The problem code, and the key of its text in the editor's catalogue (broker-config.validation.*). */
    code: NumberProblemCode;
    /** The property's name in the runtime's error text. */
    what: string;
    min: number;
    max: number;
    /** What an empty field means (for the port: with mqtt://; see DEFAULT_PORTS). */
    fallback: number;
}

/** The properties that hold a whole number, each with its range and its meaning when empty. */
export const NUMBER_RULES = {
    port: { code: 'port', what: 'port', min: 1, max: 65535, fallback: DEFAULT_PORTS.mqtt },
    keepalive: { code: 'keepalive', what: 'keep-alive', min: 0, max: 65535, fallback: 60 },
    sessionExpiry: { code: 'session-expiry', what: 'session expiry', min: 0, max: 0xffffffff, fallback: DEFAULT_SESSION_EXPIRY },
    reconnectDelay: { code: 'reconnect-delay', what: 'reconnect delay', min: 1, max: 3600, fallback: 1 },
    reconnectDelayMax: { code: 'reconnect-delay-max', what: 'longest reconnect delay', min: 1, max: 86400, fallback: 30 },
    maxInflight: { code: 'max-inflight', what: 'messages in flight', min: 1, max: 65535, fallback: 20 },
    queueLimit: { code: 'queue-limit', what: 'queue limit', min: 1, max: 10000000, fallback: 10000 },
} as const satisfies { [property: string]: NumberRule };
export type NumberProperty = keyof typeof NUMBER_RULES;

type NumberProblemCode = 'port' | 'keepalive' | 'session-expiry' | 'reconnect-delay' | 'reconnect-delay-max' | 'max-inflight' | 'queue-limit';
export type SettingsProblemCode =
    | NumberProblemCode
    | 'reconnect-delay-order'
    | 'durable'
    | 'user-props'
    | 'broker-scheme'
    | 'broker-url'
    | 'broker-empty'
    | 'broker-space'
    | 'embedded-list'
    | 'embedded-url'
    | 'wspath'
    | AliyunProblemCode;

export interface SettingsProblem {
    /** Also the key of its text in the editor's catalogue (broker-config.validation.*). */
    code: SettingsProblemCode;
    /** In English, as the runtime reports it. */
    text: string;
    /** The values the text names, for a translation. */
    params: { [name: string]: string | number };
    /**
     * True when the runtime copes with the value (it falls back to a default or completes it) and only
     * the dialog asks for another; false when the runtime refuses to start with it.
     */
    advice: boolean;
}

export class BrokerSettingsError extends Error {
    override name = 'BrokerSettingsError';
    constructor(readonly problem: SettingsProblem) {
        super(problem.text);
    }
}

function refusal(code: SettingsProblemCode, text: string, params: SettingsProblem['params'] = {}): SettingsProblem {
    return { code, text, params, advice: false };
}

function advice(code: SettingsProblemCode, text: string): SettingsProblem {
    return { code, text, params: {}, advice: true };
}

function isEmpty(value: unknown): boolean {
    return value === undefined || value === null || value === '';
}

export function readMode(value: unknown): BrokerMode {
    return value === 'embedded' ? 'embedded' : 'external';
}

/** A check box property: true and 'true' are on; a property the flow lacks means its default. */
export function readFlag(name: FlagProperty, value: unknown): boolean {
    if (isEmpty(value)) return FLAG_DEFAULTS[name];
    return value === true || value === 'true';
}

/** The problem with a whole-number property; null when it is one in its range, or empty (its default). */
export function numberProblem(name: NumberProperty, value: unknown): SettingsProblem | null {
    if (isEmpty(value)) return null;
    const rule: NumberRule = NUMBER_RULES[name];
    const n = Number(value);
    if (Number.isInteger(n) && n >= rule.min && n <= rule.max) return null;
    return refusal(rule.code, `${rule.what} must be a whole number from ${rule.min} to ${rule.max}, not "${value}"`, {
        min: rule.min,
        max: rule.max,
        value: String(value),
    });
}

/** The number a whole-number property holds, `fallback` when it is empty; throws when it is not one in range. */
export function readNumber(name: NumberProperty, value: unknown, fallback: number = NUMBER_RULES[name].fallback): number {
    const problem = numberProblem(name, value);
    if (problem) throw new BrokerSettingsError(problem);
    return isEmpty(value) ? fallback : Number(value);
}

/**
 * The longest reconnect delay may not be shorter than the first. Null when it is not, and when either
 * is not a valid number (numberProblem reports that).
 */
export function reconnectOrderProblem(first: unknown, longest: unknown): SettingsProblem | null {
    if (numberProblem('reconnectDelay', first) || numberProblem('reconnectDelayMax', longest)) return null;
    const firstSeconds = readNumber('reconnectDelay', first);
    const longestSeconds = readNumber('reconnectDelayMax', longest);
    if (longestSeconds >= firstSeconds) return null;
    return refusal(
        'reconnect-delay-order',
        `the longest reconnect delay (${longestSeconds} s) is shorter than the first (${firstSeconds} s)`,
        { first: firstSeconds, max: longestSeconds },
    );
}

/** The durable-store choice (empty means DEFAULT_DURABLE); null for anything else. */
export function durableChoice(value: unknown): DurableChoice | null {
    if (isEmpty(value)) return DEFAULT_DURABLE;
    return (DURABLE_CHOICES as readonly unknown[]).includes(value) ? (value as DurableChoice) : null;
}

export function durableProblem(value: unknown): SettingsProblem | null {
    return durableChoice(value) ? null : refusal('durable', `durable must be auto, on or off, not "${value}"`, { value: String(value) });
}

/** Whether the durable store is on: when chosen, or automatically when clean session is off. */
export function isDurable(choice: unknown, clean: boolean): boolean {
    const chosen = durableChoice(choice);
    return chosen === 'on' || (chosen === 'auto' && !clean);
}

/**
 * The CONNECT user properties of a userProps value: null when empty; a value that is not a string is
 * sent as its JSON, as the core node does. Throws when it is not the JSON of an object.
 */
export function readUserProps(value: unknown): { [name: string]: string } | null {
    if (isEmpty(value)) return null;
    let parsed: unknown;
    try {
        parsed = typeof value === 'string' ? JSON.parse(value) : value;
    } catch {
        parsed = undefined;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new BrokerSettingsError(refusal('user-props', `user properties must be a JSON object such as {"name": "value"}, not ${JSON.stringify(String(value))}`));
    }
    const pairs: { [name: string]: string } = {};
    let count = 0;
    for (const name of Object.keys(parsed)) {
        const v = (parsed as { [name: string]: unknown })[name];
        if (v === undefined || v === null) continue;
        pairs[name] = typeof v === 'string' ? v : JSON.stringify(v);
        count++;
    }
    return count > 0 ? pairs : null;
}

/** The problem with a userProps value, or null. */
export function userPropsProblem(value: unknown): SettingsProblem | null {
    try {
        readUserProps(value);
        return null;
    } catch (err) {
        if (err instanceof BrokerSettingsError) return err.problem;
        throw err;
    }
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
    const address = String(broker ?? '').trim();
    const match = URL_SCHEME.exec(address);
    if (!match) return null;
    const protocol = protocolOfScheme(match[1].toLowerCase());
    if (!protocol) {
        throw new BrokerSettingsError(refusal('broker-scheme', `unknown scheme "${match[1]}" in broker "${address}"`, { scheme: match[1] }));
    }
    let parsed: URL;
    try {
        parsed = new URL(address.replace(URL_SCHEME, 'http://'));
    } catch {
        throw new BrokerSettingsError(refusal('broker-url', `"${address}" is not a valid broker address`, { broker: address }));
    }
    return {
        protocol,
        host: parsed.hostname,
        // A URL says all: without a port it means the scheme's default, whatever the Port field holds.
        port: parsed.port ? Number(parsed.port) : DEFAULT_PORTS[protocol],
        path: parsed.pathname && parsed.pathname !== '/' ? parsed.pathname : '',
    };
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
        parseBrokerUrl(address);
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
