'use strict';
/** The parent's side of bench/lib/publisher.js: fork it, wait for its connection, drive it. */
const { fork } = require('child_process');
const path = require('path');

class Publisher {
    constructor(url, hardLimitMs) {
        this.url = url;
        this.hardLimitMs = hardLimitMs;
        this.child = null;
        this.nextId = 1;
        this.waiting = new Map();
    }

    start() {
        return new Promise((resolve, reject) => {
            const child = fork(path.join(__dirname, 'publisher.js'), [this.url, String(this.hardLimitMs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
            this.child = child;
            const timer = setTimeout(() => reject(new Error('publisher did not connect within 10 s')), 10000);
            child.on('message', (message) => {
                if (message.event === 'ready') {
                    clearTimeout(timer);
                    resolve();
                } else if (message.event === 'done') {
                    const w = this.waiting.get(message.id);
                    this.waiting.delete(message.id);
                    if (w) w.resolve(message);
                } else if (message.event === 'error') {
                    clearTimeout(timer);
                    const err = new Error(`publisher: ${message.message}`);
                    for (const w of this.waiting.values()) w.reject(err);
                    this.waiting.clear();
                    reject(err);
                }
            });
            child.on('exit', (code) => {
                clearTimeout(timer);
                this.child = null;
                const err = new Error(`publisher exited with ${code}`);
                for (const w of this.waiting.values()) w.reject(err);
                this.waiting.clear();
                reject(err);
            });
        });
    }

    probe(topic) {
        this.child?.send({ cmd: 'probe', topic });
    }

    /** Tells the child to publish; resolves with { publishMs } once it has handed all to its socket. */
    run(count, topics, batch, payloadBytes) {
        const id = this.nextId++;
        return new Promise((resolve, reject) => {
            if (!this.child) return reject(new Error('publisher is not running'));
            this.waiting.set(id, { resolve, reject });
            this.child.send({ cmd: 'run', id, count, topics, batch, payloadBytes });
        });
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

module.exports = { Publisher };
