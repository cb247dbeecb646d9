/**
 * The MQTT CONNECT credentials Alibaba Cloud IoT Platform expects of a device that signs with its
 * DeviceSecret ("Establish MQTT connections over TCP" in the platform's documentation):
 *
 *   client id  <clientId>|securemode=<2|3>,signmethod=<method>,timestamp=<ms>|
 *   user name  <DeviceName>&<ProductKey>
 *   password   HMAC(DeviceSecret, the parameters sorted by name, each name followed by its value), in hex
 *
 * The timestamp is optional on the platform: without one it is left out of both the client id and the
 * signed text. The hex is upper case, as in the documentation's worked example.
 */
import { createHmac } from 'node:crypto';

export type SignMethod = 'hmacsha256' | 'hmacsha1' | 'hmacmd5';

export interface AliyunSignInput {
    productKey: string;
    deviceName: string;
    deviceSecret: string;
    /** Default: <ProductKey>.<DeviceName>. */
    clientId?: string;
    /** Milliseconds since the epoch; leave it out to sign without one. */
    timestamp?: number | string;
    /** Default: hmacsha256. */
    signMethod?: SignMethod;
    /** 2: TLS (the default), 3: plain TCP. */
    secureMode?: 2 | 3;
}

export interface AliyunCredentials {
    clientId: string;
    username: string;
    password: string;
}

const HASHES: { readonly [method in SignMethod]: string } = { hmacsha256: 'sha256', hmacsha1: 'sha1', hmacmd5: 'md5' };

export function aliyunCredentials(input: AliyunSignInput): AliyunCredentials {
    const { productKey, deviceName, deviceSecret } = input;
    for (const [name, value] of [['productKey', productKey], ['deviceName', deviceName], ['deviceSecret', deviceSecret]]) {
        if (typeof value !== 'string' || value === '') throw new TypeError(`aliyunCredentials: ${name} must be a non-empty string`);
    }
    const signMethod = input.signMethod ?? 'hmacsha256';
    if (!Object.prototype.hasOwnProperty.call(HASHES, signMethod)) {
        throw new TypeError(`aliyunCredentials: signMethod must be hmacsha256, hmacsha1 or hmacmd5, not ${JSON.stringify(signMethod)}`);
    }
    const secureMode = input.secureMode ?? 2;
    if (secureMode !== 2 && secureMode !== 3) throw new TypeError(`aliyunCredentials: secureMode must be 2 or 3, not ${JSON.stringify(secureMode)}`);
    const clientId = input.clientId || `${productKey}.${deviceName}`;
    const timestamp = input.timestamp === undefined || input.timestamp === '' ? undefined : String(input.timestamp);

    const signed: { [name: string]: string } = { clientId, deviceName, productKey };
    if (timestamp !== undefined) signed.timestamp = timestamp;
    const content = Object.keys(signed)
        .sort()
        .map((name) => name + signed[name])
        .join('');
    const password = createHmac(HASHES[signMethod], deviceSecret).update(content, 'utf8').digest('hex').toUpperCase();

    const extended = [`securemode=${secureMode}`, `signmethod=${signMethod}`];
    if (timestamp !== undefined) extended.push(`timestamp=${timestamp}`);
    return { clientId: `${clientId}|${extended.join(',')}|`, username: `${deviceName}&${productKey}`, password };
}
