/**
 * A REAL Node-RED runtime in a child process, for tests that need what node-red-node-test-helper
 * does not give: the package loaded by Node-RED's own registry (package.json "node-red" section,
 * message catalogues, editor resources), the admin HTTP API, and a process that can be stopped,
 * killed and started again on the same user directory.
 *
 * The runtime is the devDependency (4.x) unless MQTT_WIRE_NODE_RED names another node-red package
 * directory; the node binary is this one unless MQTT_WIRE_NODE_BINARY names another (.ci/run sets
 * both for its Node-RED 5 / Node.js 22 pass).
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { freePort } from './shared/ports';

export const PACKAGE_NAME = 'node-red-contrib-mqtt-wire';
/** The repo root: the package as the working tree has it (dist/ must be built). */
export const PACKAGE_ROOT = path.join(__dirname, '..', '..');

export interface NodeRedProcessOptions {
    /** The Node-RED user directory; created when missing. */
    userDir: string;
    /**
     * The flow to write to flows.json before starting. Leave it out to start with the flows.json
     * already in userDir (a restart).
     */
    flows?: object[];
    /** Credentials by node id, written unencrypted to flows_cred.json (credentialSecret is false). */
    credentials?: Record<string, Record<string, unknown>>;
    /** The admin/editor port on 127.0.0.1; a free one when left out. */
    port?: number;
    /** A node-red package directory; default MQTT_WIRE_NODE_RED, else the devDependency. */
    nodeRedPath?: string;
    /** The node binary; default MQTT_WIRE_NODE_BINARY, else the one running the tests. */
    nodeBinary?: string;
    /**
     * How the package gets into userDir/node_modules: 'link' (default) symlinks the repo root there;
     * 'installed' expects it installed already (npm install of a tarball) and fails when it is not;
     * 'none' leaves node_modules alone (the package is installed later, e.g. through the palette).
     */
    packageSource?: 'link' | 'installed' | 'none';
    /** Extra settings.js properties (JSON values). */
    settings?: Record<string, unknown>;
    /** Extra environment variables for the Node-RED process. */
    env?: Record<string, string>;
    /** How long to wait for "Started flows" and the admin API. */
    startTimeoutMs?: number;
}

export interface NodeSetInfo {
    id: string;
    name: string;
    types: string[];
    enabled: boolean;
    local?: boolean;
    user?: boolean;
    module: string;
    version?: string;
    err?: unknown;
}

export interface NodeRedProcess {
    port: number;
    pid: number;
    userDir: string;
    /** http://127.0.0.1:<port> */
    url: string;
    /** Everything the process wrote to stdout and stderr so far. */
    readonly log: string;
    readonly running: boolean;
    /** SIGTERM: Node-RED stops its flows and exits; resolves with the exit code once it has. */
    stop(timeoutMs?: number): Promise<number | null>;
    /** SIGKILL: a crash; resolves once the process is gone. */
    kill(): Promise<void>;
    /** GET /nodes as JSON: the node sets the runtime loaded. */
    getNodes(): Promise<NodeSetInfo[]>;
    /** A request to the admin API / HTTP server of this runtime. */
    request(urlPath: string, init?: RequestInit): Promise<Response>;
    /**
     * POST /flows; resolves once the runtime has started the new flows. `full` (the default)
     * restarts every node, `nodes` only the changed ones, as the editor's "Modified Nodes" deploy.
     */
    deploy(flows: object[], type?: 'full' | 'nodes' | 'flows'): Promise<void>;
    /** Resolves once the log (from `fromOffset`, default now) matches `pattern`. */
    waitForLog(pattern: RegExp | string, timeoutMs?: number, fromOffset?: number): Promise<void>;
}

export function defaultNodeRedPath(): string {
    const fromEnv = process.env.MQTT_WIRE_NODE_RED;
    if (fromEnv) return path.resolve(fromEnv);
    return path.dirname(require.resolve('node-red/package.json'));
}

export function defaultNodeBinary(): string {
    return process.env.MQTT_WIRE_NODE_BINARY || process.execPath;
}

function settingsFile(port: number, extra: Record<string, unknown>): string {
    const settings: Record<string, unknown> = {
        uiHost: '127.0.0.1',
        uiPort: port,
        flowFile: 'flows.json',
        flowFilePretty: true,
        credentialSecret: false,
        logging: { console: { level: 'info', metrics: false, audit: false } },
        telemetry: { enabled: false, updateNotification: false },
        ...extra,
    };
    return `// Written by test/support/node-red-process.ts\nmodule.exports = ${JSON.stringify(settings, null, 4)};\n`;
}

function preparePackage(userDir: string, source: 'link' | 'installed'): void {
    const modules = path.join(userDir, 'node_modules');
    const target = path.join(modules, PACKAGE_NAME);
    let stat: fs.Stats | null;
    try {
        stat = fs.lstatSync(target);
    } catch {
        stat = null;
    }
    if (source === 'installed') {
        if (!stat || stat.isSymbolicLink() || !fs.existsSync(path.join(target, 'package.json'))) {
            throw new Error(`${target} is not an installed copy of the package (packageSource 'installed')`);
        }
        return;
    }
    if (stat) {
        if (!stat.isSymbolicLink()) throw new Error(`${target} exists and is not a link; use packageSource 'installed'`);
        if (path.resolve(modules, fs.readlinkSync(target)) === path.resolve(PACKAGE_ROOT)) return;
        fs.unlinkSync(target);
    }
    if (!fs.existsSync(path.join(PACKAGE_ROOT, 'dist', 'broker-config.js'))) {
        throw new Error('dist/ is missing: run `npm run build` first');
    }
    fs.mkdirSync(modules, { recursive: true });
    fs.symlinkSync(PACKAGE_ROOT, target, 'dir');
}

/** Starts Node-RED and resolves once its admin API answers and its flows are started. */
export async function startNodeRed(options: NodeRedProcessOptions): Promise<NodeRedProcess> {
    const userDir = path.resolve(options.userDir);
    fs.mkdirSync(userDir, { recursive: true });
    const port = options.port ?? (await freePort());
    const nodeRedPath = options.nodeRedPath ? path.resolve(options.nodeRedPath) : defaultNodeRedPath();
    const redJs = path.join(nodeRedPath, 'red.js');
    if (!fs.existsSync(redJs)) throw new Error(`no Node-RED at ${nodeRedPath} (${redJs} is missing)`);
    const nodeBinary = options.nodeBinary ?? defaultNodeBinary();

    fs.writeFileSync(path.join(userDir, 'settings.js'), settingsFile(port, options.settings ?? {}));
    if (options.flows) fs.writeFileSync(path.join(userDir, 'flows.json'), JSON.stringify(options.flows, null, 4));
    if (options.credentials) fs.writeFileSync(path.join(userDir, 'flows_cred.json'), JSON.stringify(options.credentials, null, 4));
    if (options.packageSource !== 'none') preparePackage(userDir, options.packageSource ?? 'link');

    const child: ChildProcess = spawn(nodeBinary, [redJs, '-u', userDir], {
        cwd: userDir,
        env: { ...process.env, ...(options.env ?? {}) },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    const logWaiters = new Set<() => void>();
    const append = (chunk: Buffer): void => {
        log += chunk.toString();
        for (const check of [...logWaiters]) check();
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);

    let exitCode: number | null = null;
    let exited = false;
    const exit = new Promise<number | null>((resolve) => {
        const ended = (code: number | null, note: string): void => {
            if (exited) return;
            exited = true;
            exitCode = code;
            log += `\n[node-red-process] ${note}\n`;
            for (const check of [...logWaiters]) check();
            resolve(code);
        };
        child.once('exit', (code, signal) => ended(code, `exited with ${signal ?? code}`));
        // A binary that cannot be started emits 'error' and no 'exit'.
        child.once('error', (err) => ended(null, `cannot start ${nodeBinary}: ${err.message}`));
    });

    const url = `http://127.0.0.1:${port}`;
    const request = (urlPath: string, init?: RequestInit): Promise<Response> => fetch(url + urlPath, init);

    const waitForLog = (pattern: RegExp | string, timeoutMs = 20000, fromOffset = log.length): Promise<void> =>
        new Promise((resolve, reject) => {
            const matches = (): boolean => {
                const text = log.slice(fromOffset);
                return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
            };
            const check = (): void => {
                if (matches()) {
                    finish();
                    resolve();
                } else if (exited) {
                    finish();
                    reject(new Error(`Node-RED exited before its log showed ${pattern}; log:\n${log}`));
                }
            };
            const finish = (): void => {
                clearTimeout(timer);
                logWaiters.delete(check);
            };
            const timer = setTimeout(() => {
                finish();
                reject(new Error(`Node-RED's log did not show ${pattern} within ${timeoutMs} ms; log:\n${log}`));
            }, timeoutMs);
            logWaiters.add(check);
            check();
        });

    const handle: NodeRedProcess = {
        port,
        pid: child.pid ?? -1,
        userDir,
        url,
        get log() {
            return log;
        },
        get running() {
            return !exited;
        },
        async stop(timeoutMs = 15000) {
            if (exited) return exitCode;
            child.kill('SIGTERM');
            const timer = setTimeout(() => {
                log += '\n[node-red-process] did not stop after SIGTERM; killing it\n';
                child.kill('SIGKILL');
            }, timeoutMs);
            const code = await exit;
            clearTimeout(timer);
            return code;
        },
        async kill() {
            if (exited) return;
            child.kill('SIGKILL');
            await exit;
        },
        async getNodes() {
            const response = await request('/nodes', { headers: { Accept: 'application/json' } });
            if (!response.ok) throw new Error(`GET /nodes: HTTP ${response.status}`);
            return (await response.json()) as NodeSetInfo[];
        },
        request,
        async deploy(flows: object[], type: 'full' | 'nodes' | 'flows' = 'full') {
            const from = log.length;
            const response = await request('/flows', {
                method: 'POST',
                headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': type, 'Node-RED-API-Version': 'v1' },
                body: JSON.stringify(flows),
            });
            if (!response.ok) throw new Error(`POST /flows: HTTP ${response.status} ${await response.text()}`);
            // A full deploy logs "Started flows", the others "Started modified nodes/flows".
            await waitForLog(/Started (flows|modified nodes|modified flows)/, 20000, from);
        },
        waitForLog,
    };

    const timeoutMs = options.startTimeoutMs ?? 30000;
    const deadline = Date.now() + timeoutMs;
    try {
        await waitForLog('Started flows', timeoutMs, 0);
        // The admin API answers as well (it does once the server runs; this checks it is ours).
        for (;;) {
            try {
                const response = await request('/flows', { headers: { Accept: 'application/json' } });
                if (response.ok) break;
            } catch {
                // not listening yet
            }
            if (exited) throw new Error(`Node-RED exited during start; log:\n${log}`);
            if (Date.now() > deadline) throw new Error(`Node-RED's admin API did not answer on ${url}; log:\n${log}`);
            await new Promise((r) => setTimeout(r, 100));
        }
    } catch (err) {
        await handle.kill();
        throw err;
    }
    return handle;
}
