'use strict';
/**
 * Starts a private Mosquitto on a free port of 127.0.0.1 for one benchmark run, and stops it (by the
 * pid of the process started here, nothing else).
 */
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { findMosquitto, loopbackConfig } = require('../../test/support/shared/mosquitto');
const { freePort, waitForPort } = require('../../test/support/shared/ports');

/**
 * @param {{ extraConfig?: string[] }} [options]
 * @returns {Promise<{ port: number, pid: number, bin: string, version: string, stop(): Promise<void>, log(): string }>}
 */
async function startMosquitto(options = {}) {
    const bin = findMosquitto();
    if (!bin) throw new Error('mosquitto is not installed (apt-get install -y mosquitto)');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-bench-'));
    const port = await freePort();
    const conf = [...loopbackConfig(port), 'persistence false', ...(options.extraConfig || [])];
    const confFile = path.join(dir, 'mosquitto.conf');
    fs.writeFileSync(confFile, conf.join('\n') + '\n');
    let log = '';
    const child = spawn(bin, ['-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (chunk) => {
        if (log.length < 20000) log += chunk.toString();
    });
    let exited = false;
    const exit = new Promise((resolve) => child.once('exit', (code) => {
        exited = true;
        resolve(code);
    }));
    const died = exit.then((code) => {
        throw new Error(`mosquitto exited with ${code}: ${log}`);
    });
    died.catch(() => undefined);
    await Promise.race([waitForPort(port), died]);
    const versionRun = spawnSync(bin, ['-h'], { encoding: 'utf8' });
    const version = ((versionRun.stdout || '') + (versionRun.stderr || '')).match(/mosquitto version ([\w.]+)/i);
    return {
        port,
        pid: child.pid,
        bin,
        version: version ? version[1] : 'unknown',
        log: () => log,
        async stop() {
            if (!exited) {
                child.kill('SIGTERM');
                const timer = setTimeout(() => {
                    if (!exited) child.kill('SIGKILL');
                }, 3000);
                await exit;
                clearTimeout(timer);
            }
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
}

module.exports = { startMosquitto };
