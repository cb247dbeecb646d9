'use strict';
/**
 * The parent's side of bench/lib/relay-load.js (or of another load script with the same protocol,
 * such as relay-traffic.js): fork it, wait for its two connections, drive it.
 */
const { fork } = require('child_process');
const path = require('path');

class RelayLoad {
    constructor(url, hardLimitMs, script = 'relay-load.js') {
        this.url = url;
        this.script = script;
        this.hardLimitMs = hardLimitMs;
        this.child = null;
        this.nextId = 1;
        this.waiting = new Map();
        this.probeListeners = new Set();
    }

    start() {
        return new Promise((resolve, reject) => {
            const child = fork(path.join(__dirname, this.script), [this.url, String(this.hardLimitMs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
            this.child = child;
            const timer = setTimeout(() => reject(new Error('relay load clients did not connect within 10 s')), 10000);
            const failAll = (err) => {
                for (const w of this.waiting.values()) w.reject(err);
                this.waiting.clear();
            };
            child.on('message', (message) => {
                if (message.event === 'ready') {
                    clearTimeout(timer);
                    resolve();
                } else if (message.event === 'probe') {
                    for (const listener of this.probeListeners) listener(message.tag);
                } else if (message.event === 'done') {
                    const w = this.waiting.get(message.id);
                    this.waiting.delete(message.id);
                    if (w) w.resolve(message);
                } else if (message.event === 'error') {
                    clearTimeout(timer);
                    const err = new Error(`relay load: ${message.message}`);
                    failAll(err);
                    reject(err);
                }
            });
            child.on('exit', (code) => {
                clearTimeout(timer);
                this.child = null;
                const err = new Error(`relay load process exited with ${code}`);
                failAll(err);
                reject(err);
            });
        });
    }

    request(message) {
        const id = this.nextId++;
        return new Promise((resolve, reject) => {
            if (!this.child) return reject(new Error('relay load process is not running'));
            this.waiting.set(id, { resolve, reject });
            this.child.send({ ...message, id });
        });
    }

    /** Subscribes the foreign subscriber to `topic` at `qos`; resolves with the granted QoS. */
    subscribe(topic, qos) {
        return this.request({ cmd: 'subscribe', topic, qos }).then((m) => m.granted);
    }

    /**
     * Publishes probes (QoS 0, every 100 ms) on `topic` until one with `tag` reaches the subscriber;
     * rejects after timeoutMs.
     */
    async waitForProbe(topic, tag, timeoutMs = 20000) {
        let arrived = false;
        const listener = (t) => {
            if (t === tag) arrived = true;
        };
        this.probeListeners.add(listener);
        try {
            const deadline = Date.now() + timeoutMs;
            while (!arrived) {
                if (Date.now() > deadline) throw new Error(`no probe came through within ${timeoutMs} ms`);
                this.child?.send({ cmd: 'probe', topic, tag });
                await new Promise((r) => setTimeout(r, 100));
            }
        } finally {
            this.probeListeners.delete(listener);
        }
    }

    /** One measured run; see relay-load.js for the fields of the answer. */
    run(options) {
        return this.request({ cmd: 'run', ...options });
    }

    stop() {
        const child = this.child;
        if (!child) return Promise.resolve();
        return new Promise((resolve) => {
            const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
            child.once('exit', () => {
                clearTimeout(timer);
                resolve();
            });
            child.send({ cmd: 'quit' });
        });
    }
}

module.exports = { RelayLoad };
