import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bufferToPayload, normalizeDatatype, PayloadError, payloadToBuffer } from '../../dist/index';

test('msg.payload -> bytes', () => {
    const bytes = Buffer.from([1, 2, 255]);
    assert.equal(payloadToBuffer(bytes), bytes, 'a Buffer goes as it is');
    assert.deepEqual(payloadToBuffer('温度 21.5'), Buffer.from('温度 21.5', 'utf8'));
    assert.deepEqual(payloadToBuffer({ a: [1, { b: null }] }), Buffer.from('{"a":[1,{"b":null}]}'));
    assert.deepEqual(payloadToBuffer([1, 'x']), Buffer.from('[1,"x"]'));
    assert.deepEqual(payloadToBuffer(-0.5), Buffer.from('-0.5'));
    assert.deepEqual(payloadToBuffer(true), Buffer.from('true'));
    assert.deepEqual(payloadToBuffer(12345678901234567890n), Buffer.from('12345678901234567890'));
    assert.deepEqual(payloadToBuffer(null), Buffer.alloc(0));
    assert.deepEqual(payloadToBuffer(undefined), Buffer.alloc(0));
    assert.deepEqual(payloadToBuffer(new Uint8Array([7, 8])), Buffer.from([7, 8]));
    assert.deepEqual(payloadToBuffer(new Date(0)), Buffer.from('"1970-01-01T00:00:00.000Z"'));
});

test('msg.payload that has no byte form is a PayloadError, not a crash', () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const bad of [() => 1, Symbol('x'), circular, { n: 1n }]) {
        assert.throws(() => payloadToBuffer(bad), PayloadError);
    }
});

test('bytes -> msg.payload for each datatype', () => {
    const json = Buffer.from('{"t":21.5}');
    const binary = Buffer.from([0xff, 0xfe, 0x00]);
    assert.deepEqual(bufferToPayload(json, 'auto-detect'), { ok: true, payload: { t: 21.5 } });
    assert.deepEqual(bufferToPayload(Buffer.from('21.5'), 'auto-detect'), { ok: true, payload: 21.5 });
    assert.deepEqual(bufferToPayload(Buffer.from('on'), 'auto-detect'), { ok: true, payload: 'on' });
    assert.deepEqual(bufferToPayload(Buffer.alloc(0), 'auto-detect'), { ok: true, payload: '' });
    assert.deepEqual(bufferToPayload(binary, 'auto-detect'), { ok: true, payload: binary });
    assert.deepEqual(bufferToPayload(json, 'utf8'), { ok: true, payload: '{"t":21.5}' });
    assert.deepEqual(bufferToPayload(binary, 'buffer'), { ok: true, payload: binary });
    assert.deepEqual(bufferToPayload(binary, 'base64'), { ok: true, payload: '//4A' });
    assert.deepEqual(bufferToPayload(json, 'json'), { ok: true, payload: { t: 21.5 } });
    const bad = bufferToPayload(Buffer.from('{oops'), 'json');
    assert.equal(bad.ok, false);
    assert.equal(bad.payload, '{oops', 'the raw text stays on the msg');
    const notText = bufferToPayload(binary, 'json');
    assert.equal(notText.ok, false);
    assert.equal(notText.payload, binary);
});

test('datatype names of the core node, including the legacy "auto"', () => {
    assert.equal(normalizeDatatype('auto'), 'auto-detect');
    assert.equal(normalizeDatatype(undefined), 'auto-detect');
    assert.equal(normalizeDatatype('base64'), 'base64');
    assert.equal(normalizeDatatype('xml'), null);
});
