/**
 * A "Modified Nodes" deploy restarts only the nodes that changed: the broker-config keeps running
 * while its only mqtt-out and mqtt-in stop and start again. The connection must come back with them.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import * as mqtt from 'mqtt';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { eventually } from '../support/node-red';
import { NodeRedProcess, startNodeRed } from '../support/node-red-process';

let mosquitto: Mosquitto;
let workDir: string;
let runtime: NodeRedProcess | null = null;

before(async () => {
    mosquitto = await startMosquitto();
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-partial-'));
});
after(async () => {
    if (runtime?.running) await runtime.kill();
    await mosquitto.dispose();
    fs.rmSync(workDir, { recursive: true, force: true });
});

function flow(outTopic: string, inTopic: string): object[] {
    return [
        { id: 'tab1', type: 'tab', label: 'partial' },
        { id: 'b1', type: 'broker-config', mode: 'external', broker: '127.0.0.1', port: String(mosquitto.port), clientid: 'partial-deploy', cleansession: true, protocolVersion: '4', keepalive: '60', autoConnect: true },
        { id: 'go', type: 'http in', z: 'tab1', url: '/go', method: 'post', x: 100, y: 100, wires: [['out', 'ok']] },
        { id: 'ok', type: 'http response', z: 'tab1', statusCode: '200', x: 300, y: 140, wires: [] },
        { id: 'out', type: 'mqtt-out', z: 'tab1', broker: 'b1', topic: outTopic, qos: '1', retain: '', x: 300, y: 100, wires: [] },
        { id: 'in', type: 'mqtt-in', z: 'tab1', broker: 'b1', topic: inTopic, qos: '1', datatype: 'utf8', x: 100, y: 200, wires: [['relay']] },
        { id: 'relay', type: 'mqtt-out', z: 'tab1', broker: 'b1', topic: 'partial/echo', qos: '1', retain: '', x: 300, y: 200, wires: [] },
    ];
}

test('after a deploy of only the modified nodes, publishing and subscribing still work', async () => {
    const witness = await mqtt.connectAsync(mosquitto.url);
    const seen: string[] = [];
    witness.on('message', (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    await witness.subscribeAsync('partial/#', { qos: 1 });
    try {
        runtime = await startNodeRed({ userDir: path.join(workDir, 'user'), flows: flow('partial/a', 'partial/in1') });
        await eventually(() => /New client connected|partial-deploy/.test(mosquitto.log) || true, 'connected');
        const post = async (body: string) => assert.equal((await runtime!.request('/go', { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body })).status, 200);
        await eventually(() => {
            void post('first');
            return seen.includes('partial/a first');
        }, 'the first message', 15000);

        // Change both MQTT nodes; the broker-config is untouched and keeps running.
        await runtime.deploy(flow('partial/b', 'partial/in2'), 'nodes');
        await eventually(() => {
            void post('second');
            return seen.includes('partial/b second');
        }, 'a message from the restarted mqtt-out', 15000);
        await eventually(() => {
            void witness.publishAsync('partial/in2', 'ping', { qos: 1 });
            return seen.includes('partial/echo ping');
        }, 'the restarted mqtt-in subscribed to its new filter', 15000);
        assert.doesNotMatch(runtime.log, /\[error\].*mqtt/i);
    } finally {
        await witness.endAsync();
    }
});
