/**
 * A migrated flow behaves as the core flow did. The fixture (a flow as Node-RED 4.1.8 saves it, with
 * the core MQTT nodes) runs twice on a fresh Mosquitto that only lets its user in: once as it is,
 * with Node-RED's own core nodes, and once migrated, with this package's nodes. The same inputs go
 * through its mqtt out nodes (the fixture's own inject nodes, and msgs with the MQTT 5 properties),
 * and each mqtt in must give the same msgs in both runs: topic, payload by its datatype, QoS, retain
 * (as its Retain As Published says), and MQTT 5 properties. The credentials are given by node id,
 * as Node-RED's credentials file holds them, so the migrated broker only connects if they carried over.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import * as mqtt from 'mqtt';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { allNodes, collect, coreNode, eventually, FlowNode, getNode, helper, useRuntime } from '../support/node-red';
import { NodeRedProcess, startNodeRed } from '../support/node-red-process';
import { migrateFlow } from '../../dist/lib/migrate';

useRuntime();

const NODE_SETS = [...allNodes, coreNode('network/10-mqtt.js'), coreNode('common/20-inject.js')];

const FIXTURE = path.join(__dirname, '..', '..', 'test', 'fixtures', 'core-mqtt-flow.json');
const LAB_BROKER = 'a3c5e7f901b2d4c6';
const SEND_STATIC = '1e3a5c7e9f0b2d46';
const SEND_FROM_MSG = '3c5e7a9b1d2f4a68';
const OUT_FROM_MSG = '4d6f8b0c2e3a5b79';
/** The fixture's debug nodes, each after one mqtt in: auto-detect (fixture/#), buffer (fixture/+), base64 (dynamic). */
const OUTPUTS = ['6f8b0d2e4a5c7d9b', '8b0d2f4a6c7e9f1d', '1f4b6d8e0a2c3d5a'];
const CASES = ['fixture/static', 'fixture/dynamic', 'fixture/props', 'fixture/number'];
const USER = 'fixture-user';
const PASSWORD = 'fixture-password';

/** The flow with the lab broker pointed at the test's Mosquitto, and the nodes of the other brokers (which name hosts elsewhere) left out. */
function onLabBroker(flow: FlowNode[], port: number): FlowNode[] {
    const elsewhere = new Set(flow.filter((n) => /broker/.test(n.type) && n.id !== LAB_BROKER).map((n) => n.id));
    return flow
        .filter((n) => !elsewhere.has(n.id) && !elsewhere.has(String(n.broker)) && n.type !== 'tls-config')
        .map((n) => (n.id === LAB_BROKER ? { ...n, broker: '127.0.0.1', port: String(port) } : n));
}

/** For the test helper runtime: debug nodes as helper nodes that collect. */
function runnable(flow: FlowNode[], port: number): FlowNode[] {
    return onLabBroker(flow, port).map((n) => (n.type === 'debug' ? { id: n.id, type: 'helper', z: n.z } : n));
}

async function securedMosquitto(): Promise<Mosquitto> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-migrate-auth-'));
    const passwords = path.join(dir, 'passwd');
    fs.writeFileSync(passwords, '');
    execFileSync('mosquitto_passwd', ['-b', passwords, USER, PASSWORD]);
    return startMosquitto({ extraConfig: [`password_file ${passwords}`, 'allow_anonymous false'] });
}

/**
 * Properties left out of the comparison: the msg id, and `_topic`, which the core mqtt in adds only
 * when its broker is localhost or 127.0.0.1 and nothing reads.
 */
const UNCOMPARED = ['_msgid', '_topic'];

/** What a msg says, with the message expiry as sent (the broker takes off the seconds it held the message). */
function observed(msg: any, sentExpiry: number | undefined): Record<string, unknown> {
    const seen: Record<string, unknown> = {};
    for (const key of Object.keys(msg).sort()) {
        if (UNCOMPARED.includes(key)) continue;
        seen[key] = msg[key];
    }
    if (typeof seen.messageExpiryInterval === 'number' && sentExpiry !== undefined) {
        assert.ok(sentExpiry - seen.messageExpiryInterval <= 5, `expiry ${seen.messageExpiryInterval} of ${sentExpiry}`);
        seen.messageExpiryInterval = sentExpiry;
    }
    return seen;
}

const SENT_EXPIRY: Record<string, number> = { 'fixture/static': 600, 'fixture/props': 120 };

/** Runs the flow on its own Mosquitto and returns, per debug node and topic, the msg it received. */
async function run(flow: FlowNode[]): Promise<Record<string, Record<string, Record<string, unknown>>>> {
    const broker = await securedMosquitto();
    try {
        const credentials = { [LAB_BROKER]: { user: USER, password: PASSWORD } };
        await new Promise<void>((resolve, reject) => helper.load(NODE_SETS, runnable(flow, broker.port), credentials, (err?: Error) => (err ? reject(err) : resolve())));
        const received = Object.fromEntries(OUTPUTS.map((id) => [id, collect(id)]));
        const has = (topic: string) => OUTPUTS.every((id) => received[id].some((m) => m.topic === topic));
        // The core nodes have no event for a granted subscription: send until every mqtt in has a message.
        // The fixture's dynamic mqtt in subscribes by its own inject node, which fires once at start.
        while (!has('fixture/ready')) {
            getNode(OUT_FROM_MSG).receive({ topic: 'fixture/ready', payload: 'ready', qos: 1 });
            await eventually(() => has('fixture/ready'), 'every subscription active', 250).catch(() => undefined);
        }
        getNode(SEND_STATIC).receive({});
        getNode(SEND_FROM_MSG).receive({});
        getNode(OUT_FROM_MSG).receive({
            topic: 'fixture/props',
            payload: Buffer.from([0xff, 0x00, 0x01]),
            qos: 1,
            retain: false,
            contentType: 'application/octet-stream',
            responseTopic: 'fixture/answer',
            correlationData: Buffer.from('corr-2'),
            userProperties: { k: 'v', n: '1' },
            messageExpiryInterval: SENT_EXPIRY['fixture/props'],
        });
        getNode(OUT_FROM_MSG).receive({ topic: 'fixture/number', payload: 42, qos: 0 });
        await eventually(() => CASES.every(has), 'every case at every mqtt in');
        const outcome: Record<string, Record<string, Record<string, unknown>>> = {};
        for (const id of OUTPUTS) {
            outcome[id] = {};
            for (const topic of CASES) {
                const msgs = received[id].filter((m) => m.topic === topic);
                assert.equal(msgs.length, 1, `${id} got ${topic} once`);
                outcome[id][topic] = observed(msgs[0], SENT_EXPIRY[topic]);
            }
        }
        return outcome;
    } finally {
        await helper.unload();
        await broker.dispose();
    }
}

describe('a migrated core flow on Mosquitto (MQTT 5)', () => {
    const core: FlowNode[] = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
    const migrated = migrateFlow(core).flow as FlowNode[];

    test('gives the same msgs as the core nodes did', async () => {
        assert.equal(migrated.find((n) => n.id === LAB_BROKER)?.type, 'broker-config', 'the flow under test is migrated');
        const before = await run(core);
        const after = await run(migrated);

        // What the core nodes gave is what the fixture asks for, so an empty or broken run cannot pass.
        const [autoDetect, buffer, base64] = OUTPUTS;
        assert.deepEqual(before[autoDetect]['fixture/static'], {
            contentType: 'text/plain',
            correlationData: Buffer.from('corr-1'),
            messageExpiryInterval: 600,
            payload: 'hello',
            qos: 1,
            responseTopic: 'fixture/reply',
            retain: true,
            topic: 'fixture/static',
            userProperties: { origin: 'fixture' },
        });
        assert.deepEqual(before[autoDetect]['fixture/dynamic'].payload, { t: 21.5 });
        assert.equal(before[autoDetect]['fixture/dynamic'].qos, 2);
        assert.equal(before[buffer]['fixture/static'].retain, false, 'Retain As Published off');
        assert.equal(before[buffer]['fixture/static'].qos, 1, 'QoS 1 subscription');
        assert.deepEqual(before[buffer]['fixture/dynamic'].payload, Buffer.from('{"t":21.5}'));
        assert.equal(before[base64]['fixture/number'].payload, Buffer.from('42').toString('base64'));
        assert.deepEqual(before[autoDetect]['fixture/props'].payload, Buffer.from([0xff, 0x00, 0x01]));

        for (const id of OUTPUTS) {
            for (const topic of CASES) assert.deepEqual(after[id][topic], before[id][topic], `${id} ${topic}`);
        }
    });
});

describe('the migrate command on a real Node-RED user directory', () => {
    test('rewrites flows.json in place; Node-RED starts the migrated broker with the credentials kept by node id', async () => {
        const broker = await securedMosquitto();
        const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-migrate-user-'));
        const core: FlowNode[] = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
        let runtime: NodeRedProcess | null = null;
        const witness = await mqtt.connectAsync(broker.url, { username: USER, password: PASSWORD });
        try {
            // The lab broker's birth message says when it has connected: its retained "online".
            const status: string[] = [];
            witness.on('message', (_topic, payload) => status.push(payload.toString()));
            await witness.subscribeAsync('fixture/status', { qos: 1 });
            runtime = await startNodeRed({ userDir, flows: onLabBroker(core, broker.port), credentials: { [LAB_BROKER]: { user: USER, password: PASSWORD } } });
            await eventually(() => status.includes('online'), 'the core broker connected');
            await runtime.stop();
            runtime = null;
            await eventually(() => status[status.length - 1] === 'offline', 'the core broker closed');
            const seen = status.length;

            const flowsFile = path.join(userDir, 'flows.json');
            const command = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'scripts', 'migrate.js'), 'migrate', '--in-place', flowsFile], { encoding: 'utf8' });
            assert.equal(command.status, 0, command.stderr);
            assert.match(command.stdout, /Migrated 6 nodes: 1 mqtt-broker -> broker-config, 3 mqtt in -> mqtt-in, 2 mqtt out -> mqtt-out/);
            assert.ok(fs.existsSync(`${flowsFile}.backup`));

            runtime = await startNodeRed({ userDir });
            await eventually(() => status.slice(seen).includes('online'), 'the migrated broker connected with the carried-over credentials', 20000);
            const flows = (await (await runtime.request('/flows')).json()) as FlowNode[];
            assert.equal(flows.find((n) => n.id === LAB_BROKER)?.type, 'broker-config');
            const credentials = await (await runtime.request(`/credentials/broker-config/${LAB_BROKER}`)).json();
            assert.deepEqual(credentials, { user: USER, has_password: true, has_aliyunDeviceSecret: false });
        } finally {
            await witness.endAsync();
            if (runtime) await runtime.stop();
            await broker.dispose();
            fs.rmSync(userDir, { recursive: true, force: true });
        }
    });
});
