/**
 * The Alibaba Cloud IoT authentication mode of a broker-config (`auth: "aliyun"`): the rules about its
 * fields and where they lead (the platform's host, port and TLS). broker-settings.ts calls these while it
 * resolves a configuration and while the dialog checks a field; the signing itself is in aliyun-iot.ts.
 *
 * Like broker-settings.ts this module imports nothing at run time and uses nothing a browser lacks:
 * scripts/copy-assets.js builds it into resources/broker-settings.js for the editor.
 */
import type { SettingsProblem } from './broker-settings';

export type AliyunSignMethod = 'hmacsha256' | 'hmacsha1' | 'hmacmd5';
export type AliyunSecureMode = 2 | 3;

export interface AliyunConfigProps {
    /** 'aliyun' for Alibaba Cloud IoT; anything else is a plain user name and password. */
    auth?: string;
    aliyunRegion?: string;
    aliyunProductKey?: string;
    aliyunDeviceName?: string;
    /** An instance's own endpoint, `host` or `host:port` (Enterprise Edition instances); empty: the public one of the region. */
    aliyunEndpoint?: string;
    aliyunSignMethod?: string;
    /** '2': TLS, '3': plain TCP, as the platform's securemode. */
    aliyunSecureMode?: string | number;
}

/** What the connection signs with, all but the DeviceSecret (a credential). */
export interface AliyunDevice {
    productKey: string;
    deviceName: string;
    /** The client id before the platform's |securemode=...| part. */
    clientId: string;
    signMethod: AliyunSignMethod;
    secureMode: AliyunSecureMode;
}

export interface AliyunTarget {
    host: string;
    port: number;
    protocol: 'mqtt' | 'mqtts';
    device: AliyunDevice;
}

export type AliyunProblemCode =
    | 'aliyun-product-key-empty'
    | 'aliyun-product-key'
    | 'aliyun-device-name-empty'
    | 'aliyun-device-name'
    | 'aliyun-region-empty'
    | 'aliyun-region'
    | 'aliyun-endpoint'
    | 'aliyun-sign-method'
    | 'aliyun-secure-mode'
    | 'aliyun-keepalive'
    | 'aliyun-secret-empty';

export const ALIYUN_SIGN_METHODS: readonly AliyunSignMethod[] = ['hmacsha256', 'hmacsha1', 'hmacmd5'];
export const ALIYUN_DEFAULTS = { region: 'cn-shanghai', signMethod: 'hmacsha256', secureMode: '2', port: 1883 } as const;
/** The platform refuses a CONNECT whose keep-alive is outside this range. */
export const ALIYUN_KEEPALIVE = { min: 30, max: 1200 } as const;

/** The dialog fields this module checks. */
export const ALIYUN_CHECKED_PROPERTIES: readonly string[] = [
    'aliyunRegion',
    'aliyunProductKey',
    'aliyunDeviceName',
    'aliyunEndpoint',
    'aliyunSignMethod',
    'aliyunSecureMode',
];

// ProductKeys are the platform's letters and digits; a DeviceName may also hold - _ @ . : (the console's rule).
const PRODUCT_KEY = /^[A-Za-z0-9]+$/;
const DEVICE_NAME = /^[A-Za-z0-9_@.:-]+$/;
const REGION = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const ENDPOINT = /^([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*)(:(\d{1,5}))?$/;

function refusal(code: AliyunProblemCode, text: string, params: SettingsProblem['params'] = {}): SettingsProblem {
    return { code: code as SettingsProblem['code'], text, params, advice: false };
}

const trimmed = (value: unknown): string => (value === undefined || value === null ? '' : String(value).trim());

export function isAliyun(props: { mode?: unknown; auth?: unknown }): boolean {
    return props.auth === 'aliyun' && props.mode !== 'embedded';
}

export function readSignMethod(value: unknown): AliyunSignMethod | null {
    const v = trimmed(value) || ALIYUN_DEFAULTS.signMethod;
    return (ALIYUN_SIGN_METHODS as readonly string[]).includes(v) ? (v as AliyunSignMethod) : null;
}

export function readSecureMode(value: unknown): AliyunSecureMode | null {
    const v = trimmed(value) || ALIYUN_DEFAULTS.secureMode;
    return v === '2' ? 2 : v === '3' ? 3 : null;
}

/** The host and port of an endpoint field, or null when it is not `host` or `host:port`. */
export function parseEndpoint(value: unknown): { host: string; port: number } | null {
    const match = ENDPOINT.exec(trimmed(value));
    if (!match) return null;
    const port = match[6] === undefined ? ALIYUN_DEFAULTS.port : Number(match[6]);
    return port >= 1 && port <= 65535 ? { host: match[1], port } : null;
}

/** What is wrong with one Alibaba field (or with the keep-alive in that mode); null when nothing is. */
export function aliyunFieldProblem(name: string, props: AliyunConfigProps & { keepalive?: unknown }): SettingsProblem | null {
    const value = trimmed((props as { [name: string]: unknown })[name]);
    switch (name) {
        case 'aliyunProductKey':
            if (!value) return refusal('aliyun-product-key-empty', 'enter the ProductKey of the device (shown in the IoT Platform console on the device page)');
            return PRODUCT_KEY.test(value) ? null : refusal('aliyun-product-key', `the ProductKey "${value}" may hold letters and digits only`, { value });
        case 'aliyunDeviceName':
            if (!value) return refusal('aliyun-device-name-empty', 'enter the DeviceName of the device (shown in the IoT Platform console on the device page)');
            return DEVICE_NAME.test(value) ? null : refusal('aliyun-device-name', `the DeviceName "${value}" may hold letters, digits and - _ @ . : only`, { value });
        case 'aliyunRegion':
            if (!value) {
                return trimmed(props.aliyunEndpoint) ? null : refusal('aliyun-region-empty', 'enter the region id, such as cn-shanghai, or the endpoint of the instance');
            }
            return REGION.test(value) ? null : refusal('aliyun-region', `the region id "${value}" may hold lower-case letters, digits and single hyphens only, as in cn-shanghai`, { value });
        case 'aliyunEndpoint':
            if (!value || parseEndpoint(value)) return null;
            return refusal('aliyun-endpoint', `the endpoint "${value}" must be a host name, with :port when it is not 1883, such as iot-06z00example.mqtt.iothub.aliyuncs.com`, { value });
        case 'aliyunSignMethod':
            return readSignMethod(value) ? null : refusal('aliyun-sign-method', `the sign method must be hmacsha256, hmacsha1 or hmacmd5, not "${value}"`, { value });
        case 'aliyunSecureMode':
            return readSecureMode(value) ? null : refusal('aliyun-secure-mode', `the secure mode must be 2 (TLS) or 3 (plain TCP), not "${value}"`, { value });
        case 'keepalive': {
            const keepalive = trimmed(props.keepalive);
            const seconds = Number(keepalive);
            if (keepalive === '' || (Number.isInteger(seconds) && seconds >= ALIYUN_KEEPALIVE.min && seconds <= ALIYUN_KEEPALIVE.max)) return null;
            return refusal(
                'aliyun-keepalive',
                `Alibaba Cloud IoT accepts a keep-alive of ${ALIYUN_KEEPALIVE.min} to ${ALIYUN_KEEPALIVE.max} seconds only, not "${keepalive}"`,
                { min: ALIYUN_KEEPALIVE.min, max: ALIYUN_KEEPALIVE.max, value: keepalive },
            );
        }
        default:
            return null;
    }
}

/** The problem when the DeviceSecret credential is missing; null when there is one. */
export function aliyunSecretProblem(secret: unknown): SettingsProblem | null {
    return typeof secret === 'string' && secret !== '' ? null : refusal('aliyun-secret-empty', 'enter the DeviceSecret of the device');
}

/**
 * Where an Alibaba configuration connects and what it signs with, or its first problem. The public
 * endpoint of a region is <ProductKey>.iot-as-mqtt.<region>.aliyuncs.com:1883; secure mode 2 is TLS
 * and 3 plain TCP on the same port.
 */
export function resolveAliyun(props: AliyunConfigProps & { keepalive?: unknown; clientid?: unknown }): { target: AliyunTarget } | { problem: SettingsProblem } {
    for (const name of ['aliyunProductKey', 'aliyunDeviceName', 'aliyunRegion', 'aliyunEndpoint', 'aliyunSignMethod', 'aliyunSecureMode', 'keepalive']) {
        const problem = aliyunFieldProblem(name, props);
        if (problem) return { problem };
    }
    const productKey = trimmed(props.aliyunProductKey);
    const deviceName = trimmed(props.aliyunDeviceName);
    const endpoint = parseEndpoint(props.aliyunEndpoint);
    const secureMode = readSecureMode(props.aliyunSecureMode) as AliyunSecureMode;
    return {
        target: {
            host: endpoint ? endpoint.host : `${productKey}.iot-as-mqtt.${trimmed(props.aliyunRegion)}.aliyuncs.com`,
            port: endpoint ? endpoint.port : ALIYUN_DEFAULTS.port,
            protocol: secureMode === 2 ? 'mqtts' : 'mqtt',
            device: {
                productKey,
                deviceName,
                clientId: trimmed(props.clientid) || `${productKey}.${deviceName}`,
                signMethod: readSignMethod(props.aliyunSignMethod) as AliyunSignMethod,
                secureMode,
            },
        },
    };
}
