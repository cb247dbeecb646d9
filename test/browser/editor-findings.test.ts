/**
 * Defects found by an acceptance pass of the editor as a new user uses it, in a real Node-RED editor
 * in headless Chromium, each read as the user reads it:
 * - in a 1024x700 window the broker dialog fits its tray: the long hints under the fields gave the
 *   tray a wish for ~800 px, so in a narrower window the whole form scrolled sideways and the labels
 *   slid out of sight as the user moved from field to field;
 * - in Chinese the broker is 服务器 everywhere the user reads it (the dialog's labels say 服务器; the
 *   hint under the broker field and the MQTT sidebar said 代理, a second word for the same thing);
 * - the help of each node fits the help sidebar: Node-RED never wraps <code>, and long ones (the
 *   Alibaba Cloud client id) made the broker's help 533 px wide in a 298 px sidebar.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Page } from 'playwright-core';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { NodeRedProcess, startNodeRed } from '../support/node-red-process';
import { chooseLanguage, openEditor, openNode, showSidebarTab, waitForDialog } from './editor-actions';
import { EDITOR_SETTINGS, EditorSession, readText, until } from './editor-session';

let dir: string;
let broker: Mosquitto;
let red: NodeRedProcess;
let session: EditorSession;

before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-browser-findings-'));
    broker = await startMosquitto();
    red = await startNodeRed({
        userDir: path.join(dir, 'user'),
        flows: [
            { id: 'flow1', type: 'tab', label: 'Flow 1' },
            { id: 'b1', type: 'broker-config', name: '', broker: '127.0.0.1', port: String(broker.port), protocol: 'mqtt', monitor: true },
            { id: 'in1', type: 'mqtt-in', z: 'flow1', name: '', topic: 'home/#', qos: '1', datatype: 'utf8', broker: 'b1', x: 180, y: 120, wires: [[]] },
        ],
        settings: EDITOR_SETTINGS,
    });
    session = await EditorSession.start('findings');
});

after(async () => {
    await session?.close();
    await red?.stop();
    await broker?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
    if (session) console.log(session.summary());
});

/** Opens the broker dialog from the mqtt wire in node, as a user does with the pencil beside the broker. */
async function openBrokerDialog(page: Page): Promise<void> {
    await openNode(page, 'in1');
    // The pencil beside the broker: its id differs between Node-RED 4 and 3.
    await page.locator('#node-input-btn-broker-edit, #node-input-lookup-broker').first().click();
    await page.locator('#node-config-input-broker').waitFor();
    await waitForDialog(page);
}

async function closeBrokerDialog(page: Page): Promise<void> {
    await page.locator('#node-config-dialog-cancel').click();
    await page.locator('#node-config-input-broker').waitFor({ state: 'detached' });
    await page.locator('#node-dialog-cancel').click();
    await page.locator('#node-dialog-cancel').waitFor({ state: 'detached' });
}

/** How far the broker dialog's form reaches beyond its tray, in pixels (0: it fits, nothing to scroll sideways). */
function sidewaysOverflow(page: Page): Promise<number> {
    return page.locator('.red-ui-tray').filter({ has: page.locator('#node-config-input-broker') }).locator('.red-ui-tray-body-wrapper')
        .evaluate((wrapper) => wrapper.scrollWidth - wrapper.clientWidth);
}

/** The visible text of the broker dialog's form, its Advanced section unfolded. */
async function brokerDialogText(page: Page): Promise<string> {
    if (!(await page.locator('#mqtt-wire-advanced').isVisible())) await page.locator('#mqtt-wire-advanced-toggle').click();
    await page.locator('#mqtt-wire-advanced').waitFor();
    return page.locator('.mqtt-wire-broker-form').innerText();
}

test('the broker dialog fits a 1024x700 window, in English and in Chinese', async () => {
    const page = session.page;
    await page.setViewportSize({ width: 1024, height: 700 });

    await session.step('open the editor in a 1024x700 window', async () => {
        await openEditor(page, red.url);
    });

    await session.step('the broker dialog needs no sideways scrolling', async () => {
        await openBrokerDialog(page);
        await brokerDialogText(page);
        assert.equal(await sidewaysOverflow(page), 0, 'the broker form reaches beyond its tray (px)');
        // The label of the last field is where the user can read it, not scrolled out of sight.
        await page.locator('#node-config-input-willTopic').scrollIntoViewIfNeeded();
        const label = await page.locator('label[for="node-config-input-willTopic"]').boundingBox();
        const tray = await page.locator('.red-ui-tray').filter({ has: page.locator('#node-config-input-broker') }).boundingBox();
        assert.ok(label && tray && label.x >= tray.x, `the will topic's label is inside the tray (label at ${label?.x}, tray at ${tray?.x})`);
        await closeBrokerDialog(page);
    });

    await session.step('in Chinese too', async () => {
        await chooseLanguage(page, red.url, 'zh-CN');
        await openBrokerDialog(page);
        await brokerDialogText(page);
        assert.equal(await sidewaysOverflow(page), 0, 'the broker form reaches beyond its tray (px)');
        await closeBrokerDialog(page);
    });
    session.assertClean();
});

test('in Chinese the broker is called 服务器 in the dialog and in the MQTT sidebar, never 代理', async () => {
    const page = session.page;
    await page.setViewportSize({ width: 1400, height: 900 });
    const address = `127.0.0.1:${broker.port}`;

    await session.step('the editor in Chinese', async () => {
        await openEditor(page, red.url);
        if (!/部署/.test(await page.locator('#red-ui-header-button-deploy').innerText())) await chooseLanguage(page, red.url, 'zh-CN');
        await readText(page.locator('#red-ui-header-button-deploy'), /部署/, 'the Deploy button in Chinese');
    });

    await session.step('the broker dialog says 服务器', async () => {
        await openBrokerDialog(page);
        const text = await brokerDialogText(page);
        assert.match(text, /服务器/);
        assert.doesNotMatch(text, /代理/, 'the broker dialog uses a second word for the broker');
        await closeBrokerDialog(page);
    });

    await session.step('the MQTT sidebar says 服务器', async () => {
        await showSidebarTab(page, 'mqtt-wire');
        const box = page.locator('#mqtt-wire-sidebar .mqtt-wire-sb-broker[data-broker-id="b1"]');
        await readText(box.locator('.mqtt-wire-sb-address'), `服务器：${address}`, 'the address line of the broker');
        const text = await until('the broker box of the MQTT sidebar', () => box.innerText(), (t) => t.includes(address));
        assert.doesNotMatch(text, /代理/, 'the MQTT sidebar uses a second word for the broker');
    });
    session.assertClean();
});

test('the help of each node fits the help sidebar, in English and in Chinese', async () => {
    const page = session.page;
    await page.setViewportSize({ width: 1024, height: 700 });
    await session.step('open the editor in a 1024x700 window', async () => {
        await openEditor(page, red.url);
    });
    for (const language of ['en-US', 'zh-CN']) {
        await session.step(`${language}: the help of broker-config, mqtt-in and mqtt-out needs no sideways scrolling`, async () => {
            await chooseLanguage(page, red.url, language);
            await showSidebarTab(page, 'help');
            for (const type of ['broker-config', 'mqtt-in', 'mqtt-out']) {
                await page.evaluate((t) => (globalThis as unknown as { RED: { sidebar: { help: { show: (type: string) => void } } } }).RED.sidebar.help.show(t), type);
                const help = page.locator('#red-ui-sidebar .red-ui-help:visible').first();
                await readText(help.locator('p').first(), /\S/, `the help of ${type}`);
                await help.waitFor();
                const [overflow, widestText] = await help.evaluate((element) => {
                    // The widest thing in the help against the room the sidebar gives it.
                    const room = element.getBoundingClientRect();
                    let widest = 0;
                    let text = '';
                    for (const child of Array.from(element.querySelectorAll('*')) as Array<{ getBoundingClientRect(): { right: number }; textContent: string | null }>) {
                        const reach = child.getBoundingClientRect().right - room.left;
                        if (reach > widest) [widest, text] = [reach, (child.textContent ?? '').slice(0, 60)];
                    }
                    return [Math.round(widest - room.width), text] as const;
                });
                assert.ok(overflow <= 1, `the help of ${type} reaches ${overflow} px beyond the sidebar, at "${widestText}"`);
            }
        });
    }
    session.assertClean();
});

test('an mqtt wire in whose topic is emptied says why under the field', async () => {
    const page = session.page;
    await page.setViewportSize({ width: 1400, height: 900 });
    await session.step('open the editor in English', async () => {
        await openEditor(page, red.url);
        if (!/Deploy/.test(await page.locator('#red-ui-header-button-deploy').innerText())) await chooseLanguage(page, red.url, 'en-US');
    });
    await session.step('empty the topic of mqtt wire in: the line under it says a topic cannot be empty', async () => {
        await openNode(page, 'in1');
        await page.locator('#node-input-topic').fill('');
        await readText(page.locator('#mqtt-wire-in-topic-problem'), 'a topic cannot be empty', 'the problem under the topic field');
        await page.locator('#node-input-topic').fill('home/#');
        await page.locator('#mqtt-wire-in-topic-problem').waitFor({ state: 'hidden' });
        await page.locator('#node-dialog-cancel').click();
        await page.locator('#node-dialog-cancel').waitFor({ state: 'detached' });
    });
    session.assertClean();
});
