/**
 * The child of the file store's crash test: drives a FileDeliveryStore the way a connection and
 * MQTT.js do (enqueue, hand over with a put, PUBREL for QoS 2, del on the final ack, incoming QoS 2
 * put/get/del) in an endless loop, and prints a line after each step returns (or calls back), so that
 * the parent, which kills it with SIGKILL at a random moment, knows what must be in the file.
 *
 *   node file-store-crash-child.js <file> <seed> <compactThreshold> <async|inline|hold>
 *
 * `hold` opens the store (compacting it if it has dead records), prints `ready` and does nothing more.
 *
 * Lines: `E i seq` enqueued; `H i mid` handed over (put written); `z i` about to hand over at QoS 0 (no put),
 * `Z i` done;
 * `A i` PUBLISH put synced; `R i` PUBREL put synced; `d i` about to del, `D i` deleted;
 * `I k mid` incoming put synced; `x k` about to del, `X k` deleted; `S id` subscriptions saved;
 * `C n` compactions so far.
 * `ready` once open.
 */
import * as fs from 'fs';
import type { Packet } from 'mqtt-packet';
import { FileDeliveryStore } from '../../dist/lib/delivery/file-store';

const [file, seedArg, thresholdArg, method] = process.argv.slice(2);
let seed = Number(seedArg) >>> 0;
/** mulberry32: a small seeded generator, so a failing run can be repeated. */
function random(): number {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const say = (line: string): void => {
    fs.writeSync(1, line + '\n');
};

export const outgoingPacket = (i: number, mid: number, qos: 1 | 2): Packet =>
    ({
        cmd: 'publish',
        topic: `crash/${i}`,
        payload: Buffer.from(`m${i}`),
        qos,
        retain: false,
        dup: false,
        messageId: mid,
        properties: { correlationData: Buffer.from(String(i)), userProperties: { i: String(i) } },
    }) as unknown as Packet;

const store = FileDeliveryStore.open(file, { compactThreshold: Number(thresholdArg), syncMethod: method === 'inline' ? 'inline' : 'async' });
say('ready');
if (method === 'hold') setInterval(() => undefined, 60000);

const queued: { i: number; seq: number }[] = [];
const liveOut = new Set<number>();
const liveIn = new Set<number>();
let nextMessage = 1;
let nextOutMid = 1;
let nextInMid = 1;
let nextIncoming = 1;
let inflight = 0;
let compactions = store.compactions;
/** Work to do at a later step: dels after the final ack, PUBRELs after PUBREC. */
let later: (() => void)[] = [];

function takeMid(live: Set<number>, next: number): number {
    let mid = next;
    while (live.has(mid)) mid = (mid % 65535) + 1;
    live.add(mid);
    return mid;
}

function finish(i: number, mid: number): void {
    later.push(() => {
        say(`d ${i}`);
        store.outgoing.del({ messageId: mid }, () => undefined);
        liveOut.delete(mid);
        inflight--;
        say(`D ${i}`);
    });
}

function handOverOldest(): void {
    const next = queued.shift();
    if (!next) return;
    const { i, seq } = next;
    const qos = i % 7 === 0 ? 0 : i % 3 === 0 ? 2 : 1;
    if (qos === 0) {
        say(`z ${i}`);
        store.handOver(seq, () => undefined);
        say(`Z ${i}`);
        return;
    }
    const mid = takeMid(liveOut, nextOutMid);
    nextOutMid = (mid % 65535) + 1;
    inflight++;
    store.handOver(seq, () =>
        store.outgoing.put(outgoingPacket(i, mid, qos), (err?: Error) => {
            if (err) throw err;
            say(`A ${i}`);
            if (qos === 1) {
                finish(i, mid);
                return;
            }
            later.push(() =>
                store.outgoing.put({ cmd: 'pubrel', qos: 1, messageId: mid } as unknown as Packet, (err2?: Error) => {
                    if (err2) throw err2;
                    say(`R ${i}`);
                    finish(i, mid);
                }),
            );
        }),
    );
    say(`H ${i} ${mid}`);
}

function incoming(): void {
    const k = nextIncoming++;
    const mid = takeMid(liveIn, nextInMid);
    nextInMid = (mid % 65535) + 1;
    const packet = { cmd: 'publish', topic: `in/${k}`, payload: Buffer.from(`in${k}`), qos: 2, retain: false, dup: false, messageId: mid } as unknown as Packet;
    store.incoming.put(packet, (err?: Error) => {
        if (err) throw err;
        say(`I ${k} ${mid}`);
        later.push(() => {
            store.incoming.get({ messageId: mid }, (getError?: Error) => {
                if (getError) throw getError;
                say(`x ${k}`);
                store.incoming.del({ messageId: mid }, () => undefined);
                liveIn.delete(mid);
                say(`X ${k}`);
            });
        });
    });
}

function step(): void {
    for (let n = 0; n < 3; n++) {
        const i = nextMessage++;
        const message = { topic: `crash/${i}`, payload: Buffer.from(`m${i}`), qos: 1 as const, retain: false };
        const seq = store.enqueue(message);
        queued.push({ i, seq });
        say(`E ${i} ${seq}`);
    }
    while (inflight < 20 && queued.length > 5) handOverOldest();
    if (random() < 0.5) incoming();
    // Run a random part of the deferred work, the rest waits (packets stay in the store a while).
    const due = later;
    later = [];
    for (const work of due) {
        if (random() < 0.6) work();
        else later.push(work);
    }
    if (random() < 0.02) {
        store.saveSubscriptions([{ filter: `crash/${nextMessage}/#`, qos: 1, id: nextMessage }]);
        say(`S ${nextMessage}`);
    }
    if (store.compactions !== compactions) {
        compactions = store.compactions;
        say(`C ${compactions}`);
    }
    setImmediate(step);
}

if (method !== 'hold') step();
