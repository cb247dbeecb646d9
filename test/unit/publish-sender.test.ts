import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { MemoryDeliveryStore } from '../../dist/lib/delivery/memory-store';
import type { OutgoingMessage } from '../../dist/lib/delivery/types';
import { PublishSender } from '../../dist/lib/publish-sender';

type PublishCallback = (err?: Error & { code?: unknown }) => void;

/** A client that puts QoS 1/2 messages into the store as MQTT.js does, and leaves their answer to the test. */
function fakeClient(store: MemoryDeliveryStore) {
    let nextId = 1;
    const sent: { id?: number; answer: PublishCallback }[] = [];
    const client = {
        publish(topic: string, payload: Buffer, options: { qos: number }, answer: PublishCallback) {
            let id: number | undefined;
            if (options.qos > 0) {
                id = nextId++;
                store.outgoing.put({ cmd: 'publish', topic, payload, qos: options.qos as 1 | 2, dup: false, retain: false, messageId: id }, () => undefined);
            }
            sent.push({ id, answer });
        },
    };
    return { client: client as unknown as MqttClient, sent };
}

const message = (qos: 0 | 1 | 2): OutgoingMessage => ({ topic: 't', payload: Buffer.from('p'), qos, retain: false });

/** Sends one message through a fresh sender; `outcome` settles with what `done` was given. */
function sendOne(qos: 0 | 1 | 2) {
    const store = new MemoryDeliveryStore();
    const sender = new PublishSender(store);
    const { client, sent } = fakeClient(store);
    const settled: (Error | undefined)[] = [];
    const outcome = new Promise<Error | undefined>((resolve) =>
        sender.send(client, { seq: store.enqueue(message(qos)), message: message(qos) }, (err) => {
            settled.push(err);
            resolve(err);
        }),
    );
    return { store, sent, settled, outcome };
}

const deleteFromStore = (store: MemoryDeliveryStore, id: number) => store.outgoing.del({ messageId: id }, () => undefined);

test('without a client the message is refused as closed', () => {
    const sender = new PublishSender(new MemoryDeliveryStore());
    let got: Error | undefined;
    sender.send(null, { seq: 0, message: message(1) }, (err) => (got = err));
    assert.equal(got?.name, 'DeliveryError');
    assert.equal((got as { code?: string }).code, 'closed');
});

test("a message completes with MQTT.js's acknowledgement", async () => {
    const { sent, outcome } = sendOne(1);
    sent[0].answer();
    assert.equal(await outcome, undefined);
});

test("the broker's final acknowledgement settles a message once, however it arrives", async () => {
    const { store, sent, settled, outcome } = sendOne(2);
    sent[0].answer();
    deleteFromStore(store, sent[0].id as number);
    await outcome;
    await new Promise<void>((resolve) => queueMicrotask(resolve));
    assert.deepEqual(settled, [undefined]);
});

test('a lost link leaves the message to the store: its deletion (the resent exchange completed) completes it', async () => {
    const { store, sent, settled, outcome } = sendOne(1);
    sent[0].answer(new Error('Connection closed'));
    assert.deepEqual(settled, [], 'not settled while MQTT.js holds it to resend');
    deleteFromStore(store, sent[0].id as number);
    assert.equal(await outcome, undefined);
});

test('a reason code 0x97 (quota exceeded) is "busy": the outbox sends it again', async () => {
    const { sent, outcome } = sendOne(1);
    sent[0].answer(Object.assign(new Error('quota'), { code: 0x97 }));
    const err = (await outcome) as Error & { code?: string };
    assert.equal(err.code, 'busy');
    assert.match(err.message, /^the broker is busy: /);
});

test('another reason code of 0x80 or more is a refusal', async () => {
    const { sent, outcome } = sendOne(1);
    sent[0].answer(Object.assign(new Error('not authorized'), { code: 0x87 }));
    const err = (await outcome) as Error & { code?: string };
    assert.equal(err.code, 'refused');
    assert.match(err.message, /^the broker refused it: /);
});

test('an error for a message the store does not hold fails it with MQTT.js words', async () => {
    const { sent, outcome } = sendOne(0);
    sent[0].answer(new Error('write EPIPE'));
    const err = (await outcome) as Error & { code?: string };
    assert.equal(err.code, 'failed');
    assert.equal(err.message, 'write EPIPE');
});
