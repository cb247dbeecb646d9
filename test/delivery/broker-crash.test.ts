/**
 * QoS 2 through a broker crash: Mosquitto (persistence on, a save every second) is killed with
 * SIGKILL twice while a flow publishes numbered QoS 2 messages at 1,000 a second through mqtt-out,
 * stays down one second and restarts from its last save. A plain MQTT.js client on a persistent
 * session counts what arrives. Both connections pass through recording proxies, and the broker's
 * saves are watched, so each message that did not arrive, or arrived twice, is attributed: to this
 * package when its side of the QoS 2 exchange was not complete, else to the broker (acknowledged
 * after its last save, or lost by the restored broker).
 *
 * A crash is a chance event: MQTT_WIRE_CRASH_RUNS repeats each case (1 by default, as in CI) and
 * MQTT_WIRE_CRASH_MESSAGES sets how many messages a run publishes (4,000 by default).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test, TestContext } from 'node:test';
import * as mqtt from 'mqtt';
import { watchBrokerSaves } from '../support/broker-saves';
import { startMosquitto } from '../support/mosquitto';
import { eventually, externalBroker, getNode, helper, loadFlow, unloadFlow, waitForStatus } from '../support/node-red';
import { PacketRecorder } from '../support/packet-recorder';
import { attributeMissing, CLIENT_FAULT, clientFault } from '../support/qos2-attribution';

const RUNS = Number(process.env.MQTT_WIRE_CRASH_RUNS ?? 1);
const MESSAGES = Number(process.env.MQTT_WIRE_CRASH_MESSAGES ?? 4000);
const RATE_PER_SECOND = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let userDir: string;
before(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-broker-crash-'));
    helper.settings({ userDir });
    return new Promise<void>((resolve) => helper.startServer(resolve));
});
after(() => {
    helper.settings({ userDir: undefined });
    fs.rmSync(userDir, { recursive: true, force: true });
    return new Promise<void>((resolve) => helper.stopServer(resolve));
});

interface RunResult {
    missing: number;
    duplicates: number;
    /** Attribution -> how many messages. */
    why: Map<string, number>;
    /** How long after the broker was started again the package's CONNECT reached it, per crash. */
    backAfterMs: number[];
    /** PUBRECs with 0x97 (quota exceeded): each such message was sent again. */
    busy: number;
}

async function crashRun(version: 4 | 5, durable: boolean, run: number): Promise<RunResult> {
    // max_queued_messages is raised (not 0: Mosquitto 2.0.11 mishandles 0 after a restore) so that
    // the broker's own queue limit for a subscriber that falls behind drops nothing.
    const mosquitto = await startMosquitto({ persistence: true, extraConfig: ['autosave_interval 1', 'max_queued_messages 1000000'] });
    const saves = watchBrokerSaves(mosquitto.dir);
    const publisherProxy = await new PacketRecorder(mosquitto.port, version).start();
    const subscriberProxy = await new PacketRecorder(mosquitto.port, version).start();
    const topic = `crash/${version}/${durable ? 'durable' : 'memory'}/${run}`;
    const v5 = version === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {};
    const subscriber = await mqtt.connectAsync(`mqtt://127.0.0.1:${subscriberProxy.port}`, {
        clientId: `crash-sub-${process.pid}-${version}-${durable}-${run}`,
        clean: false,
        protocolVersion: version,
        reconnectPeriod: 100,
        ...v5,
    });
    const received: string[] = [];
    subscriber.on('message', (_topic, payload) => received.push(String(payload)));
    await subscriber.subscribeAsync(topic, { qos: 2 });
    try {
        await loadFlow([
            externalBroker('b', publisherProxy.port, {
                clientid: `crash-pub-${process.pid}-${version}-${durable}-${run}`,
                cleansession: false,
                protocolVersion: String(version),
                sessionExpiry: '3600',
                durable: durable ? 'on' : 'off',
                queueLimit: String(MESSAGES),
            }),
            { id: 'out', type: 'mqtt-out', broker: 'b', topic, qos: '2', retain: '' },
        ]);
        // Why a message was refused, in the connection's words (the node's error text is a catalogue key here).
        const errors: string[] = [];
        const connection = getNode('b').connection;
        const publish = connection.publish.bind(connection);
        connection.publish = (message: { payload: Buffer }) =>
            publish(message).catch((err: Error) => {
                errors.push(`${message.payload}: ${err.message}`);
                throw err;
            });
        await waitForStatus('out', (s) => s.fill === 'green', 'connected');

        const crashes: { at: number }[] = [];
        const backAt: number[] = [];
        let generated = 0;
        const started = Date.now();
        const generator = (async () => {
            const out = getNode('out');
            while (generated < MESSAGES) {
                const due = Math.min(MESSAGES, Math.floor(((Date.now() - started) * RATE_PER_SECOND) / 1000));
                while (generated < due) out.receive({ payload: String(++generated) });
                // Paces the generator at RATE_PER_SECOND.
                await sleep(5);
            }
        })();
        for (const at of [0.3, 0.65]) {
            await eventually(() => generated >= at * MESSAGES, `${at * 100}% generated`, 60000);
            await mosquitto.kill();
            crashes.push({ at: Date.now() });
            // The broker stays down for a second.
            await sleep(1000);
            backAt.push(Date.now());
            await mosquitto.start();
        }
        await generator;
        const delivery = () => getNode('b').connection.delivery as { queued: number; inFlight: number };
        await eventually(() => delivery().queued === 0 && delivery().inFlight === 0, 'everything handed to the broker', 60000);
        // What the broker still owes the subscriber arrives within a few seconds; then quiet.
        let count = -1;
        while (count !== received.length) {
            count = received.length;
            await sleep(1500);
        }
        assert.deepEqual(errors, [], 'no message refused');

        const published = publisherProxy.packets;
        const seen = new Map<string, number>();
        for (const payload of received) seen.set(payload, (seen.get(payload) ?? 0) + 1);
        const why = new Map<string, number>();
        const note = (reason: string) => why.set(reason, (why.get(reason) ?? 0) + 1);
        let missing = 0;
        let duplicates = 0;
        for (let seq = 1; seq <= MESSAGES; seq++) {
            const payload = String(seq);
            const times = seen.get(payload) ?? 0;
            if (times === 0) {
                missing++;
                note(attributeMissing(payload, published, subscriberProxy.packets, crashes, saves.lastSaveBefore));
            } else {
                // Every message, delivered or not, had its exchange completed by the client exactly once.
                const fault = clientFault(published, payload);
                if (fault) note(fault);
                if (times > 1) {
                    duplicates += times - 1;
                    // The client published it once (checked above): a second copy is the broker's,
                    // sent again from a restored state that predates the subscriber's acknowledgement.
                    note('broker: sent the subscriber a message it had already delivered (restored from an older save)');
                }
            }
        }
        const backAfterMs = backAt.map((t) => {
            const connect = published.find((p) => p.toBroker && p.cmd === 'connect' && p.at >= t);
            return connect ? connect.at - t : NaN;
        });
        const busy = published.filter((p) => !p.toBroker && p.cmd === 'pubrec' && p.reasonCode === 0x97).length;
        return { missing, duplicates, why, backAfterMs, busy };
    } finally {
        await unloadFlow();
        saves.close();
        await subscriber.endAsync(true);
        await publisherProxy.stop();
        await subscriberProxy.stop();
        await mosquitto.dispose();
    }
}

function report(t: TestContext, results: RunResult[]): void {
    results.forEach((r, i) => {
        const why = [...r.why].map(([reason, n]) => `${n} ${reason}`).join('; ');
        t.diagnostic(`run ${i + 1}: ${r.missing} missing, ${r.duplicates} duplicates; CONNECT ${r.backAfterMs.join(' and ')} ms after each restart began; ${r.busy} sent again after quota exceeded${why ? `; ${why}` : ''}`);
    });
}

describe(`QoS 2 through a SIGKILLed Mosquitto, ${MESSAGES} messages a run, ${RUNS} run(s) a case`, () => {
    for (const version of [4, 5] as const) {
        for (const durable of [false, true]) {
            test(`MQTT ${version === 4 ? '3.1.1' : '5'}, ${durable ? 'durable' : 'memory'} store: whatever is lost, the broker lost`, async (t) => {
                const results: RunResult[] = [];
                for (let run = 1; run <= RUNS; run++) results.push(await crashRun(version, durable, run));
                report(t, results);
                for (const r of results) {
                    const ours = [...r.why].filter(([reason]) => CLIENT_FAULT.test(reason));
                    assert.deepEqual(ours, [], 'the package did its part of every QoS 2 exchange');
                }
            });
        }
    }
});
