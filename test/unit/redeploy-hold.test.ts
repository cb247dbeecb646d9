import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IPublishPacket } from 'mqtt';
import { RedeployHold } from '../../dist/lib/redeploy-hold';

const packet = (qos: 0 | 1 | 2, topic = 't'): IPublishPacket => ({ cmd: 'publish', qos, dup: false, retain: false, topic, payload: Buffer.from('p'), messageId: qos > 0 ? 1 : undefined });

/** An acknowledgement callback that counts its calls and can be awaited. */
function acknowledgement() {
    let resolve: () => void = () => undefined;
    const done = new Promise<void>((r) => (resolve = r));
    const ack = Object.assign(
        () => {
            ack.calls++;
            resolve();
        },
        { calls: 0, done },
    );
    return ack;
}

test('outside a redeploy window every message is acknowledged at once, taken or not', () => {
    const hold = new RedeployHold();
    for (const qos of [0, 1, 2] as const) {
        const p = packet(qos);
        hold.routed(p, 't', 0);
        const ack = acknowledgement();
        hold.acknowledgeOrHold(p, ack);
        assert.equal(ack.calls, 1, `QoS ${qos}`);
    }
});

test('during a redeploy window a QoS 0 message and a QoS 1 message some node took are acknowledged at once', () => {
    const hold = new RedeployHold();
    hold.openWindow(60_000);
    const zero = packet(0);
    hold.routed(zero, 't', 0);
    const zeroAck = acknowledgement();
    hold.acknowledgeOrHold(zero, zeroAck);
    const taken = packet(1);
    hold.routed(taken, 't', 1);
    const takenAck = acknowledgement();
    hold.acknowledgeOrHold(taken, takenAck);
    assert.deepEqual([zeroAck.calls, takenAck.calls], [1, 1]);
    hold.drop();
});

test('during a redeploy window a QoS 1/2 message nobody took waits for a node that takes it', () => {
    const hold = new RedeployHold();
    hold.openWindow(60_000);
    const p = packet(2, 'raw/topic');
    hold.routed(p, 'decoded/topic', 0);
    const ack = acknowledgement();
    hold.acknowledgeOrHold(p, ack);
    assert.equal(ack.calls, 0, 'held');

    const offered: string[] = [];
    hold.offer((topic) => (offered.push(topic), 0));
    assert.equal(ack.calls, 0, 'a node that does not take it leaves it held');
    hold.offer((topic, offeredPacket) => {
        offered.push(topic);
        assert.equal(offeredPacket, p);
        return 1;
    });
    assert.equal(ack.calls, 1, 'acknowledged once a node took it');
    assert.deepEqual(offered, ['decoded/topic', 'decoded/topic'], 'offered under the topic it was routed by');
    hold.offer(() => assert.fail('nothing is held any more'));
    hold.drop();
});

test('a message MQTT.js did not emit is offered under its packet topic', () => {
    const hold = new RedeployHold();
    hold.openWindow(60_000);
    const p = packet(1, 'packet/topic');
    const ack = acknowledgement();
    hold.acknowledgeOrHold(p, ack);
    let topicSeen = '';
    hold.offer((topic) => ((topicSeen = topic), 1));
    assert.equal(topicSeen, 'packet/topic');
    assert.equal(ack.calls, 1);
    hold.drop();
});

test('when the window ends with no taker, the held message is acknowledged', async () => {
    const hold = new RedeployHold();
    hold.openWindow(1);
    const p = packet(1);
    hold.routed(p, 't', 0);
    const ack = acknowledgement();
    hold.acknowledgeOrHold(p, ack);
    await ack.done;
    assert.equal(ack.calls, 1);
    const after = packet(1);
    hold.routed(after, 't', 0);
    const afterAck = acknowledgement();
    hold.acknowledgeOrHold(after, afterAck);
    assert.equal(afterAck.calls, 1, 'the window is closed: no more holding');
});

test('opening the window again replaces its end', async () => {
    const hold = new RedeployHold();
    hold.openWindow(60_000);
    hold.openWindow(1);
    const p = packet(1);
    hold.routed(p, 't', 0);
    const ack = acknowledgement();
    hold.acknowledgeOrHold(p, ack);
    let guard: NodeJS.Timeout | undefined;
    const tooLate = new Promise<string>((resolve) => (guard = setTimeout(() => resolve('still held'), 5_000)));
    assert.equal(await Promise.race([ack.done.then(() => 'acknowledged'), tooLate]), 'acknowledged');
    clearTimeout(guard);
});

test('drop closes the window and forgets the held message without acknowledging it', () => {
    const hold = new RedeployHold();
    hold.openWindow(60_000);
    const p = packet(2);
    hold.routed(p, 't', 0);
    const ack = acknowledgement();
    hold.acknowledgeOrHold(p, ack);
    hold.drop();
    hold.offer(() => assert.fail('nothing is held after drop'));
    assert.equal(ack.calls, 0, 'the broker sends it again on the next connection');
    const next = packet(1);
    hold.routed(next, 't', 0);
    const nextAck = acknowledgement();
    hold.acknowledgeOrHold(next, nextAck);
    assert.equal(nextAck.calls, 1, 'the window is closed');
});
