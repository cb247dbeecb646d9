import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SeenPacket } from '../support/packet-recorder';
import { attributeMissing, clientFault } from '../support/qos2-attribution';

/** Packets of one QoS 2 exchange, 1 ms apart: '>' is client to broker, '<' the other way. */
function exchange(spec: string, payload = '7', messageId = 42, connection = 1, from = 1000): SeenPacket[] {
    return spec.split(' ').map((step, i) => ({
        at: from + i,
        connection,
        toBroker: step[0] === '>',
        cmd: step.slice(1).replace('+dup', ''),
        messageId,
        dup: step.endsWith('+dup'),
        payload: step.startsWith('>publish') ? payload : undefined,
    }));
}

const noSave = () => undefined;

test('a complete exchange is no fault of the client', () => {
    assert.equal(clientFault(exchange('>publish <pubrec >pubrel <pubcomp'), '7'), undefined);
    // Sent again with DUP on the next connection, then completed.
    const resent = [...exchange('>publish'), ...exchange('>publish+dup <pubrec >pubrel <pubcomp', '7', 42, 2, 2000)];
    assert.equal(clientFault(resent, '7'), undefined);
});

test('each way the client can fail its part is named', () => {
    assert.equal(clientFault([], '7'), 'client: never sent');
    assert.equal(clientFault(exchange('>publish'), '7'), 'client: never acknowledged (PUBREC), and not sent again');
    assert.equal(clientFault(exchange('>publish <pubrec'), '7'), 'client: PUBREC answered with no PUBREL');
    assert.equal(clientFault(exchange('>publish <pubrec >pubrel'), '7'), 'client: PUBREL never completed (PUBCOMP)');
    assert.equal(clientFault(exchange('>publish <pubrec >pubrel <pubcomp >publish+dup'), '7'), 'client: published again after PUBCOMP');
    const twoIds = [...exchange('>publish', '7', 42), ...exchange('>publish <pubrec >pubrel <pubcomp', '7', 43, 1, 2000)];
    assert.equal(clientFault(twoIds, '7'), 'client: sent under more than one packet id');
    // A message the broker refused (PUBREC 0x97, quota exceeded: it keeps nothing) may go again under a new id...
    const busy: SeenPacket = { at: 1001, connection: 1, toBroker: false, cmd: 'pubrec', messageId: 42, reasonCode: 0x97 };
    const retried = [...exchange('>publish', '7', 42), busy, ...exchange('>publish <pubrec >pubrel <pubcomp', '7', 43, 1, 2000)];
    assert.equal(clientFault(retried, '7'), undefined);
    // ...and a refusal alone is not the broker taking it.
    assert.equal(clientFault([...exchange('>publish', '7', 42), busy], '7'), 'client: never acknowledged (PUBREC), and not sent again');
});

test('a packet id used again for a later message does not count for the earlier one', () => {
    const earlier = exchange('>publish', '7', 42, 1, 1000);
    const later = exchange('>publish <pubrec >pubrel <pubcomp', '8', 42, 1, 2000);
    assert.equal(clientFault([...earlier, ...later], '7'), 'client: never acknowledged (PUBREC), and not sent again');
    assert.equal(clientFault([...earlier, ...later], '8'), undefined);
});

test("a complete exchange is the broker's loss: in its save window, or after", () => {
    const published = exchange('>publish <pubrec >pubrel <pubcomp', '7', 42, 1, 1000);
    const crash = [{ at: 1500 }];
    const savedBefore = () => ({ start: 900, end: 905 });
    const savedAfter = () => ({ start: 1200, end: 1205 });
    assert.equal(attributeMissing('7', published, [], crash, savedBefore), 'broker: acknowledged after its last save before the crash (the save window)');
    assert.equal(attributeMissing('7', published, [], crash, noSave), 'broker: acknowledged after its last save before the crash (the save window)');
    assert.equal(attributeMissing('7', published, [], crash, savedAfter), 'broker: completed the exchange, never sent it to the subscriber');
    // The subscriber still held packet id 5 (a PUBLISH with no PUBREL yet) when the broker used it again.
    const reused: SeenPacket[] = [
        { at: 1050, connection: 1, toBroker: false, cmd: 'publish', messageId: 5, payload: '6' },
        { at: 1100, connection: 2, toBroker: false, cmd: 'publish', messageId: 5, payload: '7' },
    ];
    assert.equal(attributeMissing('7', published, reused, [], noSave), 'broker: sent to the subscriber under a packet id the subscriber still held for an unfinished QoS 2 exchange');
    const released: SeenPacket[] = [reused[0], { at: 1060, connection: 1, toBroker: false, cmd: 'pubrel', messageId: 5 }, reused[1]];
    assert.equal(attributeMissing('7', published, released, [], noSave), 'subscriber: sent to it, not taken');
    assert.equal(attributeMissing('7', exchange('>publish <pubrec'), [], crash, savedAfter), 'client: PUBREC answered with no PUBREL');
});
