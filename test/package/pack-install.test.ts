/**
 * The package as users get it: `npm pack` (which runs `prepare`, the build) makes a tarball, the
 * tarball is installed with `npm install` into a fresh Node-RED user directory, and a real Node-RED
 * process loads it through its own registry (package.json "node-red" section, catalogues, editor
 * resources) and runs a flow end to end on the embedded broker.
 *
 * `npm install` fetches the package's dependencies (mqtt, aedes) from the npm registry or the npm
 * cache. Nothing here is skipped: a missing file or a node set that fails to load fails the test.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vm from 'node:vm';
import { after, before, test } from 'node:test';
import * as mqtt from 'mqtt';
import { freePort } from '../support/shared/ports';
import { defaultNodeRedPath, NodeRedProcess, PACKAGE_NAME, PACKAGE_ROOT, startNodeRed } from '../support/node-red-process';

const NODE_TYPES = ['broker-config', 'mqtt-in', 'mqtt-out'];
const pkg = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

let tmp = '';
let tarball = '';
let entries: string[] = [];
let userDir = '';
let installedDir = '';
let nodeRed: NodeRedProcess | null = null;
let brokerPort = 0;

function run(command: string, args: string[], cwd: string, timeoutMs: number): string {
    const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
    if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
    if (result.status !== 0) {
        throw new Error(`${command} ${args.join(' ')} exited with ${result.status}\n${result.stdout}\n${result.stderr}`);
    }
    return result.stdout;
}

const tabId = '7b1e0c52a9d4f316';
const brokerId = 'c04f8e2b61a7d935';
function relayFlow(port: number): object[] {
    return [
        { id: tabId, type: 'tab', label: 'pack-install', disabled: false, info: '' },
        {
            id: brokerId,
            type: 'broker-config',
            name: 'embedded',
            mode: 'embedded',
            broker: '127.0.0.1',
            port: String(port),
            protocol: 'mqtt',
            clientid: '',
            keepalive: '60',
            cleansession: true,
            protocolVersion: '4',
            autoConnect: true,
        },
        { id: '2d9a61f0be47c381', type: 'mqtt-in', z: tabId, name: '', topic: 'wire/in', qos: '1', datatype: 'auto-detect', broker: brokerId, x: 150, y: 80, wires: [['e83b5c1d07f26a49']] },
        { id: 'e83b5c1d07f26a49', type: 'mqtt-out', z: tabId, name: '', topic: 'wire/out', qos: '1', retain: '', broker: brokerId, x: 400, y: 80, wires: [] },
    ];
}

before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-pack-'));

    // npm pack runs `prepare` (npm run build) and writes <name>-<version>.tgz.
    run('npm', ['pack', '--pack-destination', tmp], PACKAGE_ROOT, 120000);
    tarball = path.join(tmp, `${pkg.name}-${pkg.version}.tgz`);
    assert.ok(fs.existsSync(tarball), `npm pack did not write ${tarball}`);
    entries = run('tar', ['-tzf', tarball], tmp, 30000)
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean);

    // A fresh Node-RED user directory, the way a user has one: a package.json, then npm install.
    userDir = path.join(tmp, 'userDir');
    fs.mkdirSync(userDir);
    fs.writeFileSync(path.join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', description: 'test user directory', version: '0.0.1', private: true }, null, 2));
    run('npm', ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', tarball], userDir, 180000);
    installedDir = path.join(userDir, 'node_modules', PACKAGE_NAME);

    brokerPort = await freePort();
    nodeRed = await startNodeRed({ userDir, flows: relayFlow(brokerPort), packageSource: 'installed' });
});

after(async () => {
    if (nodeRed) await nodeRed.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('the tarball holds the built package and no sources or tests', () => {
    const has = (entry: string): boolean => entries.includes(`package/${entry}`);
    const under = (dir: string): string[] => entries.filter((e) => e.startsWith(`package/${dir}`));
    for (const type of NODE_TYPES) {
        assert.ok(has(`dist/${type}.js`), `dist/${type}.js missing from the tarball`);
        assert.ok(has(`dist/${type}.html`), `dist/${type}.html missing from the tarball`);
        for (const lang of ['en-US', 'zh-CN']) {
            assert.ok(has(`dist/locales/${lang}/${type}.json`), `dist/locales/${lang}/${type}.json missing from the tarball`);
        }
    }
    assert.ok(has('dist/index.js'), 'dist/index.js (the main entry) missing');
    assert.ok(has('dist/lib/topic.js'), 'dist/lib/topic.js missing');
    assert.ok(under('dist/icons/').some((e) => e.endsWith('.svg')), 'no icons under dist/icons/');
    assert.ok(has('resources/topic.js'), 'resources/topic.js missing');
    assert.ok(has('resources/broker-settings.js'), 'resources/broker-settings.js missing');
    assert.ok(has('examples/embedded-broker-basic.json'), 'examples/embedded-broker-basic.json missing');
    assert.ok(has('package.json') && has('README.md'), 'package.json or README.md missing');

    assert.deepEqual(under('test/'), [], 'test/ must not be packed');
    assert.deepEqual(under('nodes/'), [], 'nodes/ (the TypeScript sources) must not be packed');
    assert.deepEqual(under('dist-test/'), [], 'dist-test/ must not be packed');
    assert.deepEqual(under('.node-red-dev/'), [], '.node-red-dev/ must not be packed');
    const sources = entries.filter((e) => e.endsWith('.ts') && !e.endsWith('.d.ts'));
    assert.deepEqual(sources, [], 'TypeScript sources must not be packed');
});

test('npm install put a real copy (not a link) into the user directory', () => {
    const stat = fs.lstatSync(installedDir);
    assert.ok(stat.isDirectory() && !stat.isSymbolicLink(), `${installedDir} should be an installed directory`);
    const installed = JSON.parse(fs.readFileSync(path.join(installedDir, 'package.json'), 'utf8'));
    assert.equal(installed.version, pkg.version);
    const userPackage = JSON.parse(fs.readFileSync(path.join(userDir, 'package.json'), 'utf8'));
    assert.ok(userPackage.dependencies?.[PACKAGE_NAME], 'npm install should record the package in the user directory package.json');
});

test('Node-RED loads the three node types from the installed package', async () => {
    assert.ok(nodeRed);
    // The runtime is the one asked for (the devDependency, or MQTT_WIRE_NODE_RED).
    const runtimeVersion = JSON.parse(fs.readFileSync(path.join(defaultNodeRedPath(), 'package.json'), 'utf8')).version;
    await nodeRed.waitForLog(`Node-RED version: v${runtimeVersion}`, 1000, 0);
    const sets = (await nodeRed.getNodes()).filter((set) => set.module === PACKAGE_NAME);
    assert.deepEqual(sets.map((s) => s.name).sort(), [...NODE_TYPES].sort(), `node sets of ${PACKAGE_NAME}: ${JSON.stringify(sets)}`);
    for (const set of sets) {
        assert.equal(set.enabled, true, `${set.id} is not enabled`);
        assert.equal(set.err, undefined, `${set.id} failed to load: ${JSON.stringify(set.err)}`);
        assert.equal(set.version, pkg.version);
        assert.equal(set.local, true, `${set.id} should come from the user directory's node_modules`);
    }
    assert.deepEqual(sets.flatMap((s) => s.types).sort(), [...NODE_TYPES].sort());
    // The module as the registry knows it: loaded from the installed copy, listed as the user's.
    const response = await nodeRed.request(`/nodes/${PACKAGE_NAME}`, { headers: { Accept: 'application/json' } });
    assert.equal(response.status, 200, `GET /nodes/${PACKAGE_NAME}`);
    const info = (await response.json()) as { path?: string; user?: boolean; version?: string };
    assert.equal(info.version, pkg.version);
    assert.equal(info.user, true, 'the module should count as installed by the user (in the user directory package.json)');
    assert.equal(fs.realpathSync(String(info.path)), fs.realpathSync(installedDir), 'Node-RED should load the installed copy');
    // The runtime's own catalogue gave the log line its words (a missing catalogue logs the key).
    await nodeRed.waitForLog(`embedded MQTT broker listening on 127.0.0.1:${brokerPort} (MQTT 3.1.1)`, 15000, 0);
});

test('a deployed flow relays a message through the embedded broker', async () => {
    assert.ok(nodeRed);
    const client = mqtt.connect(`mqtt://127.0.0.1:${brokerPort}`, { clientId: `pack-install-${process.pid}`, reconnectPeriod: 200, connectTimeout: 5000 });
    try {
        await new Promise<void>((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`no connection to the embedded broker on ${brokerPort}\n${nodeRed?.log}`)), 15000);
            client.once('connect', () => {
                clearTimeout(timer);
                resolve();
            });
        });
        const received: { topic: string; payload: string }[] = [];
        client.on('message', (topic, payload) => received.push({ topic, payload: payload.toString('utf8') }));
        await client.subscribeAsync('wire/out', { qos: 1 });

        // mqtt-in subscribes once its broker-config has connected, which may be just after
        // "Started flows": publish until the first relayed message comes back.
        const sent: string[] = [];
        const deadline = Date.now() + 15000;
        while (received.length === 0) {
            assert.ok(Date.now() < deadline, `nothing came back on wire/out; Node-RED log:\n${nodeRed.log}`);
            const payload = JSON.stringify({ n: sent.length, from: 'pack-install' });
            sent.push(payload);
            await client.publishAsync('wire/in', payload, { qos: 1 });
            await new Promise((r) => setTimeout(r, 300));
        }
        assert.equal(received[0].topic, 'wire/out');
        // auto-detect parsed the JSON; mqtt-out wrote the object back as JSON.
        assert.ok(sent.includes(received[0].payload), `relayed ${received[0].payload}, sent ${sent.join(', ')}`);
    } finally {
        await client.endAsync();
    }
});

test('the editor resource and the catalogues are served', async () => {
    assert.ok(nodeRed);
    const topicJs = await nodeRed.request(`/resources/${PACKAGE_NAME}/topic.js`);
    assert.equal(topicJs.status, 200, `GET /resources/${PACKAGE_NAME}/topic.js`);
    assert.match(topicJs.headers.get('content-type') ?? '', /javascript/);
    const source = await topicJs.text();
    // Run it as the editor does, as a script in a page: it defines window.MqttWireTopic.
    const window: Record<string, any> = {};
    vm.runInNewContext(source, { window });
    assert.equal(typeof window.MqttWireTopic?.checkTopicFilter, 'function', 'topic.js should define MqttWireTopic.checkTopicFilter');
    assert.equal(window.MqttWireTopic.checkTopicFilter('home/+/temperature'), null);
    assert.notEqual(window.MqttWireTopic.checkTopicFilter('home/#/x'), null);

    const settingsJs = await nodeRed.request(`/resources/${PACKAGE_NAME}/broker-settings.js`);
    assert.equal(settingsJs.status, 200, `GET /resources/${PACKAGE_NAME}/broker-settings.js`);
    // A page has URL too; the broker dialog reads window.MqttWireBrokerSettings.
    vm.runInNewContext(await settingsJs.text(), { window, URL });
    assert.equal(window.MqttWireBrokerSettings?.propertyProblem('port', { port: '70000' })?.code, 'port');
    assert.equal(window.MqttWireBrokerSettings.resolveBrokerSettings({ broker: 'mqtts://h' }).url, 'mqtts://h:8883');

    for (const lang of ['zh-CN', 'en-US']) {
        for (const type of NODE_TYPES) {
            const response = await nodeRed.request(`/locales/${PACKAGE_NAME}/${type}?lng=${lang}`, { headers: { Accept: 'application/json' } });
            assert.equal(response.status, 200, `GET /locales/${PACKAGE_NAME}/${type}?lng=${lang}`);
            const served = await response.json();
            const file = JSON.parse(fs.readFileSync(path.join(installedDir, 'dist', 'locales', lang, `${type}.json`), 'utf8'));
            assert.deepEqual(served, file, `the ${lang} catalogue of ${type} as served differs from the packed file`);
        }
    }
    const zh = await (await nodeRed.request(`/locales/${PACKAGE_NAME}/mqtt-in?lng=zh-CN`)).json();
    const en = await (await nodeRed.request(`/locales/${PACKAGE_NAME}/mqtt-in?lng=en-US`)).json();
    assert.notDeepEqual(zh, en, 'the zh-CN catalogue of mqtt-in should not be the English one');
});

test('the example flows are offered under Import > Examples', async () => {
    assert.ok(nodeRed);
    const list = await nodeRed.request(`/library/examples/flows/${PACKAGE_NAME}`, { headers: { Accept: 'application/json' } });
    assert.equal(list.status, 200, `GET /library/examples/flows/${PACKAGE_NAME}`);
    const offered = ((await list.json()) as { fn: string }[]).map((entry) => entry.fn).sort();
    const inRepository = fs.readdirSync(path.join(PACKAGE_ROOT, 'examples')).map((file) => file.replace(/\.json$/, '')).sort();
    assert.ok(inRepository.includes('embedded-broker-basic'));
    assert.deepEqual(offered, inRepository, 'every example of the repository is packed and offered');
    const flow = await nodeRed.request(`/library/examples/flows/${PACKAGE_NAME}/embedded-broker-basic`, { headers: { Accept: 'application/json' } });
    assert.equal(flow.status, 200);
    const nodes = (await flow.json()) as { type: string }[];
    for (const type of [...NODE_TYPES, 'tab', 'inject', 'debug']) {
        assert.ok(nodes.some((n) => n.type === type), `the example flow has no ${type} node`);
    }
});

/**
 * The palette manager's way in: Manage palette > Install > upload, which POSTs the tarball to the
 * admin API (POST /nodes, multipart field "tarball"; on by default, off with
 * editorTheme.palette.upload: false). Node-RED runs npm install on it in its user directory, so the
 * dependencies come from the npm registry or the npm cache, and adds the nodes without a restart.
 */
test('the tarball uploaded through the palette manager installs the nodes, their help in both languages and the example', async () => {
    const paletteDir = path.join(tmp, 'paletteUserDir');
    const palette = await startNodeRed({ userDir: paletteDir, flows: [], packageSource: 'none' });
    try {
        assert.deepEqual((await palette.getNodes()).filter((set) => set.module === PACKAGE_NAME), [], 'not installed before the upload');
        const form = new FormData();
        form.append('tarball', new Blob([fs.readFileSync(tarball)], { type: 'application/gzip' }), path.basename(tarball));
        const upload = await palette.request('/nodes', { method: 'POST', body: form, signal: AbortSignal.timeout(240000) });
        assert.equal(upload.status, 200, `POST /nodes with the tarball: ${await upload.clone().text()}\n${palette.log}`);
        const added = (await upload.json()) as { name: string; version: string; nodes: { name: string; types: string[]; enabled: boolean; err?: unknown }[] };
        assert.equal(added.name, PACKAGE_NAME);
        assert.equal(added.version, pkg.version);

        const sets = (await palette.getNodes()).filter((set) => set.module === PACKAGE_NAME);
        assert.deepEqual(sets.flatMap((s) => s.types).sort(), [...NODE_TYPES].sort(), `node sets after the upload: ${JSON.stringify(sets)}`);
        for (const set of sets) assert.equal(set.err, undefined, `${set.id} failed to load: ${JSON.stringify(set.err)}`);
        const installed = path.join(paletteDir, 'node_modules', PACKAGE_NAME);
        for (const dependency of ['mqtt', 'aedes']) {
            const places = [path.join(paletteDir, 'node_modules', dependency), path.join(installed, 'node_modules', dependency)];
            assert.ok(places.some((place) => fs.existsSync(path.join(place, 'package.json'))), `npm installed ${dependency} into the user directory`);
        }

        // The editor asks GET /nodes for text/html in its language: the definitions and the help.
        for (const lang of ['en-US', 'zh-CN']) {
            const response = await palette.request('/nodes', { headers: { Accept: 'text/html', 'Accept-Language': lang } });
            assert.equal(response.status, 200);
            const html = await response.text();
            for (const type of NODE_TYPES) {
                const help = fs.readFileSync(path.join(installed, 'dist', 'locales', lang, `${type}.html`), 'utf8').trim();
                assert.ok(html.includes(help), `the ${lang} help of ${type} is served to the editor`);
            }
        }

        const list = await palette.request(`/library/examples/flows/${PACKAGE_NAME}`, { headers: { Accept: 'application/json' } });
        assert.equal(list.status, 200, `GET /library/examples/flows/${PACKAGE_NAME}`);
        const offered = ((await list.json()) as { fn: string }[]).map((entry) => entry.fn).sort();
        const inRepository = fs.readdirSync(path.join(PACKAGE_ROOT, 'examples')).map((file) => file.replace(/\.json$/, '')).sort();
        assert.deepEqual(offered, inRepository, 'every example of the repository is offered by the uploaded package');
    } finally {
        await palette.stop();
    }
});
