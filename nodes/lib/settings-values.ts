/**
 * The rules for the single values of a broker config: the check boxes, the whole numbers and their
 * ranges, the durable-store choice and the MQTT 5 user properties, and the problem each reports
 * (in English for the runtime, with a catalogue code for the editor). Part of broker-settings.ts,
 * which re-exports what the editor uses; imports nothing, so the editor's copy is built in.
 */
import type { AliyunProblemCode } from './aliyun-settings';

export type BrokerProtocol = 'mqtt' | 'mqtts' | 'ws' | 'wss';
export type DurableChoice = 'auto' | 'on' | 'off';

/** A week: long enough for a Node-RED that is down over a weekend to find its messages waiting. */
export const DEFAULT_SESSION_EXPIRY = 7 * 24 * 3600;

/** The port each protocol usually listens on: used when neither the Port field nor a URL gives one. */
export const DEFAULT_PORTS: { readonly [protocol in BrokerProtocol]: number } = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };

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
    | 'broker-userinfo'
    | 'broker-host-port'
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

export function refusal(code: SettingsProblemCode, text: string, params: SettingsProblem['params'] = {}): SettingsProblem {
    return { code, text, params, advice: false };
}

export function advice(code: SettingsProblemCode, text: string): SettingsProblem {
    return { code, text, params: {}, advice: true };
}

export function isEmpty(value: unknown): boolean {
    return value === undefined || value === null || value === '';
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
