/** The sidebar's editor script: a plain browser script whose completion filter and payload text behave as the help says. */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as vm from 'node:vm';

const root = path.join(__dirname, '..', '..');

function loadSidebar(): any {
    const window: any = { jQuery: Object.assign(() => ({}), { fn: {} }), RED: { _: (key: string, values?: Record<string, unknown>) => `${key.split('.').pop()}${values ? JSON.stringify(values) : ''}` } };
    const context = vm.createContext({ window, document: {}, globalThis: window });
    vm.runInContext(fs.readFileSync(path.join(root, 'resources', 'topic.js'), 'utf8'), context);
    vm.runInContext(fs.readFileSync(path.join(root, 'resources', 'mqtt-sidebar.js'), 'utf8'), context);
    return window.MqttWireSidebar;
}

test('resources/mqtt-sidebar.js is the source unchanged, a plain script', () => {
    const text = fs.readFileSync(path.join(root, 'resources', 'mqtt-sidebar.js'), 'utf8');
    assert.equal(text, fs.readFileSync(path.join(root, 'nodes', 'editor', 'mqtt-sidebar.js'), 'utf8'));
    assert.doesNotMatch(text, /\brequire\(|^\s*(import|export)\b/m);
});

test('completions: the topics a typed filter matches, or that contain the typed text', () => {
    const sidebar = loadSidebar();
    const seen = ['home/kitchen/temp', 'home/hall/temp', 'home/hall/light', '$SYS/broker/uptime', 'Other/TEMP'];
    assert.deepEqual([...sidebar.fitting(seen, '')], seen);
    assert.deepEqual([...sidebar.fitting(seen, 'home/+/temp')], ['home/kitchen/temp', 'home/hall/temp']);
    // A filter starting with a wildcard does not match $-topics, as at the broker.
    assert.deepEqual([...sidebar.fitting(seen, '#')], ['home/kitchen/temp', 'home/hall/temp', 'home/hall/light', 'Other/TEMP']);
    assert.deepEqual([...sidebar.fitting(seen, 'temp')], ['home/kitchen/temp', 'home/hall/temp', 'Other/TEMP']);
    // Not a valid filter: plain text search.
    assert.deepEqual([...sidebar.fitting(seen, 'hall/#/x')], []);
    const many = Array.from({ length: 50 }, (_, i) => `t/${i}`);
    assert.equal(sidebar.fitting(many, 't/').length, 30);
});

test('payload text: shortened text in quotes, binary as hex with its size', () => {
    const sidebar = loadSidebar();
    assert.equal(sidebar.payloadText({ kind: 'text', text: 'on', size: 2, truncated: false }), '"on"');
    assert.equal(sidebar.payloadText({ kind: 'text', text: 'x'.repeat(100), size: 100, truncated: false }), JSON.stringify('x'.repeat(60) + '…'));
    assert.equal(sidebar.payloadText({ kind: 'binary', hex: '000102ff', size: 4, truncated: false }), 'binary{"hex":"000102ff","size":4}');
});
