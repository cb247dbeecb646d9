/**
 * The admin endpoint behind the broker dialog's "Test connection", in a real Node-RED process with
 * adminAuth: only a user who may change broker configurations may use it; it tries the settings sent
 * with the stored password when the dialog sends Node-RED's placeholder for an unchanged one; and
 * neither its answer nor the log ever holds the password.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { NodeRedProcess, startNodeRed } from '../support/node-red-process';
import { freePort } from '../support/shared/ports';

const PASSWORD = 'stored-secret-8123';
const TYPED_WRONG = 'typed-wrong-5531';
// bcrypt hashes of "admin-pass-1" and "reader-pass-1", as settings.js adminAuth holds them.
const USERS = [
    { username: 'admin', password: '$2b$08$YykpLf4xeDbQL6jnKB7xc.8EAFOY5THsu8ol3EN93JjGy5Fl3fwOW', permissions: '*' },
    { username: 'reader', password: '$2b$08$7uWICKh2oEaSU2wR4Ud.0.uBIoUwjFN7Pn5tniEn3vlvq0alYRo9i', permissions: 'read' },
];
const PATH = '/mqtt-wire/broker-config/b/test-connection';

let dir: string;
let broker: Mosquitto;
let red: NodeRedProcess;

before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-test-endpoint-'));
    execFileSync('mosquitto_passwd', ['-b', '-c', path.join(dir, 'passwords'), 'homeuser', PASSWORD], { stdio: 'pipe' });
    broker = await startMosquitto({ extraConfig: ['allow_anonymous false', `password_file ${path.join(dir, 'passwords')}`] });
    red = await startNodeRed({
        userDir: path.join(dir, 'user'),
        flows: [{ id: 'b', type: 'broker-config', name: '', broker: '127.0.0.1', port: String(broker.port), protocol: 'mqtt' }],
        credentials: { b: { user: 'homeuser', password: PASSWORD } },
        settings: {
            // Anyone may look (the start of the runtime is checked with GET /flows); only admin may change.
            adminAuth: { type: 'credentials', users: USERS, default: { permissions: 'read' } },
            logging: { console: { level: 'trace', metrics: false, audit: true } },
        },
    });
});
after(async () => {
    await red?.stop();
    await broker?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
});

async function tokenOf(username: string, password: string, scope: string): Promise<string> {
    const response = await red.request('/auth/token', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ client_id: 'node-red-editor', grant_type: 'password', scope, username, password }),
    });
    assert.equal(response.status, 200, `login of ${username}`);
    return ((await response.json()) as { access_token: string }).access_token;
}

function post(body: object, token?: string): Promise<Response> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (token) headers.Authorization = `Bearer ${token}`;
    return red.request(PATH, { method: 'POST', headers, body: JSON.stringify(body) });
}

const dialog = (props: object, password = '__PWRD__'): object => ({
    props: { broker: '127.0.0.1', port: String(broker.port), protocol: 'mqtt', ...props },
    credentials: { user: 'homeuser', password },
});

test('without a login, and for a user who may only read, the endpoint answers 401 and tries nothing', async () => {
    const anonymous = await post(dialog({}));
    assert.equal(anonymous.status, 401);
    const reader = await post(dialog({}), await tokenOf('reader', 'reader-pass-1', 'read'));
    assert.equal(reader.status, 401);
    assert.doesNotMatch(await reader.text(), /connected|homeuser/);
});

test('an admin gets the result: the stored password for an unchanged field, the typed one otherwise, never either in the answer or the log', async () => {
    const token = await tokenOf('admin', 'admin-pass-1', '*');
    const answers: string[] = [];
    const ask = async (body: object): Promise<{ ok: boolean; key: string; text: string; params: Record<string, unknown> }> => {
        const response = await post(body, token);
        assert.equal(response.status, 200);
        const text = await response.text();
        answers.push(text);
        return JSON.parse(text);
    };

    const stored = await ask(dialog({}));
    assert.deepEqual(stored, {
        ok: true,
        key: 'test.connected',
        params: { address: `127.0.0.1:${broker.port}`, version: '3.1.1' },
        text: `connected to 127.0.0.1:${broker.port} with MQTT 3.1.1`,
    });
    const v5 = await ask(dialog({ protocolVersion: '5' }));
    assert.equal(v5.text, `connected to 127.0.0.1:${broker.port} with MQTT 5`);

    const typedWrong = await ask(dialog({}, TYPED_WRONG));
    assert.deepEqual([typedWrong.ok, typedWrong.key, typedWrong.text], [false, 'reason.not-authorized', 'not authorized - check the user name and password, and what the broker allows this client']);

    const badPort = await ask(dialog({ port: '70000' }));
    assert.deepEqual([badPort.ok, badPort.key], [false, 'validation.port']);
    assert.deepEqual(badPort.params, { min: 1, max: 65535, value: '70000' });

    const stopped = await freePort();
    const nothing = await ask(dialog({ port: String(stopped) }));
    assert.deepEqual([nothing.key, nothing.text], ['reason.refused', `nothing is listening at 127.0.0.1:${stopped} - is the broker running?`]);

    const embeddedPort = await freePort();
    const embedded = await ask({ props: { mode: 'embedded', broker: '127.0.0.1', port: String(embeddedPort) }, credentials: {} });
    assert.deepEqual([embedded.ok, embedded.key], [true, 'test.port-free']);
    const taken = await ask({ props: { mode: 'embedded', broker: '127.0.0.1', port: String(broker.port) }, credentials: {} });
    assert.deepEqual([taken.ok, taken.key], [false, 'reason.port-in-use']);

    const malformed = await post({ props: 'x' }, token);
    assert.equal(malformed.status, 400);

    for (const answer of answers) {
        assert.doesNotMatch(answer, new RegExp(`${PASSWORD}|${TYPED_WRONG}`), answer);
    }
    assert.match(red.log, /Started flows/, 'the log is captured');
    assert.doesNotMatch(red.log, new RegExp(`${PASSWORD}|${TYPED_WRONG}`), 'the log holds no password');
});
