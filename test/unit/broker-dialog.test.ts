/**
 * The broker dialog's layout as nodes/broker-config.html writes it: what a home setup needs first, the
 * rest under a folded Advanced section; no warning shown with the defaults; every text it names in both
 * catalogues; the nodes called by their palette labels. (Its behaviour in a browser is tested elsewhere.)
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as vm from 'node:vm';

const root = path.join(__dirname, '..', '..');
const html = fs.readFileSync(path.join(root, 'nodes', 'broker-config.html'), 'utf8');
const inlineScript = /<script type="text\/javascript">([\s\S]*?)<\/script>/.exec(html)![1];
const dialogScript = fs.readFileSync(path.join(root, 'nodes', 'editor', 'broker-config-dialog.js'), 'utf8');
const formText = /<script type="text\/html" data-template-name="broker-config">([\s\S]*?)<\/script>/.exec(html)![1];
const messageText = /<script type="text\/html" id="mqtt-wire-lifecycle-message">([\s\S]*?)<\/script>/.exec(html)![1];
const LIFECYCLE_KINDS = ['birth', 'close', 'will'];
/** The template the editor builds the dialog from: the birth, close and will messages put in by broker-config-dialog.js. */
const template = ((): string => {
    const window: { MqttWireBrokerDialog?: { withLifecycleMessages(form: string, message: string): string } } = {};
    vm.runInNewContext(dialogScript, { window });
    return window.MqttWireBrokerDialog!.withLifecycleMessages(formText, messageText);
})();
const LANGS = ['en-US', 'zh-CN'];
const catalogue = (lang: string): Record<string, unknown> =>
    JSON.parse(fs.readFileSync(path.join(root, 'nodes', 'locales', lang, 'broker-config.json'), 'utf8'))['broker-config'];

const at = (id: string): number => {
    const index = template.indexOf(`id="${id}"`);
    assert.notEqual(index, -1, `the template has #${id}`);
    return index;
};

test('the dialog leads with mode, broker, port, protocol and TLS, user name, password and the test button; the rest is under Advanced', () => {
    const first = ['mode', 'broker', 'port', 'protocol', 'wspath', 'tls', 'verifyservercert', 'user', 'password'].map((name) => `node-config-input-${name}`);
    const order = [...first, 'mqtt-wire-test-connection', 'mqtt-wire-test-connection-hint', 'mqtt-wire-test-connection-result', 'mqtt-wire-advanced-toggle', 'mqtt-wire-advanced'];
    for (let i = 1; i < order.length; i++) assert.ok(at(order[i - 1]) < at(order[i]), `${order[i - 1]} before ${order[i]}`);
    const advanced = [
        'protocolVersion', 'clientid', 'keepalive', 'cleansession', 'sessionExpiry', 'userProps', 'autoConnect',
        'reconnectDelay', 'reconnectDelayMax', 'maxInflight', 'queueLimit', 'queueQoS0', 'durable',
        'birthTopic', 'birthPayload', 'birthQos', 'birthRetain', 'closeTopic', 'willTopic', 'willRetain',
    ];
    for (const name of advanced) assert.ok(at(`node-config-input-${name}`) > at('mqtt-wire-advanced'), `${name} is under Advanced`);
    assert.match(template, /<div id="mqtt-wire-advanced" style="display: none;">/, 'Advanced is folded by default');
    // Every field under Advanced has its one line on when to change it.
    for (const name of ['protocolVersion', 'clientid', 'keepalive', 'cleansession', 'sessionExpiry', 'userProps', 'autoConnect', 'reconnectDelayMax', 'maxInflight', 'queueLimit', 'queueQoS0', 'durable']) {
        const row = template.slice(at(`node-config-input-${name}`));
        const hint = /data-i18n="broker-config\.hint\.(\w+)"/.exec(row.slice(0, row.indexOf('<div class="form-row')));
        assert.ok(hint, `${name} has a hint line`);
    }
});

test('the birth, close and will messages are one markup, put in three times with the fields of the core broker node', () => {
    assert.doesNotMatch(template, /data-mqtt-wire-lifecycle|\{kind\}|\{icon\}/, 'every place is filled and every {kind} and {icon} written out');
    for (const kind of LIFECYCLE_KINDS) {
        for (const field of ['Topic', 'Payload', 'Qos', 'Retain']) {
            assert.equal(template.split(`id="node-config-input-${kind}${field}"`).length, 2, `one #node-config-input-${kind}${field}`);
        }
        assert.equal(template.split(`data-kind="${kind}"`).length, 2, `one place for the MQTT 5 properties of the ${kind} message`);
    }
    const order = LIFECYCLE_KINDS.map((kind) => at(`node-config-input-${kind}Topic`));
    assert.deepEqual([...order].sort((a, b) => a - b), order, 'birth, then close, then will');
});

test('with the defaults (external, mqtt://, clean session, durable store automatic) no tip or warning is shown outside Advanced', () => {
    const advancedAt = at('mqtt-wire-advanced');
    // A div is hidden by default when it or a parent has display: none, or is shown only for embedded mode or TLS.
    const hiddenByDefault = (attributes: string): boolean => /display:\s*none/.test(attributes) || /mqtt-wire-(embedded|tls|ws)-only/.test(attributes);
    const open: string[] = [];
    const shown: string[] = [];
    let tips = 0;
    for (const match of template.matchAll(/<(\/?)div\b([^>]*)>/g)) {
        if (match.index! >= advancedAt) break;
        if (match[1]) {
            open.pop();
            continue;
        }
        open.push(match[2]);
        if (!/form-tips|mqtt-wire-warning/.test(match[2])) continue;
        tips++;
        if (!open.some(hiddenByDefault)) shown.push(match[2]);
    }
    assert.ok(tips >= 6, `the walk saw the ${tips} tips before Advanced`);
    // The one tip without display: none (the tls-config tip) sits in the TLS part, hidden for mqtt://.
    assert.deepEqual(shown, []);
    // The durable store's state is told once the user moves away from the defaults.
    assert.match(template, /id="mqtt-wire-durable-now-row" style="display: none;"/);
    assert.match(inlineScript, /mqtt-wire-durable-now-row'\)\.toggle\(durable !== settings\.DEFAULT_DURABLE \|\| !clean\)/);
});

test('every text the dialog names is in both catalogues, and the catalogues hold the same keys', () => {
    const keys = new Set<string>();
    for (const m of template.matchAll(/data-i18n="(?:\[\w+\])?broker-config\.([\w.-]+)"/g)) keys.add(m[1]);
    for (const script of [inlineScript, dialogScript]) {
        for (const m of script.matchAll(/'((?:test|tip|hint|advanced|placeholder|label|section)\.[\w-]+)'/g)) keys.add(m[1]);
    }
    assert.ok(keys.size > 60, `${keys.size} keys`);
    const flat = (o: unknown, prefix = ''): string[] =>
        Object.entries(o as Record<string, unknown>).flatMap(([k, v]) => (typeof v === 'string' ? [prefix + k] : flat(v, `${prefix}${k}.`)));
    const en = flat(catalogue('en-US'));
    for (const lang of LANGS) {
        const all = flat(catalogue(lang));
        for (const key of keys) assert.ok(all.includes(key), `${lang}: ${key}`);
        assert.deepEqual([...all].sort(), [...en].sort(), `${lang} holds the keys of en-US`);
    }
    // The test's answers are looked up by key: every success code of the probe has its text.
    for (const code of ['connected', 'port-free', 'embedded-running', 'tls-not-deployed', 'bad-request', 'failed', 'forbidden', 'no-answer']) {
        for (const lang of LANGS) assert.equal(typeof (catalogue(lang).test as Record<string, unknown>)[code], 'string', `${lang}: test.${code}`);
    }
});

test('the dialog texts and help call the nodes by their palette labels', () => {
    for (const lang of LANGS) {
        // The topic texts are the topic module's own words (nodes/lib/topic.ts), word for word in en-US.
        const { topic, ...dialogTexts } = catalogue(lang);
        assert.ok(topic);
        assert.doesNotMatch(JSON.stringify(dialogTexts), /\bmqtt-(in|out)\b/, `${lang}/broker-config.json names a node by its type`);
        const help = fs.readFileSync(path.join(root, 'nodes', 'locales', lang, 'broker-config.html'), 'utf8');
        assert.doesNotMatch(help, /\bmqtt-(in|out)\b/, `${lang}/broker-config.html names a node by its type`);
        for (const type of ['mqtt-in', 'mqtt-out']) {
            const label = JSON.parse(fs.readFileSync(path.join(root, 'nodes', 'locales', lang, `${type}.json`), 'utf8'))[type].paletteLabel;
            assert.match(fs.readFileSync(path.join(root, 'nodes', 'locales', lang, 'broker-config.html'), 'utf8'), new RegExp(label), `${lang} help says "${label}"`);
        }
    }
});
