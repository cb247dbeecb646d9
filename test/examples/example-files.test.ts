/**
 * What every file in examples/ must be before anyone imports it: a valid flow of node types that
 * exist, with every property one its node knows (a misspelt one silently becomes a default), its
 * brokers present in the file, no credentials, a comment node that explains it, and a test of its
 * own that deploys it.
 */
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as path from 'path';
import { describe, test } from 'node:test';
import { FlowNode } from '../support/node-red';
import { CORE_NODE_FILES, exampleFiles, EXAMPLES_DIR, PACKAGE_NODE_TYPES, readExample } from './example-flows';

const ROOT = path.join(__dirname, '..', '..');
const nodeRedDir = path.dirname(require.resolve(process.env.MQTT_WIRE_NODE_RED ? path.resolve(process.env.MQTT_WIRE_NODE_RED, 'package.json') : 'node-red/package.json'));

/** The editor file of a node type: this package's nodes/<type>.html, or the core node's .html. */
function editorFile(type: string): string {
    if (PACKAGE_NODE_TYPES.includes(type)) return path.join(ROOT, 'nodes', `${type}.html`);
    return require.resolve(`@node-red/nodes/core/${CORE_NODE_FILES[type]}`, { paths: [nodeRedDir] }).replace(/\.js$/, '.html');
}

/**
 * The property names in the `defaults` of a node's editor definition: the keys one level inside
 * `defaults: {`, found by indentation (the values hold functions and regular expressions with braces).
 */
function editorDefaults(type: string): Set<string> {
    const lines = fs.readFileSync(editorFile(type), 'utf8').split('\n');
    const start = lines.findIndex((line) => /^\s*defaults:\s*\{\s*$/.test(line));
    assert.ok(start >= 0, `no defaults in the editor file of ${type}`);
    const indent = /^\s*/.exec(lines[start])![0].length;
    const keys = new Set<string>();
    for (const line of lines.slice(start + 1)) {
        if (new RegExp(`^\\s{${indent}}\\}`).test(line)) break;
        const key = new RegExp(`^\\s{${indent + 4}}([A-Za-z_$][\\w$]*)\\s*:`).exec(line);
        if (key) keys.add(key[1]);
    }
    return keys;
}

/** Properties every node of a flow file may have besides its defaults. */
const FLOW_KEYS = ['id', 'type', 'z', 'x', 'y', 'w', 'h', 'g', 'd', 'wires'];
const TAB_KEYS = ['id', 'type', 'label', 'disabled', 'info', 'env', 'locked'];
const MQTT_NODE_TYPES = ['mqtt-in', 'mqtt-out'];

const known = new Map<string, Set<string>>();
function knownProperties(type: string): Set<string> {
    if (!known.has(type)) known.set(type, new Set([...FLOW_KEYS, ...editorDefaults(type)]));
    return known.get(type)!;
}

test('the defaults are read from the editor files (each has a name, and the properties the examples are about)', () => {
    for (const type of [...PACKAGE_NODE_TYPES, ...Object.keys(CORE_NODE_FILES)]) assert.ok(editorDefaults(type).has('name'), `${type}: ${[...editorDefaults(type)]}`);
    for (const [type, key] of [['broker-config', 'cleansession'], ['broker-config', 'durable'], ['mqtt-in', 'datatype'], ['mqtt-in', 'inputs'], ['mqtt-out', 'retain'], ['inject', 'repeat'], ['debug', 'tosidebar'], ['switch', 'rules']]) {
        assert.ok(editorDefaults(type).has(key), `${type} has ${key}`);
    }
});

test('there are examples, and every one has a test that deploys it', () => {
    const files = exampleFiles();
    assert.ok(files.includes('embedded-broker-basic.json'), `the quick start's example is missing: ${files.join(', ')}`);
    assert.deepEqual(fs.readdirSync(EXAMPLES_DIR).filter((f) => !f.endsWith('.json')), [], 'only flow files in examples/');
    const testSources = fs
        .readdirSync(path.join(ROOT, 'test', 'examples'))
        .filter((f) => f.endsWith('.test.ts') && f !== 'example-files.test.ts')
        .map((f) => fs.readFileSync(path.join(ROOT, 'test', 'examples', f), 'utf8'));
    for (const file of files) assert.ok(testSources.some((source) => source.includes(`test('${file}:`)), `no test deploys ${file}`);
});

for (const file of exampleFiles()) {
    describe(file, () => {
        const flow = (): FlowNode[] => readExample(file);

        test('is a JSON array of nodes with one tab, unique ids, and every node on that tab', () => {
            const nodes = JSON.parse(fs.readFileSync(path.join(EXAMPLES_DIR, file), 'utf8'));
            assert.ok(Array.isArray(nodes) && nodes.length > 0);
            for (const n of nodes) assert.ok(typeof n.id === 'string' && n.id !== '' && typeof n.type === 'string', JSON.stringify(n));
            const tabs = flow().filter((n) => n.type === 'tab');
            assert.equal(tabs.length, 1, 'one tab');
            assert.match(String(tabs[0].label), /^MQTT wire: \S/);
            assert.equal(new Set(flow().map((n) => n.id)).size, flow().length, 'unique ids');
            for (const n of flow()) {
                if (n.type === 'tab' || n.type === 'broker-config') continue;
                assert.equal(n.z, tabs[0].id, `${n.type} ${n.id} is on the tab`);
            }
        });

        test('uses only node types that exist: this package\'s and core ones', () => {
            const allowed = new Set(['tab', ...PACKAGE_NODE_TYPES, ...Object.keys(CORE_NODE_FILES)]);
            for (const n of flow()) assert.ok(allowed.has(n.type), `unknown type ${n.type}`);
        });

        test('sets only properties its nodes know', () => {
            for (const n of flow()) {
                const keys = n.type === 'tab' ? new Set(TAB_KEYS) : knownProperties(n.type);
                for (const key of Object.keys(n)) assert.ok(keys.has(key), `${n.type} "${n.name ?? n.id}" has a property "${key}" its node does not know`);
            }
        });

        test('wires lead to nodes in the file, and every mqtt node uses a broker-config of the file', () => {
            const ids = new Set(flow().map((n) => n.id));
            const brokers = new Set(flow().filter((n) => n.type === 'broker-config').map((n) => n.id));
            const used = new Set<unknown>();
            for (const n of flow()) {
                for (const target of ((n.wires as string[][] | undefined) ?? []).flat()) assert.ok(ids.has(target), `${n.type} ${n.id} is wired to ${target}, not in the file`);
                if (MQTT_NODE_TYPES.includes(n.type)) {
                    assert.ok(brokers.has(n.broker as string), `${n.type} "${n.name || n.topic}" uses broker ${n.broker}, not in the file`);
                    used.add(n.broker);
                }
            }
            assert.deepEqual([...brokers].filter((id) => !used.has(id)), [], 'every broker-config is used');
        });

        test('stores no credentials, and its brokers are 127.0.0.1:1883 as the comments say', () => {
            const comments = flow().filter((n) => n.type === 'comment');
            assert.ok(comments.length >= 1, 'a comment node explains it');
            for (const c of comments) assert.ok(String(c.name).length > 10 && String(c.info).length > 100, 'the comment has a heading and an explanation');
            const words = comments.map((c) => `${c.name}\n${c.info}`).join('\n');
            for (const n of flow()) {
                assert.equal(n.credentials, undefined, `${n.type} ${n.id} stores credentials`);
                for (const secret of ['user', 'password', 'username']) assert.equal(n[secret], undefined, `${n.type} ${n.id} has ${secret}`);
                if (n.type !== 'broker-config') continue;
                if (n.auth === 'aliyun') {
                    // Alibaba Cloud IoT: the endpoint comes from the region and the ProductKey the user fills in.
                    assert.match(words, /ProductKey/, 'the comment says what to fill in');
                    assert.match(words, /DeviceSecret/, 'the comment says where the secret goes');
                    continue;
                }
                assert.deepEqual([n.broker, n.port], ['127.0.0.1', '1883'], `broker-config "${n.name}"`);
                assert.ok(['external', 'embedded'].includes(n.mode as string), `mode ${n.mode}`);
                if (n.mode === 'external') assert.match(words, /127\.0\.0\.1(:| port )1883/, 'the comment says where the broker is');
                else assert.match(words, /embedded/, 'the comment says the broker is the embedded one');
            }
        });
    });
}

test('importing several examples: a node id in two files is a broker-config with the same settings in both, so the import can keep one', () => {
    const seen = new Map<string, { file: string; node: FlowNode }>();
    for (const file of exampleFiles()) {
        for (const node of readExample(file)) {
            const earlier = seen.get(node.id);
            if (!earlier) {
                seen.set(node.id, { file, node });
                continue;
            }
            assert.equal(node.type, 'broker-config', `${node.type} ${node.id} is in ${earlier.file} and ${file}`);
            assert.deepEqual(node, earlier.node, `broker-config "${node.name}" differs between ${earlier.file} and ${file}`);
        }
    }
    const labels = exampleFiles().map((file) => readExample(file).find((n) => n.type === 'tab')!.label);
    assert.equal(new Set(labels).size, labels.length, 'each example has a tab label of its own');
});
