'use strict';
/** The parent's side of bench/lib/relay-host.js: start one relay process, mark, report, stop. */
const { fork } = require('child_process');
const path = require('path');

class RelayHost {
    /**
     * @param {{ kind: 'wire'|'core'|'raw', port: number, qos: number, inTopic: string, outTopic: string, distractors?: number, hardLimitMs: number, noDelay?: boolean }} o
     */
    constructor(o) {
        this.o = o;
        this.child = null;
        this.waiting = new Map();
        this.rssListener = null;
    }

    start() {
        const o = this.o;
        return new Promise((resolve, reject) => {
            const args = [o.kind, String(o.port), String(o.qos), o.inTopic, o.outTopic, String(o.distractors || 0), String(o.hardLimitMs)];
            // MQTT_WIRE_BENCH_RELAY_NODE_ARGS: Node.js flags for the relaying processes only, such as
            // "--cpu-prof --cpu-prof-dir=/tmp/prof" (not allowed in NODE_OPTIONS).
            const execArgv = (process.env.MQTT_WIRE_BENCH_RELAY_NODE_ARGS || '').split(' ').filter(Boolean);
            const child = fork(path.join(__dirname, 'relay-host.js'), args, { execArgv, env: { ...process.env, MQTT_WIRE_BENCH_NODELAY: o.noDelay ? '1' : '0' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
            this.child = child;
            const timer = setTimeout(() => reject(new Error(`${o.kind} relay did not start within 30 s`)), 30000);
            const failAll = (err) => {
                for (const w of this.waiting.values()) w.reject(err);
                this.waiting.clear();
            };
            child.on('message', (m) => {
                if (m.event === 'ready') {
                    clearTimeout(timer);
                    resolve();
                } else if (m.event === 'rss') {
                    this.rssListener?.(m);
                } else if (m.event === 'error') {
                    clearTimeout(timer);
                    const err = new Error(m.message);
                    failAll(err);
                    reject(err);
                } else {
                    const w = this.waiting.get(m.event);
                    this.waiting.delete(m.event);
                    w?.resolve(m);
                }
            });
            child.on('exit', (code) => {
                clearTimeout(timer);
                this.child = null;
                const err = new Error(`${o.kind} relay process exited with ${code}`);
                failAll(err);
                reject(err);
            });
        });
    }

    request(cmd, answer) {
        return new Promise((resolve, reject) => {
            if (!this.child) return reject(new Error('relay process is not running'));
            this.waiting.set(answer, { resolve, reject });
            this.child.send({ cmd });
        });
    }

    /** Starts the measured interval (CPU time from here). */
    mark() {
        return this.request('mark', 'marked');
    }

    /** { cpuUs, rss, maxRss } of the relay process: CPU since mark(), peak RSS of its life. */
    report() {
        return this.request('report', 'report');
    }

    /** { rss, heapUsed } of the relay process after a full GC. */
    collect() {
        return this.request('gc', 'gc');
    }

    /** Calls listener({ t, rss }) every intervalMs, t in seconds since this call. */
    sampleRss(intervalMs, listener) {
        this.rssListener = listener;
        this.child?.send({ cmd: 'sample', intervalMs });
    }

    stop() {
        const child = this.child;
        if (!child) return Promise.resolve();
        return new Promise((resolve) => {
            const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
            child.once('exit', () => {
                clearTimeout(timer);
                resolve();
            });
            child.send({ cmd: 'quit' });
        });
    }
}

module.exports = { RelayHost };
