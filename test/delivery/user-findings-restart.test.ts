/**
 * Findings of an acceptance pass with a demanding user's faults: brokers and Node-RED stopped and
 * started under a stream of QoS 1/2 messages, and what the nodes' status says afterwards.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as mqtt from 'mqtt';
import { startMosquitto } from '../support/mosquitto';
import { eventually, externalBroker, getNode, helper, lastStatus, loadFlow, unloadFlow, waitForStatus, useRuntime } from '../support/node-red';

const broker = useRuntime(() => startMosquitto({ persistence: true }));

const WAITING = /broker-config\.status\.waiting/;

for (const restart of [false, true]) {
    test(`messages that waited for the broker are sent: the status stops counting them as waiting${restart ? ' (Node-RED restarted while the broker was down, durable store)' : ''}`, async () => {
        const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-waiting-'));
        helper.settings({ userDir });
        const clientid = `waiting-${restart}-${Date.now()}`;
        const flow = [
            externalBroker('b', broker().port, { clientid, cleansession: false, durable: 'on', reconnectDelay: '1', reconnectDelayMax: '1' }),
            { id: 'out', type: 'mqtt-out', broker: 'b', topic: 'waiting/t', qos: '2', retain: 'false' },
        ];
        const subscriber = await mqtt.connectAsync(broker().url, { clientId: `${clientid}-sub`, clean: false });
        const seen = new Set<string>();
        subscriber.on('message', (_topic, payload) => seen.add(String(payload)));
        try {
            await subscriber.subscribeAsync('waiting/#', { qos: 2 });
            await loadFlow(flow);
            await waitForStatus('out', (s) => s.fill === 'green', 'connected');
            await broker().stop();
            for (let i = 0; i < 30; i++) getNode('out').receive({ payload: String(i) });
            await waitForStatus('out', (s) => s.fill === 'red' && /"count":"30"/.test(String(s.text)), '30 waiting while the broker is down');
            if (restart) {
                await unloadFlow();
                await loadFlow(flow);
                await waitForStatus('out', (s) => s.fill === 'red' && /"count":"30"/.test(String(s.text)), '30 waiting after the restart');
            }
            await broker().start();
            await eventually(() => seen.size === 30, `the 30 messages at the subscriber (have ${seen.size})`, 20000);
            await eventually(() => getNode('b').connection.delivery.queued === 0, 'an empty send queue');
            await eventually(() => !WAITING.test(String(lastStatus('out')?.text)), `a status without the 30 "waiting to be sent" (shows ${lastStatus('out')?.text})`);
            assert.equal(lastStatus('out')?.fill, 'green');
        } finally {
            await subscriber.endAsync();
            await unloadFlow();
            helper.settings({ userDir: undefined });
            fs.rmSync(userDir, { recursive: true, force: true });
        }
    });
}
