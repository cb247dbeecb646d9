/**
 * examples/aliyun-iot-property-post.json in a real Node-RED process, against a local Mosquitto that
 * plays Alibaba Cloud IoT Platform (test/support/aliyun-gate.ts admits only the signed client id, user
 * name and password of the device): the broker-config in aliyun mode connects, the Alink JSON arrives on
 * the property post topic, a reply a foreign client publishes reaches the flow, Test connection signs
 * too, and the DeviceSecret is in no log line, no answer and not in the flow the editor loads and saves.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as mqtt from 'mqtt';
import { AliyunGate } from '../support/aliyun-gate';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { NodeRedProcess, startNodeRed } from '../support/node-red-process';

const root = path.join(__dirname, '..', '..');
const DEVICE = { productKey: 'a1B2c3D4e5F', deviceName: 'pump-7', deviceSecret: 'dS3cr3t-Wq81zLk0' };
const POST = `/sys/${DEVICE.productKey}/${DEVICE.deviceName}/thing/event/property/post`;

interface FlowNode {
    id: string;
    type: string;
    [property: string]: unknown;
}

let dir: string;
let broker: Mosquitto;
let gate: AliyunGate;
let red: NodeRedProcess;
let foreign: mqtt.MqttClient;
let brokerId: string;
const started = Date.now();
let posted: Promise<{ topic: string; payload: string }>;

before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-aliyun-'));
    broker = await startMosquitto();
    gate = await new AliyunGate(broker.port, DEVICE).start();
    foreign = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: 'aliyun-platform-witness' });
    posted = new Promise((resolve) => foreign.on('message', (topic, payload) => resolve({ topic, payload: payload.toString() })));
    await foreign.subscribeAsync(POST, { qos: 1 });

    // The example as a user fills it in: the device's values, and the local "platform" as the endpoint.
    const example = JSON.parse(fs.readFileSync(path.join(root, 'examples', 'aliyun-iot-property-post.json'), 'utf8')) as FlowNode[];
    const text = JSON.stringify(example).split('YourProductKey').join(DEVICE.productKey).split('YourDeviceName').join(DEVICE.deviceName);
    const flows = JSON.parse(text) as FlowNode[];
    const config = flows.find((n) => n.type === 'broker-config')!;
    brokerId = config.id;
    Object.assign(config, { aliyunEndpoint: `127.0.0.1:${gate.port}`, aliyunSecureMode: '3' });
    Object.assign(flows.find((n) => n.type === 'inject')!, { once: true, onceDelay: '0.5' });
    Object.assign(flows.find((n) => n.type === 'debug')!, { console: true });
    // The subscription is confirmed before the inject fires: the reply can then be sent.
    const subscribed = new Promise<void>((resolve) => gate.once('suback', () => resolve()));
    red = await startNodeRed({
        userDir: path.join(dir, 'user'),
        flows,
        credentials: { [brokerId]: { aliyunDeviceSecret: DEVICE.deviceSecret } },
        settings: { logging: { console: { level: 'trace', metrics: false, audit: true } } },
    });
    // A refused CONNECT never subscribes: say so instead of waiting for the test runner to give up.
    let timer: NodeJS.Timeout | undefined;
    const refused = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no subscription through the platform's door: ${JSON.stringify(gate.connects)}`)), 20000);
    });
    await Promise.race([subscribed, refused]).finally(() => clearTimeout(timer));
});
after(async () => {
    await red?.stop();
    await foreign?.endAsync();
    await gate?.dispose();
    await broker?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
});

test('aliyun-iot-property-post.json: the broker-config connects with the signed client id, user name and password; the Alink JSON arrives; the reply reaches the flow', async () => {
    const message = await posted;
    assert.equal(message.topic, POST);
    const alink = JSON.parse(message.payload);
    assert.deepEqual(Object.keys(alink).sort(), ['id', 'method', 'params', 'version']);
    assert.deepEqual([alink.id, alink.version, alink.method], ['1', '1.0', 'thing.event.property.post']);
    assert.equal(typeof alink.params, 'object');

    const connect = gate.connects[0];
    assert.ok(connect.accepted, `the platform's door admitted ${JSON.stringify({ clientId: connect.clientId, username: connect.username })}`);
    const match = /^a1B2c3D4e5F\.pump-7\|securemode=3,signmethod=hmacsha256,timestamp=(\d+)\|$/.exec(connect.clientId);
    assert.ok(match, connect.clientId);
    assert.ok(Number(match[1]) >= started && Number(match[1]) <= Date.now(), 'the timestamp is the time of signing, in ms');
    assert.equal(connect.username, 'pump-7&a1B2c3D4e5F');
    assert.match(connect.password, /^[0-9A-F]{64}$/);

    const from = red.log.length;
    const reply = { code: 200, data: {}, id: '1', message: 'success-from-the-platform', method: 'thing.event.property.post', version: '1.0' };
    await foreign.publishAsync(`${POST}_reply`, JSON.stringify(reply), { qos: 1 });
    await red.waitForLog(/success-from-the-platform/, 10000, from);

    assert.doesNotMatch(red.log, new RegExp(DEVICE.deviceSecret), 'the log holds no DeviceSecret');
    assert.ok(!red.log.includes(connect.password), 'the log holds no signed password');
});

test('the flow the editor loads holds no DeviceSecret, only the sign that one is stored', async () => {
    const response = await red.request('/flows', { headers: { 'Node-RED-API-Version': 'v2' } });
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.ok(!text.includes(DEVICE.deviceSecret), 'GET /flows holds no DeviceSecret');
    const node = (JSON.parse(text).flows as FlowNode[]).find((n) => n.id === brokerId)!;
    assert.equal(node.auth, 'aliyun');
    assert.equal(node.aliyunDeviceSecret, undefined);
    const credentials = await red.request(`/credentials/broker-config/${brokerId}`);
    const stored = await credentials.text();
    assert.ok(!stored.includes(DEVICE.deviceSecret), `the editor's credentials answer holds no secret: ${stored}`);
    assert.equal(JSON.parse(stored).has_aliyunDeviceSecret, true);
});

test('Test connection signs with the stored DeviceSecret, refuses a wrong one in words, and answers with neither', async () => {
    const props = { mode: 'external', auth: 'aliyun', aliyunProductKey: DEVICE.productKey, aliyunDeviceName: DEVICE.deviceName, aliyunEndpoint: `127.0.0.1:${gate.port}`, aliyunSecureMode: '3', keepalive: '300' };
    const ask = async (body: object): Promise<{ text: string; answer: { ok: boolean; key: string; text: string } }> => {
        const response = await red.request(`/mqtt-wire/broker-config/${brokerId}/test-connection`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        assert.equal(response.status, 200);
        const text = await response.text();
        return { text, answer: JSON.parse(text) };
    };
    const stored = await ask({ props, credentials: { aliyunDeviceSecret: '__PWRD__' } });
    assert.deepEqual([stored.answer.ok, stored.answer.text], [true, `connected to 127.0.0.1:${gate.port} with MQTT 3.1.1`]);
    const wrong = await ask({ props, credentials: { aliyunDeviceSecret: 'typed-wrong-4410' } });
    assert.deepEqual([wrong.answer.ok, wrong.answer.key, wrong.answer.text], [false, 'reason.bad-credentials', 'bad user name or password']);
    const keepalive = await ask({ props: { ...props, keepalive: '10' }, credentials: { aliyunDeviceSecret: '__PWRD__' } });
    assert.deepEqual([keepalive.answer.key, keepalive.answer.text], ['validation.aliyun-keepalive', 'Alibaba Cloud IoT accepts a keep-alive of 30 to 1200 seconds only, not "10"']);
    const none = await ask({ props, credentials: { aliyunDeviceSecret: '' } });
    assert.deepEqual([none.answer.key, none.answer.text], ['validation.aliyun-secret-empty', 'enter the DeviceSecret of the device']);
    for (const { text } of [stored, wrong, keepalive, none]) {
        assert.ok(!text.includes(DEVICE.deviceSecret) && !text.includes('typed-wrong-4410'), text);
    }
    assert.deepEqual(gate.connects.slice(-2).map((c) => c.accepted), [true, false], 'the test tried both at the platform door');
    assert.doesNotMatch(red.log, /dS3cr3t-Wq81zLk0|typed-wrong-4410/, 'the log holds no secret');
});
