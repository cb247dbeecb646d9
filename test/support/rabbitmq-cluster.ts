import { ChildProcess, execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { freePort, waitForPort } from './shared/ports';

/**
 * A RabbitMQ cluster (the Debian package rabbitmq-server, 3.10, with its rabbitmq_mqtt plugin) that
 * a test file starts as its own processes, every port on loopback: a private epmd, and two or more
 * nodes that form the cluster at their first boot (classic_config peer discovery), each with an MQTT
 * listener; `ctl()` runs rabbitmqctl against a node, to set a policy as an operator would.
 * RabbitMQ is required: when it is missing this throws, so the tests fail instead of being skipped
 * (.ci/run installs the package).
 */
export interface RabbitNode {
    name: string;
    /** Its MQTT port on 127.0.0.1. */
    mqttPort: number;
    amqpPort: number;
    distPort: number;
    dir: string;
    /** The rabbitmq-server script's process; it runs the Erlang VM as a child. */
    script: ChildProcess | null;
    log: string;
}

const PACKAGE_ROOT = '/usr/lib/rabbitmq/lib';
/** A cold node takes 8 to 11 s to accept MQTT here; a second one joining at first boot, about 18 s for both. */
const START_PATIENCE_MS = 90000;

/** One of the package's own scripts, such as rabbitmq-server (the wrappers on the PATH switch to the rabbitmq user). */
export function findRabbitmqScript(name = 'rabbitmq-server'): string | null {
    if (!fs.existsSync(PACKAGE_ROOT)) return null;
    const versions = fs.readdirSync(PACKAGE_ROOT).filter((d) => d.startsWith('rabbitmq_server-')).sort();
    const script = versions.length ? path.join(PACKAGE_ROOT, versions[versions.length - 1], 'sbin', name) : '';
    return script && fs.existsSync(script) ? script : null;
}

// A test process that ends without its after() hooks must not leave a cluster running.
const live = new Set<RabbitCluster>();
process.once('exit', () => {
    for (const cluster of live) cluster.killAllNow();
});

/** SIGKILL to the process group a node's script leads (the script and its Erlang VM). */
function killGroupQuietly(pid: number | null | undefined): void {
    if (pid) killQuietly(-pid);
}

function killQuietly(pid: number | null | undefined): void {
    if (!pid) return;
    try {
        process.kill(pid, 'SIGKILL');
    } catch {
        // already gone
    }
}

export class RabbitCluster {
    readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-rabbitmq-'));
    readonly nodes: RabbitNode[] = [];
    private epmd: ChildProcess | null = null;
    private epmdPort = 0;
    private readonly script: string;

    constructor(private readonly size = 2) {
        const script = findRabbitmqScript();
        if (!script) throw new Error('rabbitmq-server is not installed: apt-get install -y --no-install-recommends rabbitmq-server');
        this.script = script;
    }

    /** Starts epmd and both nodes; resolves once each accepts MQTT connections. */
    async start(): Promise<this> {
        live.add(this);
        // HOME holds the cookie the nodes share; Erlang wants it readable by its owner only.
        fs.writeFileSync(path.join(this.dir, '.erlang.cookie'), `mqttwire${process.pid}${Date.now()}`, { mode: 0o400 });
        this.epmdPort = await freePort();
        this.epmd = spawn('epmd', ['-address', '127.0.0.1', '-port', String(this.epmdPort)], { stdio: 'ignore' });
        await waitForPort(this.epmdPort);
        const suffix = `${process.pid}`;
        for (const letter of 'abcdefg'.slice(0, this.size)) {
            const dir = path.join(this.dir, letter);
            fs.mkdirSync(dir);
            this.nodes.push({ name: `mqttwire${letter}${suffix}@localhost`, mqttPort: await freePort(), amqpPort: await freePort(), distPort: await freePort(), dir, script: null, log: '' });
        }
        for (const node of this.nodes) {
            fs.writeFileSync(
                path.join(node.dir, 'rabbitmq.conf'),
                [
                    `listeners.tcp.1 = 127.0.0.1:${node.amqpPort}`,
                    `mqtt.listeners.tcp.1 = 127.0.0.1:${node.mqttPort}`,
                    'mqtt.allow_anonymous = true',
                    'cluster_formation.peer_discovery_backend = classic_config',
                    ...this.nodes.map((n, i) => `cluster_formation.classic_config.nodes.${i + 1} = ${n.name}`),
                ].join('\n') + '\n',
            );
            fs.writeFileSync(path.join(node.dir, 'enabled_plugins'), '[rabbitmq_mqtt].\n');
        }
        try {
            // The first node alone, then the others join it: started all at once, the MQTT plugin's
            // client-id tracking (a Raft cluster) once took 100 s to elect a leader.
            const [first, ...others] = this.nodes;
            this.launch(first);
            await this.untilListening(first);
            for (const node of others) this.launch(node);
            await Promise.all(others.map((node) => this.untilListening(node)));
        } catch (err) {
            // Nothing of a cluster that did not start may outlive the test.
            await this.dispose();
            throw err;
        }
        return this;
    }

    private environment(node: RabbitNode): NodeJS.ProcessEnv {
        return {
            PATH: process.env.PATH,
            LANG: 'C.UTF-8',
            HOME: this.dir,
            RABBITMQ_NODENAME: node.name,
            RABBITMQ_BASE: node.dir,
            RABBITMQ_MNESIA_BASE: path.join(node.dir, 'mnesia'),
            RABBITMQ_LOG_BASE: path.join(node.dir, 'log'),
            RABBITMQ_PID_FILE: path.join(node.dir, 'pid'),
            RABBITMQ_CONFIG_FILE: path.join(node.dir, 'rabbitmq.conf'),
            RABBITMQ_ADVANCED_CONFIG_FILE: path.join(node.dir, 'advanced.config'),
            RABBITMQ_ENABLED_PLUGINS_FILE: path.join(node.dir, 'enabled_plugins'),
            // Not the system's /etc/rabbitmq/rabbitmq-env.conf.
            RABBITMQ_CONF_ENV_FILE: path.join(node.dir, 'rabbitmq-env.conf'),
            RABBITMQ_DIST_PORT: String(node.distPort),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
            ERL_EPMD_ADDRESS: '127.0.0.1',
            ERL_EPMD_PORT: String(this.epmdPort),
        };
    }

    private launch(node: RabbitNode): void {
        // A process group of its own (the script and the Erlang VM it starts), to end both by its id.
        const script = spawn(this.script, [], { env: this.environment(node), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
        const keep = (chunk: Buffer) => {
            node.log = (node.log + chunk.toString()).slice(-20000);
        };
        script.stdout?.on('data', keep);
        script.stderr?.on('data', keep);
        node.script = script;
    }

    private async untilListening(node: RabbitNode): Promise<void> {
        const exited = new Promise<never>((_, reject) => node.script?.once('exit', (code) => reject(new Error(`RabbitMQ node ${node.name} exited with ${code}: ${node.log}`))));
        exited.catch(() => undefined);
        await Promise.race([waitForPort(node.mqttPort, START_PATIENCE_MS), exited]);
    }

    /**
     * `rabbitmqctl <args>` against a running node, as an operator would type it; resolves with its
     * output, rejects with its output when it fails. The CLI is an Erlang node of its own: it gets a
     * free port on 127.0.0.1 (its default range, 35672-35682, may be taken on a busy machine), and a
     * second and third try each get another.
     */
    async ctl(node: RabbitNode, args: string[]): Promise<string> {
        const ctl = findRabbitmqScript('rabbitmqctl');
        if (!ctl) throw new Error('rabbitmqctl is missing from the rabbitmq-server package');
        let failure: Error | null = null;
        for (let attempt = 0; attempt < 3; attempt++) {
            const port = String(await freePort());
            const env = {
                ...this.environment(node),
                RABBITMQ_CTL_DIST_PORT_MIN: port,
                RABBITMQ_CTL_DIST_PORT_MAX: port,
                RABBITMQ_CTL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
            };
            try {
                return await new Promise<string>((resolve, reject) => {
                    execFile(ctl, ['-n', node.name, ...args], { env, timeout: 60000 }, (err, stdout, stderr) => {
                        if (err) reject(new Error(`rabbitmqctl ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
                        else resolve(stdout);
                    });
                });
            } catch (err) {
                failure = err as Error;
                if (attempt < 2) console.log(`# ${failure.message.split('\n').slice(0, 3).join(' ')} - trying again`);
            }
        }
        throw failure;
    }

    /** The PID of a node's Erlang VM (the script writes it to its PID file). */
    private vmPid(node: RabbitNode): number | null {
        try {
            const pid = Number(fs.readFileSync(path.join(node.dir, 'pid'), 'utf8').trim());
            return Number.isInteger(pid) && pid > 0 ? pid : null;
        } catch {
            return null;
        }
    }

    /** SIGKILL to a node's VM: a crash. Resolves once its script has ended too. */
    async kill(node: RabbitNode): Promise<void> {
        const script = node.script;
        const pid = this.vmPid(node);
        if (!script || script.exitCode !== null) {
            killQuietly(pid);
            return;
        }
        const ended = new Promise<void>((resolve) => script.once('exit', () => resolve()));
        killQuietly(pid);
        // The script ends with its VM; should it not, it goes too.
        const late = setTimeout(() => killGroupQuietly(script.pid), pid ? 5000 : 0);
        await ended;
        clearTimeout(late);
        node.script = null;
    }

    /** At the exit of the test process: every process this started, by PID, at once. */
    killAllNow(): void {
        for (const node of this.nodes) {
            killQuietly(this.vmPid(node));
            if (node.script && node.script.exitCode === null) killGroupQuietly(node.script.pid);
        }
        if (this.epmd?.exitCode === null) killQuietly(this.epmd.pid);
    }

    /** Ends both nodes (SIGKILL: their data goes with the directory) and the epmd this started, each by its PID. */
    async dispose(): Promise<void> {
        for (const node of this.nodes) await this.kill(node);
        const epmd = this.epmd;
        if (epmd && epmd.exitCode === null) {
            const ended = new Promise<void>((resolve) => epmd.once('exit', () => resolve()));
            epmd.kill('SIGKILL');
            await ended;
        }
        fs.rmSync(this.dir, { recursive: true, force: true });
        live.delete(this);
    }
}

export async function startRabbitCluster(size = 2): Promise<RabbitCluster> {
    return new RabbitCluster(size).start();
}
