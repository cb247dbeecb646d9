/**
 * The examples that need a broker of their own - a login, QoS 2 billing on a persistent session,
 * shared subscriptions - deployed as imported against private Mosquitto brokers (in place of
 * 127.0.0.1:1883) and checked against what their comments promise, with foreign MQTT.js clients.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { test } from 'node:test';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { collect, eventually, getNode, helper, lastStatus, unloadFlow, useRuntime, waitForStatus, waitForSubscribed } from '../support/node-red';
import { click, ForeignClient, loadExample, nodeNamed, nodeWith, statusInWords } from './example-flows';

const broker = useRuntime(() => startMosquitto());

const LOGIN = { user: 'nodered', password: 'correct horse battery staple' };

/** A Mosquitto that lets in only LOGIN, as the login example's comment configures it. */
async function mosquittoWithLogin(): Promise<Mosquitto> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-example-login-'));
    const passwordFile = path.join(dir, 'passwd');
    const made = spawnSync('mosquitto_passwd', ['-b', '-c', passwordFile, LOGIN.user, LOGIN.password], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`mosquitto_passwd failed (it comes with the mosquitto package): ${made.error?.message ?? made.stderr}`);
    // Later lines win: this replaces the allow_anonymous true of every test broker.
    return new Mosquitto({ extraConfig: ['allow_anonymous false', `password_file ${passwordFile}`] }).start();
}

test('external-broker-login.json: connects once the user name and password are given, and says why it cannot without them', async (t) => {
    const secured = await mosquittoWithLogin();
    t.after(() => secured.dispose());
    const file = 'external-broker-login.json';

    for (const [what, credentials] of [['no credentials', {}], ['a wrong password', { 'my Mosquitto': { ...LOGIN, password: 'wrong' } }]] as const) {
        const flow = await loadExample(file, secured.port, credentials);
        const myMosquitto = nodeNamed(flow, 'my Mosquitto', 'broker-config');
        const out = nodeWith(flow, 'mqtt-out', 'topic', 'nodered/hello');
        await waitForStatus(out.id, (s) => s.fill === 'red' && /reconnecting/.test(s.text ?? ''), `refused with ${what}`);
        assert.match(statusInWords(myMosquitto.id), /^reconnecting \(attempt \d+\): not authorized - check the user name and password/, `with ${what}`);
        assert.equal(flow.filter((n) => n.credentials !== undefined).length, 0, 'the example stores no credentials');
        await unloadFlow();
    }

    const flow = await loadExample(file, secured.port, { 'my Mosquitto': LOGIN });
    const myMosquitto = nodeNamed(flow, 'my Mosquitto', 'broker-config');
    const heard = collect(nodeNamed(flow, 'heard from the broker', 'debug').id);
    await waitForSubscribed(myMosquitto.id, 'nodered/#');
    assert.equal(lastStatus(nodeWith(flow, 'mqtt-out', 'topic', 'nodered/hello').id)?.fill, 'green');
    assert.equal(statusInWords(myMosquitto.id), `connected to 127.0.0.1:${secured.port}`);
    const listener = await ForeignClient.connect(secured.port, { username: LOGIN.user, password: LOGIN.password });
    t.after(() => listener.end());
    await listener.subscribe('nodered/#');
    click(nodeNamed(flow, 'say hello', 'inject').id);
    await eventually(() => heard.length === 1 && listener.on('nodered/hello').length === 1, 'hello in the debug node and on the wire');
    assert.equal(heard[0].payload, 'hello from Node-RED');
    assert.equal(listener.on('nodered/hello')[0].text, 'hello from Node-RED');
});

test('billing-qos2-exactly-once.json: N events at QoS 2 count N, also those sent while Node-RED was stopped', async (t) => {
    const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-example-billing-'));
    t.after(() => fs.rmSync(userDir, { recursive: true, force: true }));
    helper.settings({ userDir });
    const file = 'billing-qos2-exactly-once.json';
    const port = broker().port;

    const meter = await ForeignClient.connect(port);
    t.after(() => meter.end());
    await meter.subscribe('billing/#', 2);
    /**
     * Publishes events from..to of test-meter at QoS 2, then one event of `marker`: from one
     * publisher they arrive in order, so all are in when it is. One at a time, as a meter sends
     * them: Mosquitto 2.0 drops QoS 2 messages beyond its 20 in flight from an MQTT 3.1.1 client
     * (and acknowledges them).
     */
    const publishEvents = async (from: number, to: number, marker: string) => {
        for (let seq = from; seq <= to; seq++) await meter.publish('billing/test-meter/usage', JSON.stringify({ units: 1, seq }), { qos: 2 });
        await meter.publish(`billing/${marker}/usage`, '{"units": 1}', { qos: 2 });
    };
    /** Loads the example, waits until it is connected and subscribed, and collects what the counter sends. */
    const deploy = async (session: 'new' | 'resumed') => {
        const flow = await loadExample(file, port);
        const config = nodeNamed(flow, 'Mosquitto for billing (persistent session)', 'broker-config');
        const counted = collect(nodeNamed(flow, 'count per meter', 'debug').id);
        // A resumed session keeps its subscription at the broker: nothing is subscribed again.
        if (session === 'new') await waitForSubscribed(config.id, 'billing/+/usage');
        else await waitForStatus(nodeWith(flow, 'mqtt-in', 'topic', 'billing/+/usage').id, (s) => s.fill === 'green', 'connected again');
        return { flow, config, counted };
    };
    const countsOf = (counted: any[], meterName: string): number[] => counted.filter((m) => m.payload.meter === meterName).map((m) => m.payload.count);
    const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

    const N = 200;
    const first = await deploy('new');
    await publishEvents(1, N, 'end-of-batch-1');
    await eventually(() => countsOf(first.counted, 'end-of-batch-1').length === 1, 'the whole first batch counted');
    assert.deepEqual(countsOf(first.counted, 'test-meter'), upTo(N), `${N} events counted ${N} times`);
    assert.ok(first.counted.every((m) => m.qos === 2), 'every event arrived at QoS 2');

    click(nodeNamed(first.flow, 'one billable event of meter-1', 'inject').id);
    await eventually(() => countsOf(first.counted, 'meter-1').length === 1 && meter.on('billing/meter-1/usage').length === 1, 'the meter-1 event counted and on the wire');
    assert.equal(meter.on('billing/meter-1/usage')[0].qos, 2, 'the inject event is published at QoS 2');
    const counter = nodeNamed(first.flow, 'count each event once', 'function');
    // (The function node's sandbox makes the object: copied here to compare it as a plain one.)
    assert.deepEqual({ ...getNode(counter.id).context().flow.get('billingCounts') }, { 'test-meter': N, 'end-of-batch-1': 1, 'meter-1': 1 }, 'flow context holds the counts');
    assert.ok(fs.existsSync(path.join(userDir, 'mqtt-wire', `${first.config.id}-node-red-billing.journal`)), 'the durable store file is in the user directory');

    await unloadFlow();
    const M = 25;
    await publishEvents(N + 1, N + M, 'end-of-batch-2');
    const second = await deploy('resumed');
    await eventually(() => countsOf(second.counted, 'end-of-batch-2').length === 1, 'the batch sent while Node-RED was stopped counted');
    assert.equal(countsOf(second.counted, 'test-meter').length, M, `the ${M} events sent while Node-RED was stopped, each counted once`);
});

test('shared-subscription-workers.json: each job goes to one of the two workers, and both get some', async (t) => {
    const file = 'shared-subscription-workers.json';
    const port = broker().port;
    const flow = await loadExample(file, port);
    const connections = ['worker A connection', 'worker B connection'].map((name) => nodeNamed(flow, name, 'broker-config'));
    await Promise.all(connections.map((c) => waitForSubscribed(c.id, '$share/workers/jobs/#')));
    const byA = collect(nodeNamed(flow, 'handled by worker A', 'debug').id);
    const byB = collect(nodeNamed(flow, 'handled by worker B', 'debug').id);
    assert.equal(getNode(connections[0].id).connection !== getNode(connections[1].id).connection, true, 'two connections');

    const publisher = await ForeignClient.connect(port, { protocolVersion: 5 });
    t.after(() => publisher.end());
    const JOBS = 20;
    for (let job = 1; job <= JOBS; job++) await publisher.publish(`jobs/test/${job}`, JSON.stringify({ job }), { qos: 1 });
    await eventually(() => byA.length + byB.length >= JOBS, `${JOBS} jobs handled`);
    const jobsOf = (msgs: any[]) => msgs.filter((m) => m.topic.startsWith('jobs/test/')).map((m) => m.payload.job as number);
    assert.ok(jobsOf(byA).length > 0 && jobsOf(byB).length > 0, `both workers work: A ${jobsOf(byA).length}, B ${jobsOf(byB).length}`);
    assert.deepEqual([...jobsOf(byA), ...jobsOf(byB)].sort((a, b) => a - b), Array.from({ length: JOBS }, (_, i) => i + 1), 'each job once, none lost');

    click(nodeNamed(flow, 'publish 10 jobs', 'inject').id);
    const fromFlow = () => [...byA, ...byB].filter((m) => m.topic.startsWith('jobs/resize/'));
    await eventually(() => fromFlow().length >= 10, 'the 10 jobs of the inject node handled');
    assert.deepEqual(fromFlow().map((m) => m.payload.job).sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(byA.length + byB.length, JOBS + 10, 'no job handled twice');
});
