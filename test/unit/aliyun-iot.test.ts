/**
 * Alibaba Cloud IoT: the signer against the platform's documented worked examples, each sign method,
 * and the settings of the aliyun authentication mode, refused in words (the same words in the editor's
 * copy of the rules and in both catalogues).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as vm from 'node:vm';
import { aliyunCredentials } from '../../dist/index';
import * as runtime from '../../dist/lib/broker-settings';
import type { BrokerConfigProps } from '../../dist/lib/broker-settings';

const root = path.join(__dirname, '..', '..');

test('the platform documentation example: clientId 12345, device, pk, timestamp 789, hmacsha1, secret', () => {
    // https://help.aliyun.com/document_detail/73742.html ("MQTT-TCP连接通信", 示例) shows the result with its
    // last four digits masked: FAFD82A3D602B37FB0FA8B7892F24A477F85****. The whole value is in an earlier
    // copy of the same page: https://knowledge.zhaoweiguo.com/build/html/open/alis/iots/client
    const signed = aliyunCredentials({ clientId: '12345', deviceName: 'device', productKey: 'pk', timestamp: 789, signMethod: 'hmacsha1', secureMode: 3, deviceSecret: 'secret' });
    assert.deepEqual(signed, {
        clientId: '12345|securemode=3,signmethod=hmacsha1,timestamp=789|',
        username: 'device&pk',
        password: 'FAFD82A3D602B37FB0FA8B7892F24A477F851A14',
    });
    assert.ok(signed.password.startsWith('FAFD82A3D602B37FB0FA8B7892F24A477F85'), 'the masked value of the current page');
});

test('the IoT developer community example: SN1928339, light1983432, a14Xib5kdYd, hmacsha1', () => {
    // "基于开源MQTT自主接入阿里云IoT平台", https://553668.com/manong/261125.html (section 2.2): the page writes the
    // hex in lower case, the platform's own example (above) in upper case.
    const signed = aliyunCredentials({
        productKey: 'a14Xib5kdYd',
        deviceName: 'light1983432',
        deviceSecret: 'oLyaKqVxtRvjH284LdhqVgVUx1UPy6zq',
        clientId: 'SN1928339',
        timestamp: 1539421321846,
        signMethod: 'hmacsha1',
        secureMode: 3,
    });
    assert.equal(signed.clientId, 'SN1928339|securemode=3,signmethod=hmacsha1,timestamp=1539421321846|');
    assert.equal(signed.username, 'light1983432&a14Xib5kdYd');
    assert.equal(signed.password, 'b2488041f64f425016b467ee1c94959ebd592ad1'.toUpperCase());
});

test('each sign method signs the sorted parameters with its HMAC', () => {
    // Computed with OpenSSL, another implementation of HMAC:
    //   printf '%s' clientId12345deviceNamedeviceproductKeypktimestamp789 | openssl dgst -sha256 -hmac secret
    const vectors = {
        hmacsha256: '6074A46A91B1EBB2CC4EA42790AD0E80202C9843859FC292E57C4EB19FAD9E57',
        hmacmd5: '14B198324FE55E1D3C88F2E705E201EE',
        hmacsha1: 'FAFD82A3D602B37FB0FA8B7892F24A477F851A14',
    } as const;
    for (const [signMethod, password] of Object.entries(vectors)) {
        const signed = aliyunCredentials({ clientId: '12345', deviceName: 'device', productKey: 'pk', timestamp: '789', deviceSecret: 'secret', signMethod: signMethod as keyof typeof vectors });
        assert.equal(signed.password, password, signMethod);
        assert.equal(signed.clientId, `12345|securemode=2,signmethod=${signMethod},timestamp=789|`, 'secure mode 2 (TLS) unless asked');
    }
});

test('without a timestamp and a client id: neither is in the client id, the client id is <ProductKey>.<DeviceName>', () => {
    // printf '%s' clientIdpk.devicedeviceNamedeviceproductKeypk | openssl dgst -sha256 -hmac secret
    const signed = aliyunCredentials({ productKey: 'pk', deviceName: 'device', deviceSecret: 'secret' });
    assert.deepEqual(signed, {
        clientId: 'pk.device|securemode=2,signmethod=hmacsha256|',
        username: 'device&pk',
        password: 'B37EEA641FA64792BC814A8DBDE9FD0C10382605619B017F96E894993984F154',
    });
});

test('the signer refuses what it cannot sign, in words', () => {
    assert.throws(() => aliyunCredentials({ productKey: 'pk', deviceName: 'device', deviceSecret: '' }), /deviceSecret must be a non-empty string/);
    assert.throws(() => aliyunCredentials({ productKey: '', deviceName: 'device', deviceSecret: 's' }), /productKey must be a non-empty string/);
    assert.throws(() => aliyunCredentials({ productKey: 'pk', deviceName: 'device', deviceSecret: 's', signMethod: 'sha1' as never }), /signMethod must be hmacsha256, hmacsha1 or hmacmd5/);
    assert.throws(() => aliyunCredentials({ productKey: 'pk', deviceName: 'device', deviceSecret: 's', secureMode: 1 as never }), /secureMode must be 2 or 3/);
});

const DEVICE: BrokerConfigProps = { mode: 'external', auth: 'aliyun', aliyunRegion: 'cn-shanghai', aliyunProductKey: 'a1B2c3D4e5F', aliyunDeviceName: 'device-1' };

test('aliyun mode connects to the public endpoint of the region, TLS for secure mode 2, plain TCP for 3, and ignores the broker field', () => {
    const tls = runtime.resolveBrokerSettings({ ...DEVICE, broker: 'ftp://not used', port: 'x' });
    assert.deepEqual([tls.url, tls.usesTls, tls.clientId, tls.keepalive], ['mqtts://a1B2c3D4e5F.iot-as-mqtt.cn-shanghai.aliyuncs.com:1883', true, 'a1B2c3D4e5F.device-1', 60]);
    assert.deepEqual(tls.aliyun, { productKey: 'a1B2c3D4e5F', deviceName: 'device-1', clientId: 'a1B2c3D4e5F.device-1', signMethod: 'hmacsha256', secureMode: 2 });
    const tcp = runtime.resolveBrokerSettings({ ...DEVICE, aliyunSecureMode: '3', aliyunSignMethod: 'hmacmd5', clientid: 'SN42' });
    assert.deepEqual([tcp.url, tcp.usesTls, tcp.aliyun?.signMethod, tcp.aliyun?.clientId], ['mqtt://a1B2c3D4e5F.iot-as-mqtt.cn-shanghai.aliyuncs.com:1883', false, 'hmacmd5', 'SN42']);
    const instance = runtime.resolveBrokerSettings({ ...DEVICE, aliyunRegion: '', aliyunEndpoint: 'iot-06z00example.mqtt.iothub.aliyuncs.com:8883' });
    assert.equal(instance.url, 'mqtts://iot-06z00example.mqtt.iothub.aliyuncs.com:8883');
    assert.equal(runtime.resolveBrokerSettings({ ...DEVICE, aliyunEndpoint: 'iot-06z00example.mqtt.iothub.aliyuncs.com' }).port, 1883);
    // Embedded mode has no Alibaba part, and the plain mode reads none of its fields.
    assert.equal(runtime.resolveBrokerSettings({ ...DEVICE, mode: 'embedded' }).aliyun, null);
    assert.equal(runtime.resolveBrokerSettings({ ...DEVICE, auth: '', aliyunProductKey: 'bad key' }).aliyun, null);
});

const REFUSALS: [string, BrokerConfigProps, string, string][] = [
    ['missing ProductKey', { ...DEVICE, aliyunProductKey: ' ' }, 'aliyun-product-key-empty', 'enter the ProductKey of the device (shown in the IoT Platform console on the device page)'],
    ['a ProductKey with a slash', { ...DEVICE, aliyunProductKey: 'a1/b' }, 'aliyun-product-key', 'the ProductKey "a1/b" may hold letters and digits only'],
    ['missing DeviceName', { ...DEVICE, aliyunDeviceName: '' }, 'aliyun-device-name-empty', 'enter the DeviceName of the device (shown in the IoT Platform console on the device page)'],
    ['a DeviceName with &', { ...DEVICE, aliyunDeviceName: 'a&b' }, 'aliyun-device-name', 'the DeviceName "a&b" may hold letters, digits and - _ @ . : only'],
    ['bad region characters', { ...DEVICE, aliyunRegion: 'CN_Shanghai' }, 'aliyun-region', 'the region id "CN_Shanghai" may hold lower-case letters, digits and single hyphens only, as in cn-shanghai'],
    ['no region and no endpoint', { ...DEVICE, aliyunRegion: '' }, 'aliyun-region-empty', 'enter the region id, such as cn-shanghai, or the endpoint of the instance'],
    ['an endpoint URL', { ...DEVICE, aliyunEndpoint: 'mqtts://iot.example:1883' }, 'aliyun-endpoint', 'the endpoint "mqtts://iot.example:1883" must be a host name, with :port when it is not 1883, such as iot-06z00example.mqtt.iothub.aliyuncs.com'],
    ['keep-alive 10', { ...DEVICE, keepalive: '10' }, 'aliyun-keepalive', 'Alibaba Cloud IoT accepts a keep-alive of 30 to 1200 seconds only, not "10"'],
    ['keep-alive 1300', { ...DEVICE, keepalive: 1300 }, 'aliyun-keepalive', 'Alibaba Cloud IoT accepts a keep-alive of 30 to 1200 seconds only, not "1300"'],
    ['keep-alive 0 (off)', { ...DEVICE, keepalive: '0' }, 'aliyun-keepalive', 'Alibaba Cloud IoT accepts a keep-alive of 30 to 1200 seconds only, not "0"'],
    ['unknown sign method', { ...DEVICE, aliyunSignMethod: 'sha1' }, 'aliyun-sign-method', 'the sign method must be hmacsha256, hmacsha1 or hmacmd5, not "sha1"'],
    ['unknown secure mode', { ...DEVICE, aliyunSecureMode: '1' }, 'aliyun-secure-mode', 'the secure mode must be 2 (TLS) or 3 (plain TCP), not "1"'],
];

test('settings the platform cannot take are refused in words, and the dialog says the same under the field', () => {
    const window: Record<string, unknown> = {};
    vm.runInNewContext(fs.readFileSync(path.join(root, 'resources', 'broker-settings.js'), 'utf8'), { window, URL }, { filename: 'broker-settings.js' });
    const editor = window.MqttWireBrokerSettings as typeof runtime;
    const catalogues = ['en-US', 'zh-CN'].map((lang) => JSON.parse(fs.readFileSync(path.join(root, 'nodes', 'locales', lang, 'broker-config.json'), 'utf8'))['broker-config']);
    for (const [what, props, code, text] of REFUSALS) {
        assert.throws(() => runtime.resolveBrokerSettings(props), (err: runtime.BrokerSettingsError) => err.problem.code === code && err.message === text, what);
        assert.throws(() => editor.resolveBrokerSettings(props), (err: Error) => err.message === text, `${what}, in the editor's copy`);
        const field = Object.keys(props).find((name) => props[name as keyof BrokerConfigProps] !== DEVICE[name as keyof BrokerConfigProps]) as string;
        assert.equal(editor.propertyProblem(field, props)?.text, text, `${what}: under the ${field} field`);
        for (const catalogue of catalogues) assert.equal(typeof catalogue.validation[code], 'string', `${code} in the catalogues`);
    }
    assert.equal(catalogues[0].validation['aliyun-keepalive'], 'Alibaba Cloud IoT accepts a keep-alive of __min__ to __max__ seconds only, not "__value__"');
    // The keep-alive of the plain mode keeps its own range.
    assert.equal(runtime.resolveBrokerSettings({ ...DEVICE, auth: '', keepalive: '10' }).keepalive, 10);
    assert.equal(editor.propertyProblem('broker', { ...DEVICE, broker: '' }), null, 'the broker field is not used in this mode');
});
