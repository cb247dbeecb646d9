/**
 * The MQTT sidebar in a real Node-RED with adminAuth: its admin routes answer 401 without the
 * permission broker-config.read and the sidebar's data with it; the editor plugin, its script and its
 * catalogues (en-US, zh-CN) are served.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { NodeRedProcess, PACKAGE_NAME, startNodeRed } from '../support/node-red-process';

const READER_PASSWORD = 'sidebar-reader-pw';
/** bcrypt of READER_PASSWORD, as adminAuth keeps passwords. */
const READER_HASH = '$2b$08$07S/vqx2Cse/lPUS8cm/heq6paThds1CSGVVc24xLEjVB0RRTGVma';

let mosquitto: Mosquitto;
let workDir: string;
let runtime: NodeRedProcess | null = null;

before(async () => {
    mosquitto = await startMosquitto();
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-sidebar-auth-'));
    runtime = await startNodeRed({
        userDir: path.join(workDir, 'user'),
        flows: [
            { id: 'tab1', type: 'tab', label: 'sidebar' },
            { id: 'b1', type: 'broker-config', name: 'Guarded', mode: 'external', broker: '127.0.0.1', port: String(mosquitto.port), cleansession: true, protocolVersion: '4', keepalive: '60', autoConnect: true, monitor: true },
            { id: 'in1', type: 'mqtt-in', z: 'tab1', broker: 'b1', topic: 'guarded/#', qos: '1', datatype: 'utf8', x: 100, y: 100, wires: [] },
        ],
        settings: {
            adminAuth: {
                type: 'credentials',
                users: [{ username: 'reader', password: READER_HASH, permissions: 'read' }],
                // Anyone may read the flows (the test support waits for GET /flows), nothing more.
                default: { permissions: 'flows.read' },
            },
        },
    });
});
after(async () => {
    if (runtime?.running) await runtime.stop();
    await mosquitto.dispose();
    fs.rmSync(workDir, { recursive: true, force: true });
});

async function token(): Promise<string> {
    const body = new URLSearchParams({ client_id: 'node-red-admin', grant_type: 'password', scope: 'read', username: 'reader', password: READER_PASSWORD });
    const response = await runtime!.request('/auth/token', { method: 'POST', body });
    assert.equal(response.status, 200, 'a token for the reader');
    return ((await response.json()) as { access_token: string }).access_token;
}

test('the sidebar routes answer 401 without the permission broker-config.read', async () => {
    assert.equal((await runtime!.request('/mqtt-wire/sidebar')).status, 401);
    assert.equal((await runtime!.request('/mqtt-wire/sidebar/b1/topics')).status, 401);
    assert.equal((await runtime!.request('/mqtt-wire/sidebar', { headers: { Authorization: 'Bearer not-a-token' } })).status, 401);
});

test('with a read token the sidebar lists the broker-config', async () => {
    const auth = { Authorization: `Bearer ${await token()}` };
    const response = await runtime!.request('/mqtt-wire/sidebar', { headers: auth });
    assert.equal(response.status, 200);
    const body = (await response.json()) as { brokers: { id: string; name: string; monitor: boolean; subscriptions: { filter: string; holders: { id: string }[] }[] }[] };
    const b1 = body.brokers.find((b) => b.id === 'b1');
    assert.ok(b1, 'b1 is listed');
    assert.equal(b1.name, 'Guarded');
    assert.equal(b1.monitor, true);
    assert.deepEqual(b1.subscriptions.map((s) => [s.filter, s.holders.map((h) => h.id)]), [['guarded/#', ['in1']]]);
    const topics = await runtime!.request('/mqtt-wire/sidebar/b1/topics', { headers: auth });
    assert.equal(topics.status, 200);
});

test('the editor plugin, its script and its catalogues are served', async () => {
    const auth = { Authorization: `Bearer ${await token()}` };
    const list = await runtime!.request('/plugins', { headers: { ...auth, Accept: 'application/json' } });
    assert.equal(list.status, 200);
    const plugins = (await list.json()) as { id: string; module: string }[];
    const plugin = plugins.find((p) => p.id === `${PACKAGE_NAME}/mqtt-sidebar`);
    assert.ok(plugin, `the plugin is registered: ${JSON.stringify(plugins)}`);
    const html = await (await runtime!.request('/plugins', { headers: { ...auth, Accept: 'text/html' } })).text();
    assert.match(html, /resources\/node-red-contrib-mqtt-wire\/mqtt-sidebar\.js/);
    assert.match(html, /registerPlugin\('mqtt-wire-sidebar'/);
    const script = await runtime!.request(`/resources/${PACKAGE_NAME}/mqtt-sidebar.js`);
    assert.equal(script.status, 200);
    assert.match(await script.text(), /window\.MqttWireSidebar = /);
    for (const [lng, label, name] of [
        ['en-US', 'MQTT', 'MQTT brokers'],
        ['zh-CN', 'MQTT', 'MQTT 服务器'],
    ]) {
        const messages = (await (await runtime!.request(`/plugins/messages?lng=${lng}`, { headers: { ...auth, Accept: 'application/json' } })).json()) as Record<string, any>;
        const catalogue = messages[`${PACKAGE_NAME}/mqtt-sidebar`];
        assert.equal(catalogue?.['mqtt-sidebar']?.label, label, `${lng} label`);
        assert.equal(catalogue?.['mqtt-sidebar']?.name, name, `${lng} name`);
    }
});
