/**
 * The editor checks topics with the very module the runtime uses: resources/topic.js is the compiled
 * nodes/lib/topic.ts, wrapped for the browser. Loaded here as a browser would (a window, no require),
 * it must give the runtime's answers on every generated filter and name.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as vm from 'node:vm';
import * as runtime from '../../dist/lib/topic';

const root = path.join(__dirname, '..', '..');
const resource = fs.readFileSync(path.join(root, 'resources', 'topic.js'), 'utf8');

function loadAsBrowser(): typeof runtime {
    const window: Record<string, unknown> = {};
    vm.runInNewContext(resource, { window }, { filename: 'topic.js' });
    return window.MqttWireTopic as typeof runtime;
}

test('resources/topic.js holds the compiled runtime module unchanged', () => {
    const compiled = fs.readFileSync(path.join(root, 'dist', 'lib', 'topic.js'), 'utf8').replace(/^\/\/# sourceMappingURL=.*$/m, '');
    assert.ok(resource.includes(compiled), 'the compiled module is inside the resource');
    assert.doesNotMatch(resource, /\brequire\(/);
});

test('the browser copy answers as the runtime on a generated corpus', () => {
    const editor = loadAsBrowser();
    const levels = ['a', 'b', '', '+', '#', '$x', 'a+', '#b', '家', ' ', '\u0000'];
    const strings: string[] = ['', '$share/g/a', '$share//a', '$share/g', '$share/+/a', '\ud800'];
    const grow = (prefix: string[], depth: number): void => {
        if (depth === 0) return;
        for (const level of levels) {
            const next = [...prefix, level];
            strings.push(next.join('/'));
            if (depth > 1) grow(next, depth - 1);
        }
    };
    grow([], 3);
    // The editor's objects come from another realm: compare their fields, not their prototypes.
    const plain = (p: runtime.TopicProblem | null) => (p === null ? null : { code: p.code, text: p.text });
    let compared = 0;
    for (const s of strings) {
        assert.deepEqual(plain(editor.checkTopicName(s)), plain(runtime.checkTopicName(s)), `name ${JSON.stringify(s)}`);
        assert.deepEqual(plain(editor.checkTopicFilter(s)), plain(runtime.checkTopicFilter(s)), `filter ${JSON.stringify(s)}`);
        compared += 2;
    }
    const valid = strings.filter((s) => runtime.checkTopicFilter(s) === null).slice(0, 300);
    const names = strings.filter((s) => runtime.checkTopicName(s) === null).slice(0, 300);
    for (const f of valid) {
        for (const n of names) {
            assert.equal(editor.topicMatches(f, n), runtime.topicMatches(f, n), `${f} ~ ${n}`);
            compared++;
        }
    }
    assert.ok(compared > 10000, `compared ${compared} answers`);
    assert.equal(editor.checkTopicFilter('a/b#')?.code, 'hash-not-alone');
    assert.equal(editor.checkTopicName('home/+/temp')?.code, 'wildcard-in-name');
});

test('every problem code has a text in both editor catalogues', () => {
    for (const lang of ['en-US', 'zh-CN']) {
        const catalogue = JSON.parse(fs.readFileSync(path.join(root, 'nodes', 'locales', lang, 'broker-config.json'), 'utf8'));
        for (const code of Object.keys(runtime.TOPIC_PROBLEM_TEXT)) {
            assert.equal(typeof catalogue['broker-config'].topic[code], 'string', `${lang}: topic.${code}`);
        }
    }
});

test('resources/mqtt-wire-editor.js is built, parses, and holds the helpers the node definitions use', () => {
    const helperPath = path.join(root, 'resources', 'mqtt-wire-editor.js');
    assert.ok(fs.existsSync(helperPath), 'npm run build copies nodes/editor/mqtt-wire-editor.js to resources/');
    const text = fs.readFileSync(helperPath, 'utf8');
    assert.equal(text, fs.readFileSync(path.join(root, 'nodes', 'editor', 'mqtt-wire-editor.js'), 'utf8'), 'the copy is the source unchanged');
    new vm.Script(text, { filename: 'mqtt-wire-editor.js' });
    assert.doesNotMatch(text, /\brequire\(|^\s*(import|export)\b/m, 'a plain browser script: no modules');
    assert.match(text, /window\.MqttWireEditor\s*=/);
});

test('the node definitions load the shared helpers and do not define them', () => {
    for (const type of ['mqtt-in', 'mqtt-out']) {
        const html = fs.readFileSync(path.join(root, 'nodes', `${type}.html`), 'utf8');
        const topicTag = html.indexOf('<script src="resources/node-red-contrib-mqtt-wire/topic.js"></script>');
        const editorTag = html.indexOf('<script src="resources/node-red-contrib-mqtt-wire/mqtt-wire-editor.js"></script>');
        assert.ok(topicTag !== -1 && editorTag > topicTag, `${type}.html loads mqtt-wire-editor.js after topic.js`);
        assert.doesNotMatch(html, /function\s+(topicLib|isEnvVar|topicProblem|problemText|nodeLink)\s*\(/, `${type}.html defines a shared helper itself`);
        assert.doesNotMatch(html, /<style[\s>]/, `${type}.html keeps its own copy of the shared CSS`);
    }
    const broker = fs.readFileSync(path.join(root, 'nodes', 'broker-config.html'), 'utf8');
    assert.doesNotMatch(broker, /function\s+(topicLib|isEnvVar)\s*\(/);
});
