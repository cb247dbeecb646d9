/**
 * A filter unsubscribed and at once subscribed again (a dynamic mqtt-in's unsubscribe then
 * subscribe) must stay subscribed. aedes 1.2, the embedded broker, acknowledges a SUBSCRIBE sent
 * right behind an UNSUBSCRIBE of the same filter before it has handled the UNSUBSCRIBE, which then
 * removes the new subscription: the connection holds the SUBSCRIBE until the UNSUBACK.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as mqtt from 'mqtt';
import { EmbeddedBroker } from '../../dist/index';
import type { InboundMessage, Subscriber } from '../../dist/lib/connection';
import { freePort } from '../support/shared/ports';

let broker: EmbeddedBroker;
let port = 0;

before(async () => {
    port = await freePort();
    broker = new EmbeddedBroker('127.0.0.1', port);
    await broker.start();
});
after(async () => broker.stop());

function subscriber(filter: string, got: string[]): Subscriber {
    return { filter, qos: 1, deliver: (m: InboundMessage) => got.push(m.topic), refused: (why: string) => assert.fail(`refused: ${why}`) };
}

test('unsubscribed and subscribed again at once, a filter still delivers (embedded broker)', async () => {
    const { Connection } = require('../../dist/lib/connection');
    const connection = new Connection({ url: `mqtt://127.0.0.1:${port}`, address: `127.0.0.1:${port}`, client: { clientId: `resub-${Date.now()}`, protocolVersion: 4 }, unsubscribeDelayMs: 0 });
    const subscribedTo = (filter: string) => new Promise<void>((resolve) => connection.on('subscribed', (f: string) => f === filter && resolve()));
    const user = {};
    connection.attach(user);
    const got: string[] = [];
    const first = [subscriber('x/#', got), subscriber('y/#', got)];
    const ready = Promise.all([subscribedTo('x/#'), subscribedTo('y/#')]);
    for (const s of first) connection.subscribe(s);
    await ready;

    for (const s of first) connection.unsubscribe(s, { now: true });
    const again = subscriber('y/#', got);
    const resubscribed = subscribedTo('y/#');
    connection.subscribe(again);
    // A publish in the same tick sends the pending SUBSCRIBE at once, in the same write as the UNSUBSCRIBE.
    await connection.publish({ topic: 'z', payload: Buffer.from('flush'), qos: 0, retain: false });
    await resubscribed;

    const witness = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `resub-witness-${Date.now()}` });
    await witness.publishAsync('y/1', 'after', { qos: 1 });
    await witness.publishAsync('x/1', 'not wanted', { qos: 1 });
    await witness.publishAsync('y/2', 'after', { qos: 1 });
    const deadline = Date.now() + 5000;
    while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await witness.endAsync();
    assert.deepEqual(got, ['y/1', 'y/2'], 'the subscription made again holds, and the one removed does not');
    await connection.detach(user);
    await connection.close();
});
