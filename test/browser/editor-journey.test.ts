/**
 * A new user's first hour with the package, in a real Node-RED editor in headless Chromium: drag
 * *mqtt wire out* onto the workspace, read why `a/#/b` cannot be published to, create a broker
 * configuration (a port of 70000 explained under its field, Test connection against a stopped broker
 * and then a running one), wire inject -> mqtt wire out and mqtt wire in -> debug, deploy, read the
 * connected status, inject and read the message in the debug sidebar, and find its topic and payload
 * in the MQTT sidebar. Every step reads what the user reads; the editor never reaches off the machine.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Mosquitto } from '../support/mosquitto';
import { NodeRedProcess, startNodeRed } from '../support/node-red-process';
import { freePort } from '../support/shared/ports';
import { canvasNode, closeNodeDialog, deploy, openEditor, openNode, placeFromPalette, readStatus, showSidebarTab, waitForDialog, wire } from './editor-actions';
import { EDITOR_SETTINGS, EditorSession, readText, until } from './editor-session';

const TOPIC = 'home/livingroom/temperature';

let dir: string;
let broker: Mosquitto;
let red: NodeRedProcess;
let session: EditorSession;

before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-browser-journey-'));
    // The broker is not running yet: its port is known so that the first Test connection finds nothing there.
    broker = new Mosquitto();
    broker.port = await freePort();
    red = await startNodeRed({ userDir: path.join(dir, 'user'), flows: [{ id: 'flow1', type: 'tab', label: 'Flow 1' }], settings: EDITOR_SETTINGS });
    session = await EditorSession.start('journey');
});

after(async () => {
    await session?.close();
    await red?.stop();
    await broker?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
    if (session) console.log(session.summary());
});

test('a new user publishes and subscribes through the editor, and finds the topic in the MQTT sidebar', async () => {
    const page = session.page;
    let outId = '';

    await session.step('open the editor', async () => {
        await openEditor(page, red.url);
        await readText(page.locator('.red-ui-palette-node[data-palette-type="mqtt-out"] .red-ui-palette-label'), 'mqtt wire out', 'the palette entry');
    });

    await session.step('drag mqtt wire out onto the workspace', async () => {
        outId = await placeFromPalette(page, 'mqtt-out', 460, 160);
        await readText(canvasNode(page, outId).locator('.red-ui-flow-node-label'), 'mqtt wire out', 'the label of the placed node');
    });

    await session.step('a topic with a wildcard is explained under the field', async () => {
        await openNode(page, outId);
        await page.locator('#node-input-topic').pressSequentially('a/#/b');
        await readText(page.locator('#mqtt-wire-out-topic-problem'), "a publish topic cannot contain '+' or '#' - subscribe with mqtt-in to use wildcards", 'the line under the topic field');
        await page.locator('#node-input-topic').fill(TOPIC);
        await until('the line under the topic field to go', () => page.locator('#mqtt-wire-out-topic-problem').isVisible(), (shown) => !shown);
    });

    await session.step('add a broker: a port of 70000 is explained under the field', async () => {
        await page.locator('#node-input-btn-broker-add, #node-input-lookup-broker').first().click();
        await page.locator('#node-config-input-broker').waitFor();
        await waitForDialog(page);
        await page.locator('#node-config-input-broker').fill('127.0.0.1');
        await page.locator('#node-config-input-port').fill('70000');
        await readText(page.locator('#mqtt-wire-problem-port'), 'the port must be a whole number from 1 to 65535', 'the line under the port field');
    });

    await session.step('Test connection: nothing is listening', async () => {
        await page.locator('#node-config-input-port').fill(String(broker.port));
        await until('the line under the port field to go', () => page.locator('#mqtt-wire-problem-port').isVisible(), (shown) => !shown);
        await page.locator('#mqtt-wire-test-connection').click();
        const result = page.locator('#mqtt-wire-test-connection-result.mqtt-wire-test-failed');
        await readText(result, `nothing is listening at 127.0.0.1:${broker.port} - is the broker running?`, 'the Test connection result');
    });

    await session.step('Test connection: connected once the broker runs', async () => {
        await broker.start();
        await page.locator('#mqtt-wire-test-connection').click();
        const result = page.locator('#mqtt-wire-test-connection-result.mqtt-wire-test-ok');
        await readText(result, `connected to 127.0.0.1:${broker.port} with MQTT 3.1.1`, 'the Test connection result');
        await session.shotOf(page.locator('.red-ui-tray').filter({ has: page.locator('#node-config-input-broker') }), page.locator('#mqtt-wire-advanced-toggle'), 'broker-dialog-test-connection');
    });

    await session.step('turn on the topic monitor under Advanced and add the broker', async () => {
        await page.locator('#mqtt-wire-advanced-toggle').click();
        await page.locator('#node-config-input-monitor').check();
        await page.locator('#node-config-dialog-ok').click();
        await page.locator('#node-config-input-broker').waitFor({ state: 'detached' });
        const chosen = await page.locator('#node-input-broker option:checked').innerText();
        assert.equal(chosen.trim(), `127.0.0.1:${broker.port}`, 'the new broker is chosen in the node');
        await closeNodeDialog(page);
    });

    let injectId = '';
    let inId = '';
    let debugId = '';
    await session.step('place inject, mqtt wire in and debug, and wire them', async () => {
        injectId = await placeFromPalette(page, 'inject', 220, 160);
        inId = await placeFromPalette(page, 'mqtt-in', 220, 300);
        debugId = await placeFromPalette(page, 'debug', 460, 300);
        await openNode(page, inId);
        await page.locator('#node-input-broker').selectOption({ label: `127.0.0.1:${broker.port}` });
        await page.locator('#node-input-topic').pressSequentially('home/+/temperature');
        await until('no line under the topic field of mqtt wire in', () => page.locator('#mqtt-wire-in-topic-problem').isVisible(), (shown) => !shown);
        await closeNodeDialog(page);
        await wire(page, injectId, outId);
        await wire(page, inId, debugId);
    });

    await session.step('deploy: both nodes say they are connected', async () => {
        const notice = await deploy(page);
        assert.match(notice, /Successfully deployed/);
        await readStatus(page, outId, `connected to 127.0.0.1:${broker.port}`);
        await readStatus(page, inId, `connected to 127.0.0.1:${broker.port}`);
    });

    let payload = '';
    await session.step('inject: the message arrives in the debug sidebar', async () => {
        await showSidebarTab(page, 'debug');
        await canvasNode(page, injectId).locator('.red-ui-flow-node-button').click();
        const message = page.locator('#red-ui-sidebar .red-ui-debug-msg').filter({ hasText: TOPIC }).first();
        await readText(message.locator('.red-ui-debug-msg-topic'), new RegExp(TOPIC), 'the topic line of the debug message');
        payload = await readText(message.locator('.red-ui-debug-msg-payload'), /^\d{13}$/, 'the payload of the debug message (the inject timestamp)');
    });

    await session.step('the MQTT sidebar shows the topic with its payload', async () => {
        await showSidebarTab(page, 'mqtt-wire');
        const box = page.locator('#mqtt-wire-sidebar .mqtt-wire-sb-broker').first();
        await readText(box.locator('.mqtt-wire-sb-title'), `127.0.0.1:${broker.port}`, 'the broker title in the MQTT sidebar');
        const topic = box.locator(`.mqtt-wire-sb-topic[data-topic="${TOPIC}"]`);
        await readText(topic.locator('.mqtt-wire-sb-payload').first(), JSON.stringify(payload), 'the payload of the topic in the tree');
        await readText(box.locator('.mqtt-wire-sb-state'), `connected to 127.0.0.1:${broker.port}`, 'the broker state in the MQTT sidebar');
        const subscription = box.locator('.mqtt-wire-sb-subscription[data-filter="home/+/temperature"]');
        await readText(subscription.locator('.mqtt-wire-sb-filter'), 'home/+/temperature', 'the subscription');
        await readText(subscription.locator(`.mqtt-wire-sb-holder[data-node-id="${inId}"]`), 'home/+/temperature', 'the node holding the subscription, by its label');
        await session.shotOf(page.locator('#red-ui-sidebar'), box, 'mqtt-sidebar');
    });

    await session.step('the topic field offers the topics the broker has seen', async () => {
        await openNode(page, outId);
        const field = page.locator('#node-input-topic');
        await field.fill('');
        await field.pressSequentially('home/');
        await readText(page.locator('.red-ui-autoComplete-container li').first(), TOPIC, 'the completion offered under the topic field');
        await page.locator('#node-dialog-cancel').click();
        await page.locator('#node-dialog-cancel').waitFor({ state: 'detached' });
    });
    session.assertClean();
});
