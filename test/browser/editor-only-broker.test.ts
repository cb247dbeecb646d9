/**
 * A new node takes the only broker there is, in a real Node-RED editor in headless Chromium: with one
 * broker configuration, *mqtt wire in* and *mqtt wire out* dragged from the palette show it chosen when
 * opened, and keep it after Done. Node-RED 4 would show "none" (nodes/editor/mqtt-wire-editor.js,
 * chooseOnlyBroker). On a flow where a second broker is also in scope the user chooses: Node-RED's
 * own behaviour stays ("none" on Node-RED 4, the first broker on Node-RED 3).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Page } from 'playwright-core';
import { NodeRedProcess, startNodeRed } from '../support/node-red-process';
import { closeNodeDialog, openEditor, openNode, placeFromPalette } from './editor-actions';
import { EDITOR_SETTINGS, EditorSession, NODE_RED_VERSION, until } from './editor-session';

const ONLY = 'home broker';
const SECOND = 'lab broker';

let dir: string;
let red: NodeRedProcess;
let session: EditorSession;

before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-browser-only-broker-'));
    red = await startNodeRed({
        userDir: path.join(dir, 'user'),
        flows: [
            { id: 'flow1', type: 'tab', label: 'Flow 1' },
            { id: 'flow2', type: 'tab', label: 'Flow 2' },
            // Connect automatically is off: the runtime connects to neither broker.
            { id: 'b1', type: 'broker-config', name: ONLY, broker: '127.0.0.1', port: '1883', protocol: 'mqtt', autoConnect: false },
            // A broker of Flow 2 only: on Flow 1 the home broker is the only one.
            { id: 'b2', type: 'broker-config', z: 'flow2', name: SECOND, broker: '127.0.0.1', port: '1884', protocol: 'mqtt', autoConnect: false },
        ],
        settings: EDITOR_SETTINGS,
    });
    session = await EditorSession.start('only-broker');
});

after(async () => {
    await session?.close();
    await red?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    if (session) console.log(session.summary());
});

/** The label of the option shown in the broker field of the open dialog. */
async function chosenBroker(page: Page): Promise<string> {
    return (await page.locator('#node-input-broker option:checked').innerText()).trim();
}

/** Opens the node, reads the broker shown, and cancels. */
async function brokerShown(page: Page, id: string): Promise<string> {
    await openNode(page, id);
    const shown = await chosenBroker(page);
    await page.locator('#node-dialog-cancel').click();
    await page.locator('#node-dialog-cancel').waitFor({ state: 'detached' });
    return shown;
}

test('a new mqtt wire in or out shows the only broker chosen; with two brokers in scope, the choice Node-RED makes', async () => {
    const page = session.page;

    await session.step('open the editor on Flow 1, where one broker is in scope', async () => {
        await openEditor(page, red.url);
    });

    for (const type of ['mqtt-in', 'mqtt-out']) {
        await session.step(`a new ${type} shows the only broker chosen, and keeps it after Done`, async () => {
            const id = await placeFromPalette(page, type, 260, type === 'mqtt-in' ? 120 : 240);
            await openNode(page, id);
            assert.equal(await chosenBroker(page), ONLY, `the broker field of the new ${type}`);
            await closeNodeDialog(page);
            assert.equal(await brokerShown(page, id), ONLY, `the broker field of the ${type} opened again`);
        });
    }

    await session.step('on Flow 2, with two brokers in scope, a new mqtt-in shows what Node-RED itself shows', async () => {
        await page.locator('#red-ui-tab-flow2').click();
        await until('Flow 2 to be shown', async () => (await page.locator('#red-ui-tab-flow2').getAttribute('class')) ?? '', (c) => /\bactive\b/.test(c));
        const id = await placeFromPalette(page, 'mqtt-in', 260, 120);
        await openNode(page, id);
        const shown = await page.locator('#node-input-broker').inputValue();
        // Node-RED 4 shows "none" for a node without a config node; Node-RED 3 shows the first one itself.
        if (Number(NODE_RED_VERSION.split('.')[0]) >= 4) assert.equal(shown, '_ADD_', 'nothing is chosen for the user');
        else assert.notEqual(shown, '_ADD_', "Node-RED 3's own choice, the first broker of the list");
        // The brokers, without "none" (Node-RED 4) and "Add new ..." (Node-RED 3).
        const offered = await page.locator('#node-input-broker option').evaluateAll((options) =>
            options.filter((o) => !['', '_ADD_'].includes(o.getAttribute('value') ?? '')).map((o) => o.textContent ?? '').sort(),
        );
        assert.deepEqual(offered, [SECOND, ONLY].sort(), 'both brokers are offered');
        await page.locator('#node-dialog-cancel').click();
        await page.locator('#node-dialog-cancel').waitFor({ state: 'detached' });
    });
    session.assertClean();
});
