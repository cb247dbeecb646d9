import assert from 'node:assert/strict';
import { Duplex, Writable } from 'node:stream';
import { test } from 'node:test';
import * as mqtt from 'mqtt';
import { gatherWritesPerTurn, tuneClientStreams } from '../../dist/lib/stream-tuning';

/** A stream that records each batch it is asked to write (a writev is one batch). */
function recordingStream(): { stream: Writable; batches: string[][] } {
    const batches: string[][] = [];
    const stream = new Writable({
        writev(chunks, done) {
            batches.push(chunks.map((c) => String(c.chunk)));
            done();
        },
        write(chunk, _encoding, done) {
            batches.push([String(chunk)]);
            done();
        },
    });
    return { stream, batches };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('the writes of one turn of the event loop go out together, at the end of the turn', async () => {
    const { stream, batches } = recordingStream();
    gatherWritesPerTurn(stream as unknown as Parameters<typeof gatherWritesPerTurn>[0]);
    stream.write('puback');
    stream.write('publish-header');
    stream.write('publish-payload');
    assert.deepEqual(batches, [], 'nothing is written before the turn ends');
    await nextTurn();
    assert.deepEqual(batches, [['puback', 'publish-header', 'publish-payload']]);
    stream.write('later');
    await nextTurn();
    assert.deepEqual(batches[1], ['later'], 'a write in a later turn is a batch of its own');
});

test('a write callback still runs, and a destroyed stream is left alone', async () => {
    const { stream } = recordingStream();
    gatherWritesPerTurn(stream as unknown as Parameters<typeof gatherWritesPerTurn>[0]);
    const written = new Promise<void>((resolve, reject) => stream.write('x', (err) => (err ? reject(err) : resolve())));
    await written;
    stream.write('y');
    stream.destroy();
    await nextTurn();
    assert.equal(stream.destroyed, true);
});

test("each stream MQTT.js builds has Nagle's algorithm off and gathers its writes", async () => {
    let noDelay: boolean | undefined;
    const written: string[][] = [];
    const client = new mqtt.MqttClient(() => {
        const stream = new Duplex({
            read() {},
            writev(chunks, done) {
                written.push(chunks.map((c) => Buffer.from(c.chunk).toString('hex')));
                done();
            },
        });
        return Object.assign(stream, { setNoDelay: (on: boolean) => (noDelay = on) });
    }, { manualConnect: true, reconnectPeriod: 0 });
    tuneClientStreams(client);
    client.connect();
    assert.equal(noDelay, true);
    await nextTurn();
    assert.equal(written.length, 1, 'the CONNECT packet, written in pieces, went out as one batch');
    client.end(true);
});
