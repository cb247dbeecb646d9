import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findMosquitto, loopbackConfig } from './shared/mosquitto';
import { freePort, waitForPort } from './shared/ports';

/**
 * A real Mosquitto broker that a test starts on a free loopback port, and may stop, kill and
 * restart on the same port. Mosquitto is required: when it is missing this throws, so a test that
 * needs it fails instead of being skipped (.ci/run installs the Debian package).
 */
export interface MosquittoOptions {
    /** Keep retained messages, sessions and queued messages in a file across restarts. */
    persistence?: boolean;
    /** Extra lines for mosquitto.conf. */
    extraConfig?: string[];
}

export const MOSQUITTO_BIN = findMosquitto();

// A test process that ends without its after() hooks (process.exit, a failed assertion in a
// script) must not leave its brokers running.
const running = new Set<ChildProcess>();
process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
});

export class Mosquitto {
    port = 0;
    readonly dir: string;
    private child: ChildProcess | null = null;
    private readonly options: MosquittoOptions;
    log = '';

    constructor(options: MosquittoOptions = {}) {
        this.options = options;
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-mosquitto-'));
    }

    get url(): string {
        return `mqtt://127.0.0.1:${this.port}`;
    }

    async start(): Promise<this> {
        if (!MOSQUITTO_BIN) {
            throw new Error('mosquitto is not installed: apt-get install -y mosquitto mosquitto-clients');
        }
        if (this.child) throw new Error('mosquitto already running');
        if (this.port === 0) this.port = await freePort();
        const conf = [
            ...loopbackConfig(this.port),
            'sys_interval 1',
            `persistence ${this.options.persistence ? 'true' : 'false'}`,
            `persistence_location ${this.dir}/`,
            ...(this.options.extraConfig ?? []),
        ];
        const confFile = path.join(this.dir, 'mosquitto.conf');
        fs.writeFileSync(confFile, conf.join('\n') + '\n');
        const child = spawn(MOSQUITTO_BIN, ['-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'] });
        child.stderr?.on('data', (chunk: Buffer) => {
            this.log += chunk.toString();
        });
        this.child = child;
        running.add(child);
        child.once('exit', () => running.delete(child));
        const exited = new Promise<never>((_, reject) => {
            child.once('exit', (code) => reject(new Error(`mosquitto exited with ${code}: ${this.log}`)));
        });
        exited.catch(() => undefined);
        await Promise.race([waitForPort(this.port), exited]);
        child.removeAllListeners('exit');
        child.once('exit', () => {
            if (this.child === child) this.child = null;
        });
        return this;
    }

    get running(): boolean {
        return this.child !== null;
    }

    /** SIGTERM: Mosquitto saves its persistence file and exits. */
    stop(): Promise<void> {
        return this.signal('SIGTERM');
    }

    /** SIGKILL: a crash; whatever was not yet saved is gone. */
    kill(): Promise<void> {
        return this.signal('SIGKILL');
    }

    async restart(): Promise<void> {
        await this.stop();
        await this.start();
    }

    private signal(sig: NodeJS.Signals): Promise<void> {
        const child = this.child;
        if (!child) return Promise.resolve();
        return new Promise((resolve) => {
            child.once('exit', () => {
                this.child = null;
                resolve();
            });
            child.kill(sig);
        });
    }

    /** Stop the broker and remove its directory. */
    async dispose(): Promise<void> {
        await this.stop();
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

/** Start a Mosquitto broker for one test file. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
    return new Mosquitto(options).start();
}
