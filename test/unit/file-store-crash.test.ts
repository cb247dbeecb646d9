/**
 * Crash test of the file delivery store: a child process (test/support/file-store-crash-child) works
 * the store in a loop and is killed with SIGKILL at a random moment; the reopened store must hold
 * everything the child reported done, nothing twice, and its queue in order.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Packet } from 'mqtt-packet';
import { FileDeliveryStore } from '../../dist/lib/delivery/file-store';
import type { DeliveryStore, PacketStore } from '../../dist/lib/delivery/types';

const CHILD = path.join(__dirname, '..', 'support', 'file-store-crash-child.js');
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'file-store-crash-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** Runs the child on `file`, kills it `delayMs` after it is ready (or after it starts); returns its complete lines. */
function runChild(file: string, seed: number, method: string, delayMs: number, fromStart = false): Promise<string[]> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [CHILD, file, String(seed), String(32 * 1024), method], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        let timer: NodeJS.Timeout | undefined;
        const kill = (): void => {
            timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
        };
        if (fromStart) kill();
        child.stdout.setEncoding('utf8');
        child.stdout.on('data', (chunk: string) => {
            if (!timer && out.length === 0 && (out + chunk).startsWith('ready\n')) kill();
            out += chunk;
        });
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
        child.on('error', reject);
        child.on('exit', (code, signal) => {
            clearTimeout(timer);
            if (signal !== 'SIGKILL') {
                reject(new Error(`the child ended by itself (code ${code}, signal ${signal}): ${err}`));
                return;
            }
            // A line the kill cut in two is not a report.
            resolve(out.slice(0, out.lastIndexOf('\n') + 1).split('\n').filter(Boolean));
        });
    });
}

function all(store: PacketStore): Packet[] {
    const out: Packet[] = [];
    for (const messageId of store.messageIds()) store.get({ messageId }, (_err?: Error, packet?: Packet) => out.push(packet as Packet));
    return out;
}

interface Report {
    enqueued: Map<number, number>;
    handed: Map<number, number>;
    seen: Record<string, Set<number>>;
    incoming: Map<number, number>;
    subscriptions: number[];
    compactions: number;
}

function parse(lines: string[]): Report {
    const report: Report = { enqueued: new Map(), handed: new Map(), seen: {}, incoming: new Map(), subscriptions: [], compactions: 0 };
    for (const tag of ['z', 'Z', 'A', 'R', 'd', 'D', 'x', 'X']) report.seen[tag] = new Set();
    for (const line of lines) {
        const [tag, a, b] = line.split(' ');
        const n = Number(a);
        if (tag === 'ready') continue;
        else if (tag === 'E') report.enqueued.set(n, Number(b));
        else if (tag === 'H') report.handed.set(n, Number(b));
        else if (tag === 'I') report.incoming.set(n, Number(b));
        else if (tag === 'S') report.subscriptions.push(n);
        else if (tag === 'C') report.compactions = n;
        else if (report.seen[tag]) report.seen[tag].add(n);
        else throw new Error(`unexpected line from the child: ${line}`);
    }
    return report;
}

/** Checks the reopened store against what the child reported; returns a short summary. */
function check(store: DeliveryStore, report: Report): string {
    const { enqueued, handed, seen } = report;
    const lastEnqueued = Math.max(0, ...enqueued.keys());
    // The queue: oldest first, each message's seq as reported.
    const queue = new Map<number, number>();
    let previous = { i: 0, seq: 0 };
    for (const { seq, message } of store.queued()) {
        const i = Number(message.payload.toString().slice(1));
        assert.equal(message.topic, `crash/${i}`);
        assert.ok(i > previous.i && seq > previous.seq, 'queue in order');
        previous = { i, seq };
        if (enqueued.has(i)) assert.equal(seq, enqueued.get(i), `seq of ${i}`);
        else assert.equal(i, lastEnqueued + 1, `queued ${i} was never enqueued`);
        queue.set(i, seq);
    }
    // The outgoing store: each packet as written; PUBRELs by their message id.
    const outgoing = new Map<number, string>();
    for (const packet of all(store.outgoing)) {
        let i: number;
        if (packet.cmd === 'publish') {
            i = Number(packet.payload.toString().slice(1));
            const expectedQos = i % 3 === 0 ? 2 : 1;
            assert.equal(packet.topic, `crash/${i}`);
            assert.equal(packet.qos, expectedQos);
            assert.deepEqual(packet.properties, { correlationData: Buffer.from(String(i)), userProperties: { i: String(i) } });
            if (handed.has(i)) assert.equal(packet.messageId, handed.get(i));
        } else {
            assert.equal(packet.cmd, 'pubrel');
            const candidates = [...handed].filter(([j, mid]) => mid === packet.messageId && !seen.D.has(j)).map(([j]) => j);
            assert.equal(candidates.length, 1, `PUBREL ${packet.messageId} belongs to one message`);
            i = candidates[0];
            assert.ok(seen.A.has(i), 'a PUBREL only after its PUBLISH was synced');
        }
        assert.ok(!outgoing.has(i), `message ${i} twice in the outgoing store`);
        assert.ok(!queue.has(i), `message ${i} both queued and outgoing`);
        outgoing.set(i, packet.cmd);
    }
    for (const [i] of enqueued) {
        const held = queue.has(i) || outgoing.has(i);
        if (seen.D.has(i) || seen.Z.has(i)) assert.ok(!held, `message ${i} was deleted or sent at QoS 0, yet is held`);
        else if (!seen.d.has(i) && !seen.z.has(i)) assert.ok(held, `message ${i} was enqueued and is neither queued nor outgoing`);
        if (handed.has(i)) assert.ok(!queue.has(i), `message ${i} was handed over, yet is queued`);
        if (handed.has(i) && !seen.d.has(i)) assert.ok(outgoing.has(i), `message ${i} was handed over, yet is not outgoing`);
        if (seen.R.has(i) && !seen.d.has(i)) assert.equal(outgoing.get(i), 'pubrel', `message ${i}: its synced PUBREL`);
    }
    // The incoming store.
    const incoming = new Map<number, number>();
    for (const packet of all(store.incoming)) {
        const k = Number((packet as Packet & { payload: Buffer }).payload.toString().slice(2));
        assert.ok(!seen.X.has(k), `incoming ${k} was deleted, yet is held`);
        incoming.set(k, packet.messageId as number);
    }
    for (const [k, mid] of report.incoming) if (!seen.x.has(k)) assert.equal(incoming.get(k), mid, `incoming ${k} was synced, yet is missing`);
    // The subscriptions: the last saved, or one saved after it.
    if (report.subscriptions.length > 0) {
        const [saved] = store.loadSubscriptions();
        assert.ok(saved && saved.id >= report.subscriptions[report.subscriptions.length - 1], 'the last saved subscriptions');
    }
    const seq = store.enqueue({ topic: 'after', payload: Buffer.from('after'), qos: 1, retain: false });
    assert.ok(seq > Math.max(0, ...enqueued.values()), 'seq continues after the highest written');
    return `${enqueued.size} enqueued, ${seen.D.size} acked; reopened with ${queue.size} queued, ${outgoing.size} outgoing, ${incoming.size} incoming`;
}

test('SIGKILL at random moments: every reported step is in the reopened store, nothing twice', async (t) => {
    const runs = 12;
    let torn = 0;
    let compactions = 0;
    let midCompaction = 0;
    for (let run = 0; run < runs; run++) {
        const seed = 1000 + run * 7919 + Math.floor(Math.random() * 1000);
        const delay = 10 + Math.floor(Math.random() * 600);
        const method = run % 2 === 0 ? 'async' : 'inline';
        const file = path.join(root, `run-${run}`, 'store.mqwj');
        const lines = await runChild(file, seed, method, delay);
        const label = `run ${run} (seed ${seed}, ${method}, killed ${delay} ms after ready)`;
        if (fs.existsSync(file + '.compact')) midCompaction++;
        const report = parse(lines);
        compactions += report.compactions;
        const store = FileDeliveryStore.open(file);
        if (store.discardedBytes > 0) torn++;
        let summary: string;
        try {
            summary = check(store, report);
        } catch (error) {
            (error as Error).message = `${label}: ${(error as Error).message}`;
            throw error;
        } finally {
            await store.close();
        }
        t.diagnostic(`${label}: ${lines.length} lines, ${summary}, ${report.compactions} compactions, torn tail ${store.discardedBytes} bytes`);
        // Reopening the repaired file changes nothing.
        const again = FileDeliveryStore.open(file);
        assert.equal(again.discardedBytes, 0);
        await again.close();
    }
    t.diagnostic(`${compactions} compactions in all; ${midCompaction} of ${runs} kills landed during one (a temp file left); ${torn} left a torn record`);
    assert.ok(compactions > 0, 'the runs compacted (the threshold is small)');
});

test('SIGKILL while the store opens and compacts: the state is the old one, whole', async (t) => {
    const file = path.join(root, 'open', 'store.mqwj');
    const seed = FileDeliveryStore.open(file);
    for (let i = 0; i < 4000; i++) {
        const seq = seed.enqueue({ topic: `t/${i}`, payload: Buffer.alloc(400, i % 256), qos: 1, retain: false });
        if (i % 10 !== 0) seed.dequeue(seq);
    }
    seed.saveSubscriptions([{ filter: 'keep/#', qos: 2, id: 4 }]);
    const expected = seed.queued();
    await seed.close();
    const bytes = fs.readFileSync(file);
    // How long the child takes from its start to the end of the open, compaction included.
    fs.writeFileSync(file, bytes);
    const started = Date.now();
    await runChild(file, 0, 'hold', 0);
    const toReady = Date.now() - started;
    let compacted = 0;
    for (let run = 0; run < 10; run++) {
        // Each run starts from the file with its dead records, so the open always has to compact.
        fs.writeFileSync(file, bytes);
        const delay = Math.floor(toReady * (0.5 + run * 0.07));
        await runChild(file, run, 'hold', delay, true);
        if (fs.statSync(file).size < bytes.length) compacted++;
        const store = FileDeliveryStore.open(file);
        try {
            assert.deepEqual(store.queued(), expected, `killed ${delay} ms after the start`);
            assert.deepEqual(store.loadSubscriptions(), [{ filter: 'keep/#', qos: 2, id: 4 }]);
            assert.equal(store.discardedBytes, 0);
        } finally {
            await store.close();
        }
    }
    t.diagnostic(`the child was ready after ${toReady} ms; its compaction had completed in ${compacted} of 10 runs`);
});
