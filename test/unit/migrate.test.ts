/**
 * The migration of core MQTT flows (dist/lib/migrate) and its command (scripts/migrate.js): the
 * fixture is a flow as Node-RED 4.1.8's editor saves one, with every option of the core MQTT nodes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { resolveBrokerSettings as resolveSettings } from '../../dist/index';
import type { BrokerConfigProps } from '../../dist/lib/broker-settings';
import { FlowFormatError, formatReport, migrateFlow, MigrationNote, parseFlow } from '../../dist/lib/migrate';

const ROOT = path.join(__dirname, '..', '..');
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'core-mqtt-flow.json');
const COMMAND = path.join(ROOT, 'scripts', 'migrate.js');

type Node = { id: string; type: string; [property: string]: any };

const resolveBrokerSettings = (node: Node) => resolveSettings(node as BrokerConfigProps);

function fixture(): Node[] {
    return JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));
}

function byId(nodes: Node[], id: string): Node {
    const node = nodes.find((n) => n.id === id);
    assert.ok(node, `node ${id}`);
    return node;
}

/** The property names in the `defaults` of an editor definition (nodes/<type>.html). */
function editorDefaults(type: string): string[] {
    const html = fs.readFileSync(path.join(ROOT, 'nodes', `${type}.html`), 'utf8');
    const block = /defaults: \{\n([\s\S]*?)\n {8}\},/.exec(html);
    assert.ok(block, `the defaults of ${type}`);
    return [...block[1].matchAll(/^ {12}(\w+):/gm)].map((m) => m[1]);
}

/** Properties every flow node may have, whatever its type. */
const FLOW_PROPERTIES = ['id', 'type', 'z', 'x', 'y', 'g', 'd', 'l', 'wires', 'name', 'info'];
const CREDENTIAL_FREE_CORE_BROKER = { id: 'b', type: 'mqtt-broker', name: 'b', broker: 'localhost', port: '1883', protocolVersion: '4', cleansession: true };

function notesOf(nodes: unknown[], id: string): MigrationNote[] {
    return migrateFlow(nodes).notes.filter((n) => n.nodeId === id);
}

function migratedNode(node: Node): Node {
    return (migrateFlow([node]).flow as Node[])[0];
}

describe('the fixture flow', () => {
    const source = fixture();
    const result = migrateFlow(source);
    const out = result.flow as Node[];

    test('every core MQTT node gets this package type; every other node stays as it was', () => {
        assert.equal(out.length, source.length);
        const types: Record<string, string> = { 'mqtt-broker': 'broker-config', 'mqtt in': 'mqtt-in', 'mqtt out': 'mqtt-out' };
        for (const [i, before] of source.entries()) {
            const after = out[i];
            assert.equal(after.id, before.id, 'same order, same ids');
            if (types[before.type]) assert.equal(after.type, types[before.type]);
            else assert.deepEqual(after, before, `${before.type} ${before.id} untouched`);
        }
        assert.deepEqual(
            result.migrated.map((m) => `${m.from}>${m.to}`).sort(),
            [...Array(3).fill('mqtt-broker>broker-config'), ...Array(4).fill('mqtt in>mqtt-in'), ...Array(3).fill('mqtt out>mqtt-out')].sort(),
        );
    });

    test('mqtt in and mqtt out keep every property but the type', () => {
        for (const before of source.filter((n) => n.type === 'mqtt in' || n.type === 'mqtt out')) {
            const { type: _type, ...rest } = byId(out, before.id);
            const { type: _before, ...expected } = before;
            assert.deepEqual(rest, expected, before.id);
        }
    });

    test('a broker keeps every property this package understands, and says external', () => {
        for (const before of source.filter((n) => n.type === 'mqtt-broker')) {
            const after = byId(out, before.id);
            assert.equal(after.mode, 'external');
            const removed = Object.keys(before).filter((k) => !(k in after));
            for (const key of removed) assert.ok(['compatmode', 'autoUnsubscribe'].includes(key), `${key} is removed only when not understood`);
            for (const key of ['name', 'broker', 'tls', 'clientid', 'autoConnect', 'usetls', 'verifyservercert', 'keepalive', 'cleansession', 'userProps', 'sessionExpiry', 'birthTopic', 'birthPayload', 'birthQos', 'birthRetain', 'closeTopic', 'closePayload', 'closeQos', 'closeRetain', 'willTopic', 'willPayload', 'willQos', 'willRetain', 'birthMsg', 'closeMsg', 'willMsg']) {
                assert.deepEqual(after[key], before[key], `${before.id} ${key}`);
            }
        }
    });

    test("every property of a migrated node is one this package's editor knows", () => {
        const known: Record<string, string[]> = Object.fromEntries(['broker-config', 'mqtt-in', 'mqtt-out'].map((t) => [t, [...editorDefaults(t), ...FLOW_PROPERTIES]]));
        for (const node of out.filter((n) => known[n.type])) {
            for (const key of Object.keys(node)) assert.ok(known[node.type].includes(key), `${node.type} ${node.id}: ${key}`);
        }
    });

    test('each migrated broker connects where the core node did', () => {
        const urls = out.filter((n) => n.type === 'broker-config').map((n) => resolveBrokerSettings(n).url);
        assert.deepEqual(urls, ['mqtt://localhost:1883', 'mqtts://plant.example:1883', 'wss://cloud.example:8884/mqtt']);
        assert.equal(resolveBrokerSettings(byId(out, 'a3c5e7f901b2d4c6')).protocolVersion, 5);
    });

    test('the notes name what did not carry over', () => {
        const said = result.notes.map((n) => `${n.kind} ${n.nodeId} ${n.property}`).sort();
        assert.deepEqual(said, [
            'changed b6d8f0a2c4e61357 port',
            'differs d2f4a6c8e0b13579 cleansession',
            'dropped b6d8f0a2c4e61357 autoUnsubscribe',
            'dropped b6d8f0a2c4e61357 protocolVersion',
        ]);
    });

    test('a migrated flow has nothing left to migrate', () => {
        const again = migrateFlow(out);
        assert.equal(again.migrated.length, 0);
        assert.deepEqual(again.flow, out);
    });

    test('the report says it in words', () => {
        const report = formatReport(result);
        assert.match(report, /Migrated 10 nodes: 3 mqtt-broker -> broker-config, 4 mqtt in -> mqtt-in, 3 mqtt out -> mqtt-out\./);
        assert.match(report, /Credentials .* carry over unchanged/);
        assert.match(report, /Not carried over \(2\):\n {2}- mqtt-broker "Plant broker 3.1" \(b6d8f0a2c4e61357\) protocolVersion: [^\n]*\n {2}- mqtt-broker "Plant broker 3.1" \(b6d8f0a2c4e61357\) autoUnsubscribe: /);
        assert.match(report, /Kept, but working differently here \(1\):/);
        assert.match(formatReport(migrateFlow([{ id: 't', type: 'tab' }])), /nothing to migrate/);
    });
});

describe('broker rules', () => {
    test('MQTT 3.1 becomes 3.1.1, by protocolVersion 3 or by compatmode', () => {
        for (const legacy of [{ protocolVersion: '3' }, { protocolVersion: 3 }, { compatmode: true, protocolVersion: '5' }, { compatmode: 'true' }]) {
            const core = { ...CREDENTIAL_FREE_CORE_BROKER, ...legacy };
            assert.equal(migratedNode(core).protocolVersion, '4', JSON.stringify(legacy));
            assert.deepEqual(notesOf([core], 'b').map((n) => n.kind), ['dropped']);
        }
        assert.deepEqual(notesOf([{ ...CREDENTIAL_FREE_CORE_BROKER, compatmode: false }], 'b'), []);
    });

    test('TLS without a tls-config node and without verifyservercert: certificates are verified here', () => {
        const tls = { ...CREDENTIAL_FREE_CORE_BROKER, usetls: true };
        assert.deepEqual(notesOf([tls], 'b').map((n) => `${n.kind} ${n.property}`), ['differs verifyservercert']);
        assert.deepEqual(notesOf([{ ...tls, broker: 'mqtts://h', usetls: false }], 'b').map((n) => n.property), ['verifyservercert']);
        assert.deepEqual(notesOf([{ ...tls, verifyservercert: false }], 'b'), [], 'said explicitly: kept');
        assert.deepEqual(notesOf([{ ...tls, tls: 'tls1' }], 'b'), [], 'the tls-config node decides');
        assert.equal(migratedNode(tls).verifyservercert, undefined, 'never turned off on the quiet');
    });

    test('an empty port is the core 1883, also with TLS; a URL keeps its own', () => {
        assert.equal(migratedNode({ ...CREDENTIAL_FREE_CORE_BROKER, port: '' }).port, '1883');
        assert.deepEqual(notesOf([{ ...CREDENTIAL_FREE_CORE_BROKER, port: '' }], 'b'), []);
        const tls = migrateFlow([{ ...CREDENTIAL_FREE_CORE_BROKER, port: '', usetls: true, verifyservercert: true }]);
        assert.equal((tls.flow as Node[])[0].port, '1883');
        assert.equal((tls.flow as Node[])[0].protocol, 'mqtts');
        assert.deepEqual(tls.notes.map((n) => `${n.kind} ${n.property}`), ['changed port']);
        const url = migratedNode({ ...CREDENTIAL_FREE_CORE_BROKER, broker: 'ws://h/path', port: '' });
        assert.equal(url.port, '');
        assert.equal(url.protocol, 'ws');
        assert.equal(resolveBrokerSettings(url).url, 'ws://h:80/path');
    });

    test('a URL scheme this package does not speak is said', () => {
        const notes = notesOf([{ ...CREDENTIAL_FREE_CORE_BROKER, broker: 'quic://h:1' }], 'b');
        assert.deepEqual(notes.map((n) => `${n.kind} ${n.property}`), ['differs broker']);
        assert.match(notes[0].text, /will not start/);
    });

    test('a user name and password in the broker URL leave the flow, and the note says where they go', () => {
        const notes = notesOf([{ ...CREDENTIAL_FREE_CORE_BROKER, broker: 'mqtt://bob:hunter2@h:1884' }], 'b');
        assert.deepEqual(notes.map((n) => `${n.kind} ${n.property}`), ['changed broker']);
        assert.match(notes[0].text, /User name and Password fields/);
        assert.doesNotMatch(JSON.stringify(notes), /hunter2|bob/);
        const after = migratedNode({ ...CREDENTIAL_FREE_CORE_BROKER, broker: 'mqtt://bob:hunter2@h:1884' });
        assert.equal(after.broker, 'mqtt://h:1884');
        assert.equal(resolveBrokerSettings(after).url, 'mqtt://h:1884');
    });

    test("the core runtime's own names move to the editor's: url, userProperties, sessionExpiryInterval", () => {
        const core = { ...CREDENTIAL_FREE_CORE_BROKER, url: 'mqtts://h:8883', userProperties: { a: 'b' }, sessionExpiryInterval: 60, verifyservercert: true };
        const after = migratedNode(core);
        assert.equal(after.broker, 'mqtts://h:8883');
        assert.equal(after.protocol, 'mqtts');
        assert.equal(after.userProps, '{"a":"b"}');
        assert.equal(after.sessionExpiry, 60);
        for (const gone of ['url', 'userProperties', 'sessionExpiryInterval']) assert.ok(!(gone in after), gone);
        assert.deepEqual(notesOf([core], 'b').map((n) => n.kind), ['changed', 'changed', 'changed']);
    });

    test('persistent sessions: no client id, and MQTT 5 without a session expiry', () => {
        const noId = notesOf([{ ...CREDENTIAL_FREE_CORE_BROKER, cleansession: false, clientid: '' }], 'b');
        assert.deepEqual(noId.map((n) => `${n.kind} ${n.property}`), ['differs cleansession']);
        const v5 = { ...CREDENTIAL_FREE_CORE_BROKER, cleansession: 'false', clientid: 'c', protocolVersion: '5' };
        assert.deepEqual(notesOf([{ ...v5, sessionExpiry: '' }], 'b').map((n) => `${n.kind} ${n.property}`), ['differs sessionExpiry']);
        assert.deepEqual(notesOf([{ ...v5, sessionExpiry: '0' }], 'b'), []);
        assert.deepEqual(notesOf([{ ...v5, cleansession: true, sessionExpiry: '' }], 'b'), []);
    });

    test('runtime-only limits of the core broker are dropped with a note when set', () => {
        const notes = notesOf([{ ...CREDENTIAL_FREE_CORE_BROKER, topicAliasMaximum: 10, receiveMaximum: 5, maximumPacketSize: '' }], 'b');
        assert.deepEqual(notes.map((n) => n.property), ['topicAliasMaximum', 'receiveMaximum']);
    });
});

describe('mqtt in rules', () => {
    const coreIn = { id: 'i', type: 'mqtt in', z: 't', topic: 'a/#', qos: '1', datatype: 'json', broker: 'b', wires: [['x']] };

    test('a QoS the core read as 2 is written as 2', () => {
        for (const qos of ['5', 'x', -1]) {
            const result = migrateFlow([CREDENTIAL_FREE_CORE_BROKER, { ...coreIn, qos }]);
            assert.equal((result.flow as Node[])[1].qos, '2', String(qos));
            assert.deepEqual(result.notes.map((n) => `${n.kind} ${n.property}`), ['changed qos']);
        }
        for (const qos of ['0', 1, '2', '', undefined]) assert.deepEqual(notesOf([CREDENTIAL_FREE_CORE_BROKER, { ...coreIn, qos }], 'i'), [], String(qos));
    });

    test('an output the core read as auto-detect is written as auto-detect; none stays none (utf8 in both)', () => {
        assert.equal((migrateFlow([CREDENTIAL_FREE_CORE_BROKER, { ...coreIn, datatype: 'xml' }]).flow as Node[])[1].datatype, 'auto-detect');
        const unset = { ...coreIn, datatype: undefined };
        assert.equal((migrateFlow([CREDENTIAL_FREE_CORE_BROKER, unset]).flow as Node[])[1].datatype, undefined);
        assert.deepEqual(notesOf([CREDENTIAL_FREE_CORE_BROKER, unset], 'i'), []);
    });

    test('a broker that is not in the flow, and a foreign node that refers to a core broker, are said', () => {
        assert.deepEqual(notesOf([{ ...coreIn, broker: 'elsewhere' }], 'i').map((n) => `${n.kind} ${n.property}`), ['check broker']);
        const foreign = { id: 'f', type: 'some-mqtt-helper', z: 't', server: 'b', wires: [] };
        const result = migrateFlow([CREDENTIAL_FREE_CORE_BROKER, foreign]);
        assert.deepEqual(result.notes.map((n) => `${n.kind} ${n.nodeId} ${n.property}`), ['check f server']);
        assert.deepEqual((result.flow as Node[])[1], foreign);
    });
});

describe('flow shapes', () => {
    test("the admin API's { rev, flows } keeps its other keys", () => {
        const result = migrateFlow({ rev: 'abc', flows: [CREDENTIAL_FREE_CORE_BROKER] });
        assert.deepEqual(Object.keys(result.flow as object), ['rev', 'flows']);
        assert.equal((result.flow as { flows: Node[] }).flows[0].type, 'broker-config');
    });

    test('what is not a flow is refused', () => {
        for (const bad of [{}, 'flows', null, 42, { flows: {} }]) assert.throws(() => migrateFlow(bad), FlowFormatError);
        assert.throws(() => parseFlow('{"id":'), /not JSON/);
        assert.throws(() => parseFlow('{"nodes":[]}'), FlowFormatError);
        assert.deepEqual(parseFlow('[]'), []);
        assert.deepEqual(migrateFlow([null, 3, { x: 1 }]).flow, [null, 3, { x: 1 }], 'entries that are not nodes are left alone');
    });
});

describe('the migrate command', () => {
    function run(args: string[]): { status: number | null; stdout: string; stderr: string } {
        return spawnSync(process.execPath, [COMMAND, ...args], { encoding: 'utf8' });
    }
    function workDir(): string {
        return fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-migrate-'));
    }

    test('writes <name>.mqtt-wire.json beside the input, copies the credentials file, and reports', () => {
        const dir = workDir();
        const flows = path.join(dir, 'flows.json');
        fs.copyFileSync(FIXTURE, flows);
        fs.writeFileSync(path.join(dir, 'flows_cred.json'), '{"$":"encrypted"}\n');
        const { status, stdout } = run(['migrate', flows]);
        assert.equal(status, 0);
        assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'flows.mqtt-wire.json'), 'utf8')), migrateFlow(fixture()).flow);
        assert.equal(fs.readFileSync(path.join(dir, 'flows.mqtt-wire_cred.json'), 'utf8'), '{"$":"encrypted"}\n');
        assert.equal(fs.readFileSync(flows, 'utf8'), fs.readFileSync(FIXTURE, 'utf8'), 'the input is left as it was');
        assert.match(stdout, /Migrated 10 nodes/);
        assert.match(stdout, /Not carried over \(2\)/);
        assert.match(stdout, /Wrote .*flows\.mqtt-wire\.json/);
        assert.match(stdout, /Copied .*flows_cred\.json to .*flows\.mqtt-wire_cred\.json/);
        assert.match(fs.readFileSync(path.join(dir, 'flows.mqtt-wire.json'), 'utf8'), /^\[\n {4}\{/, 'indented as Node-RED writes it');
    });

    test('--in-place keeps a backup; a compact file stays compact', () => {
        const dir = workDir();
        const flows = path.join(dir, 'flows.json');
        const original = JSON.stringify(fixture());
        fs.writeFileSync(flows, original);
        const { status, stdout } = run(['migrate', '--in-place', flows]);
        assert.equal(status, 0);
        assert.equal(fs.readFileSync(`${flows}.backup`, 'utf8'), original);
        const rewritten = fs.readFileSync(flows, 'utf8');
        assert.equal(rewritten, `${JSON.stringify(migrateFlow(fixture()).flow)}\n`);
        assert.match(stdout, /the original is in .*flows\.json\.backup/);
        assert.equal(run(['migrate', '--in-place', flows]).status, 0);
        assert.equal(fs.readFileSync(`${flows}.backup`, 'utf8'), original, 'an earlier backup is never overwritten');
        assert.deepEqual(fs.readdirSync(dir).sort(), ['flows.json', 'flows.json.backup']);
    });

    test('--output names the file; a flow without core MQTT nodes writes nothing', () => {
        const dir = workDir();
        const flows = path.join(dir, 'flows.json');
        fs.copyFileSync(FIXTURE, flows);
        assert.equal(run(['migrate', flows, '--output', path.join(dir, 'out.json')]).status, 0);
        assert.ok(fs.existsSync(path.join(dir, 'out.json')));
        const plain = path.join(dir, 'plain.json');
        fs.writeFileSync(plain, '[{"id":"t","type":"tab"}]');
        const { status, stdout } = run(['migrate', plain]);
        assert.equal(status, 0);
        assert.match(stdout, /nothing to migrate[\s\S]*no file written/);
        assert.ok(!fs.existsSync(path.join(dir, 'plain.mqtt-wire.json')));
    });

    test('unreadable input exits 1 and writes nothing; a wrong command line exits 2', () => {
        const dir = workDir();
        const missing = run(['migrate', path.join(dir, 'none.json')]);
        assert.equal(missing.status, 1);
        assert.match(missing.stderr, /Cannot read/);
        for (const [name, text] of [['broken.json', '[{"id":'], ['object.json', '{"a":1}']]) {
            const file = path.join(dir, name);
            fs.writeFileSync(file, text);
            const result = run(['migrate', '--in-place', file]);
            assert.equal(result.status, 1, name);
            assert.match(result.stderr, /is not a flow file that can be migrated/);
            assert.equal(fs.readFileSync(file, 'utf8'), text);
        }
        assert.deepEqual(fs.readdirSync(dir).sort(), ['broken.json', 'object.json']);
        for (const args of [[], ['convert', 'f.json'], ['migrate'], ['migrate', 'a.json', '--in-place', '--output', 'b.json'], ['migrate', '--bogus', 'a.json']]) {
            const result = run(args);
            assert.equal(result.status, 2, args.join(' '));
            assert.match(result.stderr, /\S/);
        }
        const help = run(['--help']);
        assert.equal(help.status, 0);
        assert.match(help.stdout, /Usage: node-red-contrib-mqtt-wire migrate/);
    });
});
