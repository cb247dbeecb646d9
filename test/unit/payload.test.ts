import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bufferToPayload, normalizeDatatype, PayloadError, payloadToBuffer } from '../../dist/index';
import type { InputDatatype } from '../../dist/index';
import type { PayloadDeclaration } from '../../dist/lib/payload';

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

test('datatype names of the core node; an unset one is utf8, as in its runtime', () => {
    assert.equal(normalizeDatatype('auto'), 'auto', 'the older default keeps its own meaning');
    assert.equal(normalizeDatatype('auto-detect'), 'auto-detect');
    assert.equal(normalizeDatatype(undefined), 'utf8');
    assert.equal(normalizeDatatype(''), 'utf8');
    assert.equal(normalizeDatatype('base64'), 'base64');
    assert.equal(normalizeDatatype('xml'), null);
});

const DATATYPES: InputDatatype[] = ['auto', 'auto-detect', 'utf8', 'buffer', 'json', 'base64'];
type Expected = { ok: true; payload: unknown } | { ok: false; payload: unknown };
const ok = (payload: unknown): Expected => ({ ok: true, payload });
const fails = (payload: unknown): Expected => ({ ok: false, payload });

/**
 * What the core node (10-mqtt.js at 4.1.8) gives for each payload and MQTT 5 declaration, per
 * datatype. 'utf8', 'buffer' and 'base64' ignore the declaration; a row that leaves them out expects
 * the plain decoding, the bytes and their Base64.
 */
const TABLE: { what: string; bytes: Buffer; declared?: PayloadDeclaration; expect: { auto: Expected; 'auto-detect': Expected } & Partial<Record<InputDatatype, Expected>> }[] = [
    { what: 'a JSON object', bytes: Buffer.from('{"t":21.5}'), expect: { auto: ok('{"t":21.5}'), 'auto-detect': ok({ t: 21.5 }), json: ok({ t: 21.5 }) } },
    { what: 'a JSON number', bytes: Buffer.from('42'), expect: { auto: ok('42'), 'auto-detect': ok(42), json: ok(42) } },
    { what: 'plain text', bytes: Buffer.from('温度 on'), expect: { auto: ok('温度 on'), 'auto-detect': ok('温度 on'), json: fails('温度 on') } },
    { what: 'an empty payload', bytes: Buffer.alloc(0), expect: { auto: ok(''), 'auto-detect': ok(''), json: fails('') } },
    {
        what: 'bytes that are not UTF-8',
        bytes: Buffer.from([0xff, 0xfe, 0x00]),
        expect: { auto: ok(Buffer.from([0xff, 0xfe, 0x00])), 'auto-detect': ok(Buffer.from([0xff, 0xfe, 0x00])), json: fails(Buffer.from([0xff, 0xfe, 0x00])), utf8: ok('\ufffd\ufffd\u0000') },
    },
    {
        what: 'UTF-8 with a NUL (the core counts control characters as binary)',
        bytes: Buffer.from('a\u0000b'),
        expect: { auto: ok(Buffer.from('a\u0000b')), 'auto-detect': ok(Buffer.from('a\u0000b')), json: fails(Buffer.from('a\u0000b')) },
    },
    { what: 'tab, line feed and carriage return are text', bytes: Buffer.from('[1,\t2]\r\n'), expect: { auto: ok('[1,\t2]\r\n'), 'auto-detect': ok([1, 2]), json: ok([1, 2]) } },
    { what: 'DEL is binary', bytes: Buffer.from('x\u007f'), expect: { auto: ok(Buffer.from('x\u007f')), 'auto-detect': ok(Buffer.from('x\u007f')) } },
    { what: 'JSON after a byte order mark stays text, the mark kept', bytes: Buffer.from('\ufeff{"a":1}'), expect: { auto: ok('\ufeff{"a":1}'), 'auto-detect': ok('\ufeff{"a":1}'), json: fails('\ufeff{"a":1}') } },
    {
        what: 'JSON declared text/plain stays a string',
        bytes: Buffer.from('{"a":1}'),
        declared: { contentType: 'text/plain' },
        expect: { auto: ok('{"a":1}'), 'auto-detect': ok('{"a":1}'), json: ok({ a: 1 }) },
    },
    { what: 'JSON declared application/xml stays a string', bytes: Buffer.from('[1]'), declared: { contentType: 'application/xml' }, expect: { auto: ok('[1]'), 'auto-detect': ok('[1]') } },
    {
        what: 'bytes declared text/html are decoded even when not UTF-8',
        bytes: Buffer.from([0x3c, 0xff]),
        declared: { contentType: 'text/html' },
        expect: { auto: ok('<\ufffd'), 'auto-detect': ok('<\ufffd'), json: fails(Buffer.from([0x3c, 0xff])), utf8: ok('<\ufffd') },
    },
    {
        what: 'JSON declared application/json (any case)',
        bytes: Buffer.from('{"a":1}'),
        declared: { contentType: 'Application/JSON' },
        expect: { auto: ok('{"a":1}'), 'auto-detect': ok({ a: 1 }), json: ok({ a: 1 }) },
    },
    {
        what: 'not JSON, declared application/json: an error under auto and auto-detect',
        bytes: Buffer.from('{oops'),
        declared: { contentType: 'application/json' },
        expect: { auto: fails('{oops'), 'auto-detect': fails('{oops'), json: fails('{oops') },
    },
    {
        what: 'JSON declared application/zip stays a Buffer',
        bytes: Buffer.from('{"a":1}'),
        declared: { contentType: 'application/zip' },
        expect: { auto: ok(Buffer.from('{"a":1}')), 'auto-detect': ok(Buffer.from('{"a":1}')), json: ok({ a: 1 }) },
    },
    { what: 'image/png stays a Buffer', bytes: Buffer.from('ok'), declared: { contentType: 'image/png' }, expect: { auto: ok(Buffer.from('ok')), 'auto-detect': ok(Buffer.from('ok')) } },
    // The core matches the whole content type: others are treated as if none were declared.
    { what: 'text/csv is not a type the core knows', bytes: Buffer.from('1'), declared: { contentType: 'text/csv' }, expect: { auto: ok('1'), 'auto-detect': ok(1) } },
    { what: 'a +json type is not one the core knows', bytes: Buffer.from('{oops'), declared: { contentType: 'application/vnd.api+json' }, expect: { auto: ok('{oops'), 'auto-detect': ok('{oops') } },
    { what: 'a charset parameter makes application/json unknown', bytes: Buffer.from('{"a":1}'), declared: { contentType: 'application/json; charset=utf-8' }, expect: { auto: ok('{"a":1}'), 'auto-detect': ok({ a: 1 }) } },
    { what: 'binary declared with an unknown type stays a Buffer', bytes: Buffer.from([0xa1, 0x01]), declared: { contentType: 'application/cbor' }, expect: { auto: ok(Buffer.from([0xa1, 0x01])), 'auto-detect': ok(Buffer.from([0xa1, 0x01])) } },
    // A payload format indicator of 1 declares UTF-8: the core then decodes without checking.
    {
        what: 'a NUL declared UTF-8 is text',
        bytes: Buffer.from('a\u0000b'),
        declared: { payloadFormatIndicator: true },
        expect: { auto: ok('a\u0000b'), 'auto-detect': ok('a\u0000b'), json: fails('a\u0000b') },
    },
    {
        what: 'bad bytes declared UTF-8 are decoded, and parsed when that gives JSON',
        bytes: Buffer.from([0x22, 0xff, 0x22]),
        declared: { payloadFormatIndicator: true },
        expect: { auto: ok('"\ufffd"'), 'auto-detect': ok('\ufffd'), json: ok('\ufffd'), utf8: ok('"\ufffd"') },
    },
    {
        what: 'a format indicator of 0 changes nothing',
        bytes: Buffer.from('[2]'),
        declared: { payloadFormatIndicator: false },
        expect: { auto: ok('[2]'), 'auto-detect': ok([2]), json: ok([2]) },
    },
    {
        what: 'a binary content type wins over the format indicator',
        bytes: Buffer.from('[2]'),
        declared: { contentType: 'application/octet-stream', payloadFormatIndicator: true },
        expect: { auto: ok(Buffer.from('[2]')), 'auto-detect': ok(Buffer.from('[2]')), json: ok([2]) },
    },
];

test('bytes -> msg.payload: each datatype against a table of payloads and content types', () => {
    for (const row of TABLE) {
        const plain: Partial<Record<InputDatatype, Expected>> = { utf8: ok(row.bytes.toString('utf8')), buffer: ok(row.bytes), base64: ok(row.bytes.toString('base64')) };
        const expected = { ...plain, ...row.expect };
        for (const datatype of DATATYPES) {
            const want = expected[datatype];
            if (!want) continue;
            const got = bufferToPayload(row.bytes, datatype, row.declared);
            const label = `${row.what}, under ${datatype}`;
            assert.equal(got.ok, want.ok, `${label}: ${want.ok ? 'converts' : 'fails'}`);
            assert.deepEqual(got.payload, want.payload, label);
            if (!got.ok) assert.ok(got.error.length > 0, `${label}: says why`);
        }
    }
});

test('a declaration on a Buffer datatype changes nothing', () => {
    const bytes = Buffer.from('{oops');
    for (const declared of [{ contentType: 'application/json' }, { contentType: 'text/plain', payloadFormatIndicator: true }]) {
        assert.equal(bufferToPayload(bytes, 'buffer', declared).payload, bytes);
        assert.equal(bufferToPayload(bytes, 'base64', declared).payload, 'e29vcHM=');
    }
});
