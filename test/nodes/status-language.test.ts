/**
 * The status under each node follows the editor's language, parameters included: the status a node
 * sets (what the runtime's comms pass to the editor: text, fill, shape as they are) goes through the
 * editor's status handling (test/support/status-words.ts: the package's served editor script and
 * i18next with the catalogues) in zh-CN and en-US. A subscriber's status says nothing of the
 * messages waiting to be sent; a publisher's counts them.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { startMosquitto } from '../support/mosquitto';
import { freePort } from '../support/shared/ports';
import { externalBroker, FlowNode, getNode, lastStatus, loadFlow, useRuntime, waitForStatus } from '../support/node-red';
import { editorStatus } from '../support/status-words';

const broker = useRuntime(() => startMosquitto());
const root = path.join(__dirname, '..', '..');
const catalogue = (lang: string, set: string) => JSON.parse(fs.readFileSync(path.join(root, 'nodes', 'locales', lang, `${set}.json`), 'utf8'))[set];
const HAN = /[\u4e00-\u9fff]/;

function flow(port: number): FlowNode[] {
    return [
        externalBroker('b', port),
        { id: 'in', type: 'mqtt-in', broker: 'b', topic: 'status/#', qos: '1', datatype: 'utf8', wires: [[]] },
        { id: 'out', type: 'mqtt-out', broker: 'b', topic: 'status/out', qos: '1', retain: 'false' },
        { id: 'lost', type: 'mqtt-in', broker: '', topic: 'status/#', qos: '1', wires: [[]] },
        { id: 'bad', type: 'mqtt-in', broker: 'b', topic: 'status/#/x', qos: '1', wires: [[]] },
    ];
}

test('a connected status reads "connected to host:port" in English and in Chinese', async () => {
    const address = `127.0.0.1:${broker().port}`;
    await loadFlow(flow(broker().port));
    const status = await waitForStatus('in', (s) => s.fill === 'green', 'connected');
    const zh = await editorStatus('zh-CN').show('in', 'mqtt-in', status);
    const en = await editorStatus('en-US').show('in', 'mqtt-in', status);
    assert.equal(zh, catalogue('zh-CN', 'broker-config').status.connected.replace('__broker__', address));
    assert.equal(en, `connected to ${address}`);
    assert.match(zh ?? '', HAN);
});

test('problems of a node show in the editor language, their reasons too', async () => {
    await loadFlow(flow(broker().port));
    const noBroker = await editorStatus('zh-CN').show('lost', 'mqtt-in', (await waitForStatus('lost', (s) => s.fill === 'red', 'no broker'))!);
    assert.equal(noBroker, catalogue('zh-CN', 'mqtt-in').errors['no-broker']);
    const bad = await waitForStatus('bad', (s) => s.fill === 'red', 'invalid filter');
    const zh = await editorStatus('zh-CN').show('bad', 'mqtt-in', bad);
    const reasonZh = catalogue('zh-CN', 'broker-config').topic['hash-not-last'];
    assert.equal(zh, catalogue('zh-CN', 'mqtt-in').errors['invalid-filter'].replace('__topic__', 'status/#/x').replace('__reason__', reasonZh));
    const en = await editorStatus('en-US').show('bad', 'mqtt-in', bad);
    assert.equal(en, `invalid topic filter "status/#/x": '#' must be the last level of a filter`);
});

test('while the broker is unreachable the publisher counts what waits, the subscriber does not; both in Chinese', async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    await loadFlow(flow(port));
    await waitForStatus('out', (s) => s.fill === 'red', 'reconnecting');
    for (let i = 0; i < 3; i++) getNode('out').receive({ payload: `m${i}` });
    const out = await waitForStatus('out', (s) => /status\.waiting/.test(String(s.text)), 'the waiting count');
    const outZh = (await editorStatus('zh-CN').show('out', 'mqtt-out', out)) ?? '';
    const zhStatus = catalogue('zh-CN', 'broker-config');
    assert.ok(outZh.includes(zhStatus.reason.refused.replace('__address__', address)), `"${outZh}" gives the reason in Chinese`);
    assert.ok(outZh.endsWith(zhStatus.status.waiting.replace('__count__', '3')), `"${outZh}" counts 3 waiting in Chinese`);
    const outEn = await editorStatus('en-US').show('out', 'mqtt-out', out);
    assert.match(outEn ?? '', new RegExp(`^reconnecting \\(attempt \\d+\\): nothing is listening at ${address.replace(/\./g, '\\.')} - is the broker running\\? - 3 waiting to be sent$`));

    // The same link, as the subscriber shows it.
    await waitForStatus('in', (s) => s.fill === 'red', 'reconnecting');
    const inEn = await editorStatus('en-US').show('in', 'mqtt-in', lastStatus('in')!);
    assert.match(inEn ?? '', /^reconnecting \(attempt \d+\): nothing is listening at/);
    assert.doesNotMatch(inEn ?? '', /waiting/);
    assert.match((await editorStatus('zh-CN').show('in', 'mqtt-in', lastStatus('in')!)) ?? '', HAN);
});

test('settings the broker node cannot use show in the editor language, as the dialog says them under the field', async () => {
    await loadFlow([
        externalBroker('b', broker().port, { broker: `127.0.0.1:${broker().port}` }),
        { id: 'out', type: 'mqtt-out', broker: 'b', topic: 'status/out', qos: '1', retain: 'false' },
    ]);
    const status = await waitForStatus('out', (s) => s.fill === 'red', 'the settings refused');
    const validation = (lang: string) => catalogue(lang, 'broker-config').validation['broker-host-port'];
    assert.equal(await editorStatus('zh-CN').show('out', 'mqtt-out', status), validation('zh-CN'));
    assert.equal(await editorStatus('en-US').show('out', 'mqtt-out', status), validation('en-US'));
    assert.match(validation('zh-CN'), HAN);
});
