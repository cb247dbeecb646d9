'use strict';
// `npm start` (after `npm run build`): runs Node-RED on http://127.0.0.1:1880 with this package loaded
// from the working tree and the example flow (an embedded broker on 127.0.0.1:1883) deployed.
//
// The Node-RED user directory is .node-red-dev/ in the repo (git-ignored). Its node_modules holds a
// symlink to the repo root: Node-RED scans <userDir>/node_modules for packages with a "node-red"
// section and follows the link, so a rebuild (`npm start` again) is all a change needs.
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const pkg = require(path.join(root, 'package.json'));
const userDir = path.join(root, '.node-red-dev');
const HOST = '127.0.0.1';
const PORT = 1880;

const SETTINGS = `// Written by scripts/start.js for \`npm start\`; rewritten on every start.
module.exports = {
    uiHost: ${JSON.stringify(HOST)},
    uiPort: ${PORT},
    flowFile: 'flows.json',
    flowFilePretty: true,
    // A fixed secret for this development directory only: the credentials in flows_cred.json are
    // encrypted with it, so they survive restarts. Never reuse it for a real installation.
    credentialSecret: 'node-red-contrib-mqtt-wire-dev',
    logging: { console: { level: 'info', metrics: false, audit: false } },
    // Nothing leaves this machine: no usage reports and no update checks (the runtime's telemetry
    // ping), and no palette catalogue (the editor fetches catalogue.nodered.org unless the list is
    // set; an empty list fetches none; the palette manager still installs a .tgz upload).
    telemetry: { enabled: false, updateNotification: false },
    // Open straight on the example flow, without the "what's new" tour.
    editorTheme: { tours: false, palette: { catalogues: [] } },
};
`;

function linkPackage() {
    const modules = path.join(userDir, 'node_modules');
    fs.mkdirSync(modules, { recursive: true });
    const link = path.join(modules, pkg.name);
    let existing = null;
    try {
        existing = fs.lstatSync(link);
    } catch (err) {
        if (err.code !== 'ENOENT') throw err;
    }
    if (existing) {
        if (existing.isSymbolicLink() && path.resolve(modules, fs.readlinkSync(link)) === path.resolve(root)) return;
        // Something else (an old link, or a copy installed by hand): the working tree replaces it.
        fs.rmSync(link, { recursive: true, force: true });
    }
    fs.symlinkSync(root, link, 'dir');
}

function prepareUserDir() {
    if (!fs.existsSync(path.join(root, 'dist', 'broker-config.js'))) {
        throw new Error('dist/ is missing: run `npm run build` first (`npm start` does)');
    }
    fs.mkdirSync(userDir, { recursive: true });
    fs.writeFileSync(path.join(userDir, 'settings.js'), SETTINGS);
    linkPackage();
    const flows = path.join(userDir, 'flows.json');
    if (!fs.existsSync(flows)) {
        fs.copyFileSync(path.join(root, 'examples', 'embedded-broker-basic.json'), flows);
        console.log(`[start] new flows.json from examples/embedded-broker-basic.json`);
    }
}

function main() {
    prepareUserDir();
    const red = path.join(path.dirname(require.resolve('node-red/package.json', { paths: [root] })), 'red.js');
    console.log(`[start] Node-RED user directory: ${userDir}`);
    console.log(`[start] editor: http://${HOST}:${PORT}/  (embedded MQTT broker of the example flow: ${HOST}:1883)`);
    const child = spawn(process.execPath, [red, '-u', userDir], { cwd: root, stdio: 'inherit' });

    // Pass signals on; Node-RED stops its flows (and so the embedded broker) and exits.
    const forward = (signal) => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const signal of signals) process.on(signal, forward);

    // `npm start` runs this under `sh -c`; a SIGTERM to npm ends npm and the shell but not this
    // process. Once orphaned (the parent changed), stop Node-RED as if the signal had reached us.
    const parent = process.ppid;
    const orphanWatch = setInterval(() => {
        if (process.ppid !== parent) {
            clearInterval(orphanWatch);
            console.log('[start] the parent process went away; stopping Node-RED');
            forward('SIGTERM');
        }
    }, 1000);
    orphanWatch.unref();

    child.on('error', (err) => {
        console.error(`[start] cannot run Node-RED: ${err.message}`);
        process.exit(1);
    });
    child.on('exit', (code, signal) => {
        clearInterval(orphanWatch);
        for (const s of signals) process.removeListener(s, forward);
        if (signal) {
            // Die of the same signal, so whoever started us sees what happened.
            process.kill(process.pid, signal);
            return;
        }
        process.exit(code === null ? 1 : code);
    });
}

if (require.main === module) {
    try {
        main();
    } catch (err) {
        console.error(`[start] ${err.message}`);
        process.exit(1);
    }
}

module.exports = { SETTINGS };
