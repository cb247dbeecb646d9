import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeConnectionError, describeListenError } from '../../dist/index';

const error = (fields: Record<string, unknown>): Error => Object.assign(new Error(String(fields.message ?? 'x')), fields);

test('socket errors in words', () => {
    assert.equal(describeConnectionError(error({ code: 'ECONNREFUSED' }), '127.0.0.1:1883').text, 'nothing is listening at 127.0.0.1:1883 - is the broker running?');
    assert.equal(describeConnectionError(error({ code: 'ENOTFOUND', hostname: 'brokr.lan' }), 'brokr.lan:1883').text, 'host not found: brokr.lan');
    assert.equal(describeConnectionError(error({ code: 'ETIMEDOUT' }), 'h:1883').code, 'timeout');
    assert.equal(describeConnectionError(error({ code: 'ECONNRESET' }), 'h:1883').code, 'connection-reset');
    assert.equal(describeConnectionError(new Error('connack timeout'), 'h:1883').text, 'no answer from h:1883 (timed out)');
    assert.equal(describeConnectionError(new Error('Keepalive timeout'), 'h:1883').code, 'timeout');
});

test('TLS errors', () => {
    const self = describeConnectionError(error({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed certificate' }), 'h:8883');
    assert.equal(self.code, 'tls-certificate');
    assert.match(self.text, /self-signed certificate/);
    assert.equal(describeConnectionError(error({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), 'h:8883').code, 'tls-certificate');
    assert.equal(describeConnectionError(error({ code: 'ERR_SSL_WRONG_VERSION_NUMBER' }), 'h:8883').code, 'tls-other');
    const handshake = describeConnectionError(error({ code: 'EPROTO', message: 'write EPROTO 80:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../ssl3_record.c:350:\n' }), 'h:8883');
    assert.deepEqual([handshake.code, handshake.text], ['tls-other', 'TLS error: the server does not answer in TLS (wrong version number) - is this a TLS port?']);
});

test('CONNACK codes of MQTT 3.1.1 and 5', () => {
    const byCode = (code: number) => describeConnectionError(error({ code, message: 'Connection refused' }), 'h:1883').code;
    assert.equal(byCode(1), 'unsupported-protocol');
    assert.equal(byCode(2), 'identifier-rejected');
    assert.equal(byCode(3), 'server-unavailable');
    assert.equal(byCode(4), 'bad-credentials');
    assert.equal(byCode(5), 'not-authorized');
    assert.equal(byCode(0x86), 'bad-credentials');
    assert.equal(byCode(0x87), 'not-authorized');
    assert.equal(byCode(0x84), 'unsupported-protocol');
    const banned = describeConnectionError(error({ code: 0x8a, message: 'Banned' }), 'h:1883');
    assert.equal(banned.code, 'broker-refused');
    assert.match(banned.text, /Banned \(reason code 138\)/);
});

test('listen errors of the embedded broker', () => {
    assert.equal(describeListenError(error({ code: 'EADDRINUSE' }), '127.0.0.1', 1883).text, 'port 1883 on 127.0.0.1 is already in use - is another broker running there?');
    assert.equal(describeListenError(error({ code: 'EACCES', message: 'permission denied' }), '0.0.0.0', 80).code, 'listen-failed');
});
