/**
 * `npm start` writes settings that say nothing leaves the machine: no telemetry ping and update
 * check, and no palette catalogue for the editor to fetch. The settings as scripts/start.js writes
 * them are read back, and a real Node-RED started with them must tell the editor (GET /settings)
 * that there is no catalogue and that telemetry is off.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { after, before, test } from 'node:test';
import { defaultNodeRedPath, NodeRedProcess, PACKAGE_ROOT, startNodeRed } from '../support/node-red-process';

interface StartSettings {
    telemetry?: { enabled?: boolean; updateNotification?: boolean };
    editorTheme?: { palette?: { catalogues?: unknown } };
    [key: string]: unknown;
}

/** The settings.js text scripts/start.js writes, evaluated as Node-RED evaluates it. */
function startSettings(): StartSettings {
    const { SETTINGS } = require(path.join(PACKAGE_ROOT, 'scripts', 'start.js')) as { SETTINGS: string };
    const sandbox = { module: { exports: {} as StartSettings } };
    vm.runInNewContext(SETTINGS, sandbox);
    // Through JSON: objects made in the sandbox are of another realm, which deepStrictEqual tells apart.
    return JSON.parse(JSON.stringify(sandbox.module.exports)) as StartSettings;
}

let tmp = '';
let nodeRed: NodeRedProcess | null = null;

before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-start-settings-'));
});

after(async () => {
    await nodeRed?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
});

test('the settings npm start writes turn off telemetry, the update check and the palette catalogue', () => {
    const settings = startSettings();
    assert.equal(settings.telemetry?.enabled, false);
    assert.equal(settings.telemetry?.updateNotification, false);
    assert.deepEqual(settings.editorTheme?.palette?.catalogues, []);
});

test('a Node-RED started with those settings tells the editor there is no catalogue and telemetry is off', async () => {
    // Everything start.js sets, on a free port of this test's own instead of 1880.
    const { uiHost: _host, uiPort: _port, ...settings } = startSettings();
    nodeRed = await startNodeRed({ userDir: path.join(tmp, 'user'), flows: [], settings: settings as Record<string, unknown> });
    const response = await nodeRed.request('/settings', { headers: { Accept: 'application/json' } });
    assert.equal(response.status, 200);
    const editorSettings = (await response.json()) as { editorTheme?: { palette?: { catalogues?: unknown } }; telemetryEnabled?: boolean };
    assert.deepEqual(editorSettings.editorTheme?.palette?.catalogues, [], 'the editor is given an empty catalogue list (it fetches none)');
    // Telemetry (and its update check) came with Node-RED 4.1; an older one has none to report.
    const version = JSON.parse(fs.readFileSync(path.join(defaultNodeRedPath(), 'package.json'), 'utf8')).version as string;
    const [major, minor] = version.split('.').map(Number);
    assert.equal(editorSettings.telemetryEnabled, major > 4 || (major === 4 && minor >= 1) ? false : undefined, `Node-RED ${version}`);
});
