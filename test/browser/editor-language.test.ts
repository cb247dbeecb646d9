/**
 * The editor in Chinese, in a real Node-RED editor in headless Chromium: a user picks 简体中文 in
 * User Settings > View > Language and reloads; the statuses under the nodes (sent by the runtime as
 * catalogue keys, rendered by nodes/editor/mqtt-wire-status.js), a node's help, a field problem and
 * the Test connection result in the broker dialog are then in Chinese, from the zh-CN catalogues.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { NodeRedProcess, PACKAGE_ROOT, startNodeRed } from '../support/node-red-process';
import { canvasNode, chooseLanguage, openEditor, openNode, readStatus, showSidebarTab, waitForDialog } from './editor-actions';
import { EDITOR_SETTINGS, EditorSession, readText } from './editor-session';

const TOPIC = 'home/kitchen/temperature';
const CJK = /[\u4e00-\u9fff]/;

function catalogue(set: string): Record<string, unknown> {
    return JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'nodes', 'locales', 'zh-CN', `${set}.json`), 'utf8'));
}

/** The zh-CN text of a catalogue key of `set`, with its __name__ parameters filled in. */
function zh(set: string, key: string, params: Record<string, string | number> = {}): string {
    let node: unknown = catalogue(set);
    for (const part of key.split('.')) node = (node as Record<string, unknown>)[part];
    assert.equal(typeof node, 'string', `zh-CN ${set}: ${key}`);
    return (node as string).replace(/__(\w+)__/g, (_, name: string) => String(params[name]));
}

/** The first paragraph of a node's zh-CN help, as the help sidebar shows it. */
function helpOpening(type: string): string {
    const html = fs.readFileSync(path.join(PACKAGE_ROOT, 'nodes', 'locales', 'zh-CN', `${type}.html`), 'utf8');
    const first = /<p>([^<]+)<\/p>/.exec(html);
    assert.ok(first, `the zh-CN help of ${type} opens with a paragraph`);
    return first[1].trim();
}

let dir: string;
let broker: Mosquitto;
let red: NodeRedProcess;
let session: EditorSession;

before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-browser-language-'));
    broker = await startMosquitto();
    red = await startNodeRed({
        userDir: path.join(dir, 'user'),
        flows: [
            { id: 'flow1', type: 'tab', label: 'Flow 1' },
            { id: 'b1', type: 'broker-config', name: '', broker: '127.0.0.1', port: String(broker.port), protocol: 'mqtt', monitor: true },
            { id: 'out1', type: 'mqtt-out', z: 'flow1', name: '', topic: TOPIC, qos: '', retain: '', broker: 'b1', x: 420, y: 120, wires: [] },
            { id: 'in1', type: 'mqtt-in', z: 'flow1', name: '', topic: 'home/#', qos: '1', datatype: 'utf8', broker: 'b1', x: 180, y: 240, wires: [[]] },
        ],
        settings: EDITOR_SETTINGS,
    });
    session = await EditorSession.start('language');
});

after(async () => {
    await session?.close();
    await red?.stop();
    await broker?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
    if (session) console.log(session.summary());
});

test('a user who picks 简体中文 reads the statuses, the help and the broker dialog in Chinese', async () => {
    const page = session.page;
    const address = `127.0.0.1:${broker.port}`;

    await session.step('the editor in English first', async () => {
        await openEditor(page, red.url);
        await readStatus(page, 'out1', `connected to ${address}`);
    });

    await session.step('User Settings > View > Language: 简体中文, and reload', async () => {
        await chooseLanguage(page, red.url, 'zh-CN');
        await readText(page.locator('#red-ui-header-button-deploy'), /部署/, 'the Deploy button in Chinese');
    });

    await session.step('the statuses under the nodes are in Chinese', async () => {
        const connected = zh('broker-config', 'broker-config.status.connected', { broker: address });
        assert.match(connected, CJK);
        await readStatus(page, 'out1', connected);
        await readStatus(page, 'in1', connected);
    });

    await session.step('the help of mqtt wire out is in Chinese', async () => {
        await showSidebarTab(page, 'help');
        await canvasNode(page, 'out1').locator('.red-ui-flow-node').first().click();
        await readText(page.locator('#red-ui-sidebar .red-ui-help p').first(), helpOpening('mqtt-out'), 'the first line of the help');
    });

    await session.step('the broker dialog explains a bad port and tests the connection in Chinese', async () => {
        await openNode(page, 'out1');
        await page.locator('#node-input-btn-broker-edit, #node-input-lookup-broker').first().click();
        await page.locator('#node-config-input-port').waitFor();
        await waitForDialog(page);
        const port = page.locator('#node-config-input-port');
        await port.fill('70000');
        await readText(page.locator('#mqtt-wire-problem-port'), zh('broker-config', 'broker-config.validation.port', { min: 1, max: 65535 }), 'the line under the port field');
        await port.fill(String(broker.port));
        await page.locator('#mqtt-wire-test-connection').click();
        const connected = zh('broker-config', 'broker-config.test.connected', { address, version: '3.1.1' });
        await readText(page.locator('#mqtt-wire-test-connection-result.mqtt-wire-test-ok'), connected, 'the Test connection result');
        await page.locator('#node-config-dialog-cancel').click();
        await page.locator('#node-config-input-port').waitFor({ state: 'detached' });
        await page.locator('#node-dialog-cancel').click();
        await page.locator('#node-dialog-cancel').waitFor({ state: 'detached' });
    });

    await session.step('the broker stops: the status says why in Chinese', async () => {
        await broker.stop();
        // The first attempt may still read "the connection was closed"; the next ones find nothing listening.
        const reason = zh('broker-config', 'broker-config.reason.refused', { address });
        const reconnecting = zh('broker-config', 'broker-config.status.reconnecting', { attempt: 'ATTEMPT', reason });
        const pattern = new RegExp(`^${reconnecting.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace('ATTEMPT', '\\d+')}$`);
        await readStatus(page, 'out1', pattern, 30000);
    });
    session.assertClean();
});
