/**
 * The admin HTTP endpoint behind the broker dialog's "Test connection": it reads the settings the
 * dialog holds (the stored password when the dialog sends Node-RED's placeholder for an unchanged one),
 * tries them with nodes/lib/connection-probe.ts and answers with the result's catalogue key and words.
 * It logs nothing and never answers with a credential.
 */
import type { IClientOptions } from 'mqtt';
import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { BrokerHandle } from './broker-handle';
import { aliyunCredentials } from './lib/aliyun-iot';
import { aliyunSecretProblem } from './lib/aliyun-settings';
import { BrokerConfigProps, BrokerSettings, BrokerSettingsError, resolveBrokerSettings } from './lib/broker-settings';
import { probeConnection, probeListen, ProbeResult, success } from './lib/connection-probe';

/** What the editor sends for a password field the user did not change. */
const UNCHANGED_PASSWORD = '__PWRD__';

export const TEST_CONNECTION_PATH = '/mqtt-wire/broker-config/:id/test-connection';

export interface TestAnswer {
    ok: boolean;
    /** The key of the text under "broker-config" in the catalogues: test.*, reason.* or validation.*. */
    key: string;
    params: Record<string, string | number>;
    /** In English. */
    text: string;
}

interface Credentials {
    user?: unknown;
    password?: unknown;
    aliyunDeviceSecret?: unknown;
}
interface TlsConfigNode extends Node {
    addTLSOptions(options: IClientOptions): IClientOptions;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string => (typeof value === 'string' ? value : '');

export function registerConnectionTest(RED: NodeAPI): void {
    RED.httpAdmin.post(TEST_CONNECTION_PATH, RED.auth.needsPermission('broker-config.write'), (req, res) => {
        const body: unknown = req.body;
        if (!isObject(body) || !isObject(body.props)) {
            res.status(400).json({ ok: false, key: 'test.bad-request', params: {}, text: 'the request holds no settings to test' });
            return;
        }
        const given: Credentials = isObject(body.credentials) ? body.credentials : {};
        const id = String(req.params.id);
        const stored = (RED.nodes.getCredentials(id) ?? {}) as Credentials;
        const password = given.password === UNCHANGED_PASSWORD ? text(stored.password) : text(given.password);
        const deviceSecret = given.aliyunDeviceSecret === UNCHANGED_PASSWORD ? text(stored.aliyunDeviceSecret) : text(given.aliyunDeviceSecret);
        testConnection(RED, id, body.props as BrokerConfigProps & { tls?: unknown }, text(given.user), password, deviceSecret).then(
            (answer) => res.json(withoutSecret(withoutSecret(answer, password), deviceSecret)),
            () => res.json({ ok: false, key: 'test.failed', params: {}, text: 'the test could not be run' }),
        );
    });
}

async function testConnection(
    RED: NodeAPI,
    id: string,
    props: BrokerConfigProps & { tls?: unknown },
    user: string,
    password: string,
    deviceSecret: string,
): Promise<TestAnswer> {
    let settings: BrokerSettings;
    try {
        settings = resolveBrokerSettings(props);
    } catch (err) {
        if (!(err instanceof BrokerSettingsError)) throw err;
        return { ok: false, key: `validation.${err.problem.code}`, params: err.problem.params, text: err.problem.text };
    }
    if (settings.mode === 'embedded') return answerOf(await testEmbedded(RED, id, settings));

    const client: IClientOptions = { protocolVersion: settings.protocolVersion, keepalive: settings.keepalive };
    if (settings.aliyun) {
        const missing = aliyunSecretProblem(deviceSecret);
        if (missing) return { ok: false, key: `validation.${missing.code}`, params: missing.params, text: missing.text };
        // The platform admits one connection per device: the test takes the place of a running one for a moment.
        const signed = aliyunCredentials({ ...settings.aliyun, deviceSecret, timestamp: Date.now() });
        Object.assign(client, { clientId: signed.clientId, username: signed.username, password: signed.password });
    } else {
        if (user) client.username = user;
        if (password) client.password = password;
    }
    if (settings.connectUserProperties) client.properties = { userProperties: settings.connectUserProperties };
    if (settings.usesTls) {
        const tlsId = text(props.tls);
        if (tlsId && tlsId !== '_ADD_') {
            const tlsNode = RED.nodes.getNode(tlsId) as TlsConfigNode | null;
            if (!tlsNode) return { ok: false, key: 'test.tls-not-deployed', params: {}, text: 'the selected TLS configuration is not deployed yet: deploy it, then test again' };
            tlsNode.addTLSOptions(client);
        } else {
            client.rejectUnauthorized = settings.verifyServerCert;
        }
    }
    const answer = answerOf(await probeConnection({ url: settings.url, address: settings.address, client }));
    return typeof client.password === 'string' ? withoutSecret(answer, client.password) : answer;
}

/**
 * The embedded broker of this configuration when it is deployed on the same address and its nodes are
 * connected to it; else whether the port is free for it.
 */
async function testEmbedded(RED: NodeAPI, id: string, settings: BrokerSettings): Promise<ProbeResult> {
    const deployed = deployedSettings(RED, id);
    const handle = RED.nodes.getNode(id) as BrokerHandle | null;
    const same = deployed !== null && deployed.mode === 'embedded' && deployed.listenHost === settings.listenHost && deployed.port === settings.port;
    if (same && handle?.connection?.status.state === 'connected') return success('embedded-running', { address: settings.address });
    return probeListen(settings.listenHost, settings.port);
}

function deployedSettings(RED: NodeAPI, id: string): BrokerSettings | null {
    let def: NodeDef | null = null;
    RED.nodes.eachNode((n) => {
        if (n.id === id && n.type === 'broker-config') def = n;
    });
    if (!def) return null;
    try {
        return resolveBrokerSettings(def);
    } catch {
        return null;
    }
}

function answerOf(result: ProbeResult): TestAnswer {
    return { ok: result.ok, key: `${result.ok ? 'test' : 'reason'}.${result.code}`, params: result.params, text: result.text };
}

/** Whatever a broker or a TLS library put into a text, the password does not leave the runtime. */
function withoutSecret(answer: TestAnswer, password: string): TestAnswer {
    if (!password) return answer;
    const hide = (value: string | number): string | number => (typeof value === 'string' ? value.split(password).join('***') : value);
    const params: TestAnswer['params'] = {};
    for (const [name, value] of Object.entries(answer.params)) params[name] = hide(value);
    return { ...answer, params, text: String(hide(answer.text)) };
}
