import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BrokerSettingsError, resolveBrokerSettings } from '../../dist/index';

test('defaults: mqtt://localhost:1883, MQTT 3.1.1, clean session, keep-alive 60', () => {
    const s = resolveBrokerSettings({});
    assert.equal(s.url, 'mqtt://localhost:1883');
    assert.equal(s.protocolVersion, 4);
    assert.equal(s.clean, true);
    assert.equal(s.keepalive, 60);
    assert.equal(s.verifyServerCert, true, 'certificates are verified unless the user turns it off');
});

test('protocols and their default ports; ws path', () => {
    assert.equal(resolveBrokerSettings({ broker: 'h', protocol: 'mqtts' }).url, 'mqtts://h:8883');
    assert.equal(resolveBrokerSettings({ broker: 'h', protocol: 'ws' }).url, 'ws://h:80/mqtt');
    assert.equal(resolveBrokerSettings({ broker: 'h', protocol: 'wss', port: '8084', wspath: 'mqtt' }).url, 'wss://h:8084/mqtt');
    assert.equal(resolveBrokerSettings({ broker: 'h', usetls: true }).protocol, 'mqtts', "a core flow's usetls");
});

test('a core flow with a URL in broker', () => {
    const s = resolveBrokerSettings({ broker: 'mqtts://broker.example:8884', port: '1883' });
    assert.equal(s.url, 'mqtts://broker.example:8884');
    assert.equal(resolveBrokerSettings({ broker: 'ws://h/ws' }).url, 'ws://h:80/ws');
    assert.equal(resolveBrokerSettings({ broker: 'mqtts://h', port: '1883' }).url, 'mqtts://h:8883', 'a URL without a port means the default port of its scheme');
    assert.throws(() => resolveBrokerSettings({ broker: 'ftp://h' }), BrokerSettingsError);
});

test('MQTT 5 for external brokers; the embedded broker is always 3.1.1 on loopback by default', () => {
    assert.equal(resolveBrokerSettings({ protocolVersion: '5' }).protocolVersion, 5);
    const e = resolveBrokerSettings({ mode: 'embedded', protocolVersion: '5', broker: '', port: 1884 });
    assert.equal(e.protocolVersion, 4);
    assert.equal(e.listenHost, '127.0.0.1');
    assert.equal(e.url, 'mqtt://127.0.0.1:1884');
    const lan = resolveBrokerSettings({ mode: 'embedded', broker: '0.0.0.0' });
    assert.equal(lan.listenHost, '0.0.0.0');
    assert.equal(lan.host, '127.0.0.1', 'connects to itself through loopback');
});

test('bad numbers are refused with the reason', () => {
    assert.throws(() => resolveBrokerSettings({ port: '70000' }), /port must be a whole number from 1 to 65535/);
    assert.throws(() => resolveBrokerSettings({ port: 'abc' }), BrokerSettingsError);
    assert.throws(() => resolveBrokerSettings({ keepalive: -1 }), /keep-alive/);
});

test('any scheme://... in broker is read as a URL, and only the known schemes are accepted', () => {
    assert.throws(() => resolveBrokerSettings({ broker: 'mqtt+ssl://h' }), /unknown scheme "mqtt\+ssl"/);
    assert.throws(() => resolveBrokerSettings({ broker: 'constructor://h' }), /unknown scheme "constructor"/);
    assert.equal(resolveBrokerSettings({ broker: 'h', protocol: 'constructor' }).protocol, 'mqtt', 'a protocol that is not a scheme falls back to usetls');
    assert.throws(() => resolveBrokerSettings({ broker: 'mqtt://h:99999' }), /is not a valid broker address/);
});

test('a user name or password in a broker URL is refused, and no message shows them', () => {
    for (const broker of ['mqtt://bob:hunter2@127.0.0.1:1883', 'mqtt://127.0.0.1\nws://bob:hunter2@h/mqtt', 'mqtt://bob@h']) {
        assert.throws(
            () => resolveBrokerSettings({ broker }),
            (err: unknown) => err instanceof BrokerSettingsError && err.problem.code === 'broker-userinfo' && /User name and Password fields/.test(err.message) && !/hunter2|bob/.test(err.message + JSON.stringify(err.problem)),
            broker,
        );
    }
    // Nor does the refusal of an address that does not parse.
    assert.throws(() => resolveBrokerSettings({ broker: 'mqtt://bob:hunter2@h:99999' }), (err: unknown) => err instanceof Error && /is not a valid broker address/.test(err.message) && !/hunter2/.test(err.message + JSON.stringify((err as BrokerSettingsError).problem)));
});

test('a port after a plain host is refused in words; an IPv6 address may come in brackets', () => {
    for (const broker of ['localhost:1883', '127.0.0.1:46739', '[::1]:1884', 'a.example\nb.example:1884']) {
        assert.throws(
            () => resolveBrokerSettings({ broker }),
            (err: unknown) => err instanceof BrokerSettingsError && err.problem.code === 'broker-host-port' && /write the port in the Port field/.test(err.message),
            broker,
        );
    }
    assert.equal(resolveBrokerSettings({ broker: '[::1]', port: '1884' }).url, 'mqtt://[::1]:1884');
    assert.equal(resolveBrokerSettings({ broker: '::1' }).url, 'mqtt://[::1]:1883');
    assert.equal(resolveBrokerSettings({ broker: 'mqtt://[::1]:1884' }).url, 'mqtt://[::1]:1884');
});

test('a refusal carries the problem the editor words from its catalogue', () => {
    assert.throws(
        () => resolveBrokerSettings({ reconnectDelay: '10', reconnectDelayMax: '5' }),
        (err: unknown) => err instanceof BrokerSettingsError && err.problem.code === 'reconnect-delay-order' && err.problem.params.first === 10 && !err.problem.advice,
    );
});
