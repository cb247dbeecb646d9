/**
 * Exactly once into the flow at QoS 2: an mqtt-in on a persistent session with the durable store
 * emits each message once, when its link is cut again and again in the middle of QoS 2 exchanges
 * (between PUBREC and PUBCOMP), and when Node-RED is restarted in the middle of a stream: the broker
 * then releases (PUBREL) messages that only the durable store still holds.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import * as mqtt from 'mqtt';
import { startMosquitto } from '../support/mosquitto';
import { eventually, externalBroker, FlowNode, getNode, helper, loadFlow, unloadFlow, waitForStatus, waitForSubscribed } from '../support/node-red';
import { TcpProxy } from '../support/tcp-proxy';

const N = 3000;
let userDir: string;
before(async () => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-qos2-'));
    helper.settings({ userDir });
    await new Promise<void>((resolve) => helper.startServer(resolve));
});
after(async () => {
    await new Promise<void>((resolve) => helper.stopServer(resolve));
    fs.rmSync(userDir, { recursive: true, force: true });
});
afterEach(() => unloadFlow());

function receiver(port: number, clientid: string, topic: string): FlowNode[] {
    return [
        externalBroker('b', port, { clientid, cleansession: false, durable: 'on', keepalive: '5', reconnectDelay: '1', reconnectDelayMax: '1' }),
        { id: 'in', type: 'mqtt-in', broker: 'b', topic, qos: '2', datatype: 'utf8', wires: [['h']] },
        { id: 'h', type: 'helper' },
    ];
}

/** Publishes 1..n at QoS 2 from a foreign client, 20 at a time. */
async function publishAll(url: string, topic: string, n: number): Promise<void> {
    const publisher = await mqtt.connectAsync(url, { clientId: `${topic.replace(/\W/g, '')}-pub`, clean: false });
    let next = 1;
    const sender = async () => {
        while (next <= n) await publisher.publishAsync(topic, String(next++), { qos: 2 });
    };
    await Promise.all(Array.from({ length: 20 }, sender));
    await publisher.endAsync();
}

function countsOf(received: number[]): { missing: number[]; duplicates: number[] } {
    const counts = new Map<number, number>();
    for (const seq of received) counts.set(seq, (counts.get(seq) ?? 0) + 1);
    const missing: number[] = [];
    for (let i = 1; i <= N; i++) if (!counts.has(i)) missing.push(i);
    return { missing, duplicates: [...counts].filter(([, c]) => c > 1).map(([seq]) => seq) };
}

/** Waits for all N to reach the flow, then checks that none is missing and none came twice. */
async function assertEachOnce(received: number[]): Promise<void> {
    await eventually(() => new Set(received).size >= N, `all ${N} (have ${new Set(received).size})`, 30000);
    // Time for duplicates to show up, if any were coming.
    await new Promise((r) => setTimeout(r, 500));
    const { missing, duplicates } = countsOf(received);
    assert.deepEqual(missing, []);
    assert.deepEqual(duplicates, [], 'no message twice');
}

test('links cut in the middle of QoS 2 exchanges: each message reaches the flow once', async () => {
    const mosquitto = await startMosquitto({ persistence: true, extraConfig: ['max_queued_messages 0'] });
    const proxy = await new TcpProxy(mosquitto.port).start();
    try {
        await loadFlow(receiver(proxy.port, 'qos2-cut', 'qos2/cut'));
        const received: number[] = [];
        getNode('h').on('input', (msg: any) => received.push(Number(msg.payload)));
        await waitForStatus('in', (s) => s.fill === 'green', 'connected');
        await waitForSubscribed('b', 'qos2/cut');
        const publishing = publishAll(mosquitto.url, 'qos2/cut', N);
        for (const at of [0.2, 0.4, 0.6, 0.8]) {
            await eventually(() => received.length >= at * N, `${at * 100}%`, 30000);
            proxy.cut();
            // The link stays down for a while, as a real outage does.
            await new Promise((r) => setTimeout(r, 200));
            proxy.restore();
        }
        await publishing;
        await assertEachOnce(received);
    } finally {
        await proxy.stop();
        await mosquitto.dispose();
    }
});

test('Node-RED restarted in the middle of a QoS 2 stream: each message reaches the flow once', async () => {
    const mosquitto = await startMosquitto({ persistence: true, extraConfig: ['max_queued_messages 0'] });
    try {
        const received: number[] = [];
        const start = async () => {
            await loadFlow(receiver(mosquitto.port, 'qos2-restart', 'qos2/restart'));
            getNode('h').on('input', (msg: any) => received.push(Number(msg.payload)));
            await waitForStatus('in', (s) => s.fill === 'green', 'connected');
        };
        await start();
        await waitForSubscribed('b', 'qos2/restart');
        const publishing = publishAll(mosquitto.url, 'qos2/restart', N);
        for (const at of [0.3, 0.6]) {
            await eventually(() => received.length >= at * N, `${at * 100}%`, 30000);
            await unloadFlow(); // stop and start again, as a redeploy or a restart of Node-RED does
            await start();
        }
        await publishing;
        await assertEachOnce(received);
    } finally {
        await mosquitto.dispose();
    }
});
