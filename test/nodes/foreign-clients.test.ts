/** Other MQTT clients interoperate: Mosquitto's own command-line tools publish to an mqtt-in and
 * subscribe to an mqtt-out, on Mosquitto and on the embedded broker. */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startMosquitto } from '../support/mosquitto';
import { collect, embeddedBroker, eventually, externalBroker, FlowNode, getNode, loadFlow, waitForStatus, waitForSubscribed, useRuntime } from '../support/node-red';
import { freePort } from '../support/shared/ports';

const run = promisify(execFile);
const broker = useRuntime(() => startMosquitto());

for (const kind of ['mosquitto', 'embedded']) {
    test(`${kind}: mosquitto_pub -q 2 reaches an mqtt-in, once, at QoS 2`, async () => {
        const port = kind === 'mosquitto' ? broker().port : await freePort();
        const b: FlowNode = kind === 'mosquitto' ? externalBroker('b', port) : embeddedBroker('b', port);
        await loadFlow([b, { id: 'in', type: 'mqtt-in', broker: 'b', topic: '家/客厅/+', qos: '2', datatype: 'auto-detect', wires: [['h']] }, { id: 'h', type: 'helper' }]);
        const got = collect('h');
        await waitForStatus('in', (s) => s.fill === 'green', 'connected');
        await waitForSubscribed('b', '家/客厅/+');
        await run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-q', '2', '-t', '家/客厅/温度', '-m', '{"temp":21.5}']);
        await eventually(() => got.length === 1, 'the message from mosquitto_pub');
        // Time for a second copy to show up, if one were coming.
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(got.length, 1);
        assert.deepEqual(got[0].payload, { temp: 21.5 });
        assert.equal(got[0].topic, '家/客厅/温度');
        assert.equal(got[0].qos, 2);
    });

    test(`${kind}: an mqtt-out reaches mosquitto_sub`, async () => {
        const port = kind === 'mosquitto' ? broker().port : await freePort();
        const b: FlowNode = kind === 'mosquitto' ? externalBroker('b', port) : embeddedBroker('b', port);
        await loadFlow([b, { id: 'out', type: 'mqtt-out', broker: 'b', topic: 'MQTT Examples', qos: '2', retain: '' }]);
        await waitForStatus('out', (s) => s.fill === 'green', 'connected');
        const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-q', '2', '-t', 'MQTT Examples', '-C', '1', '-W', '10', '-v']);
        let output = '';
        sub.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
        const exited = new Promise<number | null>((resolve) => sub.on('exit', resolve));
        // mosquitto_sub prints nothing when it has subscribed: publish until it has the message.
        const timer = setInterval(() => getNode('out').receive({ payload: 'Message from mqtt-out' }), 200);
        try {
            assert.equal(await exited, 0, 'mosquitto_sub got a message');
        } finally {
            clearInterval(timer);
        }
        assert.equal(output.trim(), 'MQTT Examples Message from mqtt-out');
    });
}
