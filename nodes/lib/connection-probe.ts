/**
 * The checks behind the broker dialog's "Test connection": one connection attempt with the settings
 * of the dialog, or for an embedded broker a look at whether its port is free. Each resolves (never
 * rejects) with what happened, in words. Nothing here logs: the options may hold a password.
 */
import * as crypto from 'crypto';
import * as net from 'net';
import * as mqtt from 'mqtt';
import type { IClientOptions } from 'mqtt';
import { describeConnectionError, describeListenError, describeResetOverTls, fillPlaceholders, reason, Reason, ReasonCode } from './errors';

/** Well within the ten seconds a user waits for the answer in the dialog. */
export const DEFAULT_PROBE_TIMEOUT_MS = 8000;

export type ProbeSuccessCode = 'connected' | 'port-free' | 'embedded-running';

export interface ProbeResult {
    ok: boolean;
    /** A success code, or the code of the reason it failed (the keys of broker-config.reason). */
    code: ProbeSuccessCode | ReasonCode;
    params: Record<string, string>;
    /** In English, as for logs and tests. */
    text: string;
}

export interface ProbeTarget {
    url: string;
    /** host:port, for the texts. */
    address: string;
    /** Protocol version, credentials, TLS options; the probe chooses its own client id and session. */
    client: IClientOptions;
}

const SUCCESS_TEXT: Record<ProbeSuccessCode, string> = {
    connected: 'connected to __address__ with MQTT __version__',
    'port-free': 'port __port__ on __host__ is free: the embedded broker listens there once deployed',
    'embedded-running': 'the embedded broker of this configuration is running at __address__ (MQTT 3.1.1)',
};

export function success(code: ProbeSuccessCode, params: Record<string, string>): ProbeResult {
    return { ok: true, code, params, text: fillPlaceholders(SUCCESS_TEXT[code], params) };
}

function failure(why: Reason): ProbeResult {
    return { ok: false, code: why.code, params: why.params, text: why.text };
}

/** "3.1.1" or "5", as users know the versions. */
export function versionName(protocolVersion: number | undefined): string {
    return protocolVersion === 5 ? '5' : '3.1.1';
}

/**
 * Connects once, without reconnecting, and ends the connection again. It uses a client id of its own
 * and a clean session without a will, so a running connection with these settings is not disturbed
 * and the broker keeps nothing of it.
 */
export function probeConnection(target: ProbeTarget, timeoutMs: number = DEFAULT_PROBE_TIMEOUT_MS): Promise<ProbeResult> {
    return new Promise((resolve) => {
        const options: IClientOptions = {
            ...target.client,
            // A signed client id (Alibaba Cloud IoT) is part of the credentials and stays; else one of its own.
            clientId: target.client.clientId || `mqttwire_test_${crypto.randomBytes(4).toString('hex')}`,
            clean: true,
            reconnectPeriod: 0,
            resubscribe: false,
            // The probe's own timer below decides when it has waited long enough.
            connectTimeout: timeoutMs + 5000,
        };
        delete options.will;
        if (options.properties) {
            options.properties = { ...options.properties };
            delete options.properties.sessionExpiryInterval;
        }
        let lastError: Reason | undefined;
        let settled = false;
        const client = mqtt.connect(target.url, options);
        const finish = (result: ProbeResult, cleanly: boolean): void => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            client.removeAllListeners('connect');
            client.on('error', () => undefined);
            client.end(!cleanly);
            resolve(result);
        };
        const timer = setTimeout(() => finish(failure(reason('timeout', { address: target.address })), false), timeoutMs);
        client.on('connect', () => {
            finish(success('connected', { address: target.address, version: versionName(options.protocolVersion) }), true);
        });
        client.on('error', (err) => {
            lastError = describeResetOverTls(describeConnectionError(err, target.address), target.url, false);
        });
        client.on('close', () => finish(failure(lastError ?? reason('closed')), false));
    });
}

/** Whether the embedded broker could listen on host:port: listens for a moment and closes again. */
export function probeListen(host: string, port: number): Promise<ProbeResult> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once('error', (err) => resolve(failure(describeListenError(err, host, port))));
        server.listen(port, host, () => {
            server.close(() => resolve(success('port-free', { host, port: String(port) })));
        });
    });
}
