/**
 * ejabberd's MQTT broker (mod_mqtt) as a test's own processes: one node, or several joined in a
 * cluster, each an `erl ... -s ejabberd` of this test with its own configuration, Mnesia spool and
 * log, registered with an epmd of its own. Everything listens on 127.0.0.1 only: the MQTT
 * listeners, epmd and the Erlang distribution. `ejabberdctl` is not used: run as root it switches
 * to the ejabberd user and talks to the system's epmd.
 *
 * ejabberd is required: when it is missing this throws, so a test that needs it fails instead of
 * being skipped (.ci/run installs the Debian package `ejabberd`).
 */
import { ChildProcess, spawn, spawnSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort, waitForPort } from './shared/ports';

/** A user name and password pair: the nodes take any (anonymous login), but want one. */
export const EJABBERD_LOGIN = { user: 'nodered', password: 'any password will do' };

const running = new Set<ChildProcess>();
process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
});

/** The directory holding `ejabberd-<version>/ebin` (ERL_LIBS), or '' when ejabberd is not installed. */
export function findEjabberdLibs(): string {
    for (const base of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']) {
        let entries: string[];
        try {
            entries = fs.readdirSync(base);
        } catch {
            continue;
        }
        if (entries.some((name) => /^ejabberd-\d/.test(name) && fs.existsSync(path.join(base, name, 'ebin', 'ejabberd.app')))) return base;
    }
    return '';
}

function onPath(command: string): boolean {
    return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

function requireEjabberd(): string {
    const libs = findEjabberdLibs();
    if (!libs || !onPath('erl') || !onPath('epmd')) {
        throw new Error('ejabberd is not installed: apt-get install -y --no-install-recommends ejabberd');
    }
    return libs;
}

/** A child process whose output is kept, with a way to wait for a line of it. */
class Watched {
    output = '';
    exited = false;
    private readonly waiters = new Set<() => void>();
    readonly exit: Promise<void>;

    constructor(readonly child: ChildProcess, readonly what: string) {
        running.add(child);
        const append = (chunk: Buffer): void => {
            this.output += chunk.toString();
            for (const check of [...this.waiters]) check();
        };
        child.stdout?.on('data', append);
        child.stderr?.on('data', append);
        this.exit = new Promise((resolve) => {
            child.once('exit', (code, signal) => {
                running.delete(child);
                this.exited = true;
                this.output += `\n[${what} exited with ${signal ?? code}]\n`;
                for (const check of [...this.waiters]) check();
                resolve();
            });
        });
    }

    waitFor(pattern: RegExp, timeoutMs: number, fromOffset = 0): Promise<RegExpExecArray> {
        return new Promise((resolve, reject) => {
            const check = (): void => {
                const found = pattern.exec(this.output.slice(fromOffset));
                if (found) {
                    done();
                    resolve(found);
                } else if (this.exited) {
                    done();
                    reject(new Error(`${this.what} exited before it printed ${pattern}:\n${this.output}`));
                }
            };
            const done = (): void => {
                clearTimeout(timer);
                this.waiters.delete(check);
            };
            const timer = setTimeout(() => {
                done();
                reject(new Error(`${this.what} did not print ${pattern} within ${timeoutMs} ms:\n${this.output}`));
            }, timeoutMs);
            this.waiters.add(check);
            check();
        });
    }

    /** Sends the signal and resolves once the process is gone. */
    async signal(sig: NodeJS.Signals): Promise<void> {
        if (this.exited) return;
        this.child.kill(sig);
        await this.exit;
    }
}

export interface EjabberdNode {
    /** The Erlang node name, e.g. mqttwire1a2b3c4d1@localhost. */
    readonly name: string;
    /** The MQTT port on 127.0.0.1. */
    readonly port: number;
    readonly url: string;
    readonly pid: number;
    readonly running: boolean;
    /** What the node printed (its log). */
    readonly log: string;
    /** SIGTERM: the Erlang runtime stops ejabberd and exits. */
    stop(): Promise<void>;
    /** SIGKILL: a crash. */
    kill(): Promise<void>;
}

function configFile(mqttPort: number): string {
    return [
        'hosts:',
        '  - localhost',
        'loglevel: info',
        // No certificate requests to Let\'s Encrypt.
        'acme:',
        '  auto: false',
        'listen:',
        '  -',
        `    port: ${mqttPort}`,
        '    ip: "127.0.0.1"',
        '    module: mod_mqtt',
        // mod_mqtt wants a user name and password; anonymous login takes any pair.
        'auth_method: anonymous',
        'anonymous_protocol: login_anon',
        'modules:',
        '  mod_mqtt: {}',
        '',
    ].join('\n');
}

/** One or more ejabberd nodes in a cluster, with their epmd. */
export class EjabberdCluster {
    readonly nodes: EjabberdNode[] = [];
    private readonly processes: Watched[] = [];
    private epmd: Watched | null = null;
    private epmdPort = 0;
    private readonly cookie = randomBytes(12).toString('hex');
    private readonly namePrefix = `mqttwire${randomBytes(4).toString('hex')}n`;
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-ejabberd-'));

    private constructor(private readonly libs: string) {}

    /** Starts `nodeCount` nodes; each one after the first joins the first one's cluster. */
    static async start(nodeCount = 1): Promise<EjabberdCluster> {
        const cluster = new EjabberdCluster(requireEjabberd());
        try {
            await cluster.startEpmd();
            for (let i = 1; i <= nodeCount; i++) await cluster.startNode(i);
        } catch (err) {
            await cluster.dispose();
            throw err;
        }
        return cluster;
    }

    private async startEpmd(): Promise<void> {
        this.epmdPort = await freePort();
        const child = spawn('epmd', ['-port', String(this.epmdPort), '-address', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
        this.epmd = new Watched(child, 'epmd');
        // epmd prints nothing when it is ready.
        await Promise.race([waitForPort(this.epmdPort), this.epmd.exit.then(() => Promise.reject(new Error(`epmd exited: ${this.epmd?.output}`)))]);
    }

    private async startNode(index: number): Promise<void> {
        const port = await freePort();
        const name = `${this.namePrefix}${index}@localhost`;
        const nodeDir = path.join(this.dir, `node${index}`);
        fs.mkdirSync(nodeDir, { recursive: true });
        const config = path.join(nodeDir, 'ejabberd.yml');
        fs.writeFileSync(config, configFile(port));
        const first = this.nodes[0];
        // join_cluster restarts ejabberd on this node with the cluster's Mnesia tables; the marker says when it has.
        const join = first ? ['-eval', `io:format("JOIN-RESULT ~p~n", [ejabberd_admin:join_cluster(<<"${first.name}">>)]).`] : [];
        const args = [
            '-sname', name,
            '-setcookie', this.cookie,
            '-noinput',
            '-start_epmd', 'false',
            '-kernel', 'inet_dist_use_interface', '{127,0,0,1}',
            '-mnesia', 'dir', JSON.stringify(path.join(nodeDir, 'spool')),
            '-s', 'ejabberd',
            ...join,
        ];
        const child = spawn('erl', args, {
            cwd: nodeDir,
            stdio: ['ignore', 'pipe', 'pipe'],
            env: {
                ...process.env,
                HOME: nodeDir,
                ERL_LIBS: this.libs,
                ERL_EPMD_ADDRESS: '127.0.0.1',
                ERL_EPMD_PORT: String(this.epmdPort),
                ERL_CRASH_DUMP_BYTES: '0',
                EJABBERD_CONFIG_PATH: config,
                EJABBERD_LOG_PATH: path.join(nodeDir, 'ejabberd.log'),
            },
        });
        const watched = new Watched(child, `ejabberd node ${name}`);
        this.processes.push(watched);
        const accepting = new RegExp(`Start accepting TCP connections at 127\\.0\\.0\\.1:${port} for mod_mqtt`);
        if (first) {
            const [, result] = await watched.waitFor(/JOIN-RESULT (.*)\n/, 30000);
            if (result.trim() !== 'ok') throw new Error(`${name} could not join ${first.name}: ${result}\n${watched.output}`);
            // The join stopped ejabberd on this node and started it again: its listener counts from that stop.
            await watched.waitFor(accepting, 15000, Math.max(0, watched.output.lastIndexOf('Stop accepting TCP connections')));
        } else {
            await watched.waitFor(accepting, 30000);
        }
        this.nodes.push({
            name,
            port,
            url: `mqtt://127.0.0.1:${port}`,
            pid: child.pid ?? -1,
            get running() {
                return !watched.exited;
            },
            get log() {
                return watched.output;
            },
            stop: () => watched.signal('SIGTERM'),
            kill: () => watched.signal('SIGKILL'),
        });
    }

    /** Stops every node, then epmd, and removes the directory. */
    async dispose(): Promise<void> {
        await Promise.all(this.processes.map((p) => p.signal('SIGTERM')));
        await this.epmd?.signal('SIGTERM');
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** Starts ejabberd with `nodeCount` clustered nodes. */
export function startEjabberd(nodeCount = 1): Promise<EjabberdCluster> {
    return EjabberdCluster.start(nodeCount);
}
