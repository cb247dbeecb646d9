/**
 * The broker dialog checks its fields with the very module the runtime resolves them with:
 * resources/broker-settings.js is the compiled nodes/lib/broker-settings.ts, wrapped for the browser.
 * Loaded here as a browser would (a window and URL, no require, no Buffer, no process), it must give
 * the runtime's answers; and the dialog's validators, run from nodes/broker-config.html, must give the
 * module's problems in the words of the catalogues.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as vm from 'node:vm';
import * as runtime from '../../dist/lib/broker-settings';
import type { BrokerConfigProps, SettingsProblem } from '../../dist/lib/broker-settings';
import { LIFECYCLE_KINDS, readLifecycleMessages } from '../../dist/lib/lifecycle-messages';
import { checkTopicName } from '../../dist/lib/topic';

type Lib = typeof runtime;
type Translate = (key: string, params?: { [name: string]: unknown }) => string;

const root = path.join(__dirname, '..', '..');
const resource = fs.readFileSync(path.join(root, 'resources', 'broker-settings.js'), 'utf8');
const editorHelpers = fs.readFileSync(path.join(root, 'resources', 'mqtt-wire-editor.js'), 'utf8');
const topicResource = fs.readFileSync(path.join(root, 'resources', 'topic.js'), 'utf8');
const dialogHtml = fs.readFileSync(path.join(root, 'nodes', 'broker-config.html'), 'utf8');
const NS = 'node-red-contrib-mqtt-wire/broker-config:';

function loadAsBrowser(): Lib {
    const window: Record<string, unknown> = {};
    vm.runInNewContext(resource, { window, URL }, { filename: 'broker-settings.js' });
    return window.MqttWireBrokerSettings as Lib;
}

/** Objects from the browser copy come from another realm: compare their JSON. */
const plain = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

/** What a call gives: its value, or the error it throws with its problem. */
function outcome(call: () => unknown): unknown {
    try {
        return { value: plain(call()) };
    } catch (err) {
        const e = err as Error & { problem?: SettingsProblem };
        return { error: e.message, name: e.name, problem: plain(e.problem) };
    }
}

const NUMBERS: unknown[] = [
    undefined, null, '', ' ', '0', '1', '-1', '5', ' 5 ', '1.5', '1e3', '0x10', 'abc', 'NaN', 'Infinity',
    '30', '60', '3600', '3601', '65535', '65536', '86400', '86401', '10000000', '10000001', '4294967295', '4294967296',
    0, 1, 2, 60, 1.5, -3, 70000, true, false,
];
const BROKERS: unknown[] = [
    undefined, '', ' ', 'localhost', '127.0.0.1', '0.0.0.0', '::', '::1', 'broker.example', 'host name', ' h ',
    'mqtt://h', 'MQTTS://h:8884', 'tcp://h', 'ssl://h', 'tls://h:1', 'ws://h/ws', 'wss://h', 'ws://h', 'mqtt://h:0',
    'ftp://h', 'mqtt+ssl://h', 'mqtt://', 'mqtt://h:99999', 'mqtt://h:abc', 'mqtt://a b', ' mqtt://h ',
    'constructor://h', '__proto__://h', 'mqtt://[::1]:1884', 'h:1883', '1mqtt://h',
    // Several brokers, one a line.
    'a\nmqtts://h:8884', 'h\n\n b ', 'mqtt://h\nftp://x', '127.0.0.1\n0.0.0.0', '\r\nh\r\n', 'mqtt://a\nmqtt://b:2', 'a\nb c',
    // A user name or password in the URL.
    'mqtt://bob:pw@h:1883', 'wss://bob@h/mqtt', 'mqtt://bob:p@w@h:99999', 'h\nmqtt://:pw@b', 'mqtt://h/path@x',
    // IPv6 in brackets, and a port after the host.
    '[::1]', '[::1]:1884', 'localhost:', 'fe80::1', 'a\nh:1',
];
const PROTOCOLS: unknown[] = [undefined, '', 'mqtt', 'mqtts', 'ws', 'wss', 'tcp', 'tls', 'MQTTS', 'constructor', 'ftp'];
const FLAGS: unknown[] = [undefined, null, '', true, false, 'true', 'false', 'on', 1, 0];
const DURABLES: unknown[] = [undefined, null, '', 'auto', 'on', 'off', 'AUTO', 'yes', true];
const PATHS: unknown[] = [undefined, '', '/mqtt', 'mqtt', '/', ' /x'];
const MODES: unknown[] = [undefined, '', 'external', 'embedded', 'other'];
const VERSIONS: unknown[] = [undefined, null, '', 4, 5, '4', '5', '5.0', '3', 'x'];
const AUTHS: unknown[] = [undefined, '', 'aliyun', 'other'];
const USER_PROPS: unknown[] = [undefined, null, '', '{}', '{"a":"b"}', ' {"a":1,"b":null,"c":[1]} ', '[]', '"x"', '{', 'null', '7', { a: 'b' }];

/** A deterministic choice of flow properties, mostly valid ones, with an odd value here and there. */
function generatedProps(count: number): BrokerConfigProps[] {
    let seed = 20240611;
    const random = (): number => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
    };
    const pick = (values: unknown[], usual: unknown[]): unknown => {
        const from = random() < 0.7 ? usual : values;
        return from[Math.floor(random() * from.length)];
    };
    const props: BrokerConfigProps[] = [];
    for (let i = 0; i < count; i++) {
        props.push({
            mode: pick(MODES, ['external', 'embedded']),
            broker: pick(BROKERS, ['localhost', '127.0.0.1', 'mqtts://h:8884', 'a\nmqtt://b:2']),
            port: pick(NUMBERS, ['1883', 1884, '']),
            protocol: pick(PROTOCOLS, ['mqtt', 'ws']),
            wspath: pick(PATHS, ['/mqtt']),
            usetls: pick(FLAGS, [false]),
            verifyservercert: pick(FLAGS, [true]),
            clientid: pick(['', ' id ', undefined], ['']),
            keepalive: pick(NUMBERS, ['60', 60]),
            cleansession: pick(FLAGS, [true, false]),
            protocolVersion: pick(VERSIONS, ['4', '5']),
            autoConnect: pick(FLAGS, [true]),
            sessionExpiry: pick(NUMBERS, ['', '3600']),
            reconnectDelay: pick(NUMBERS, ['1', '5', '']),
            reconnectDelayMax: pick(NUMBERS, ['30', '2', '']),
            maxInflight: pick(NUMBERS, ['20']),
            queueLimit: pick(NUMBERS, ['10000']),
            queueQoS0: pick(FLAGS, [false]),
            durable: pick(DURABLES, ['auto', 'on', 'off']),
            userProps: pick(USER_PROPS, ['', '{"site":"north"}']),
            auth: pick(AUTHS, ['', 'aliyun']),
            aliyunRegion: pick(['', 'CN_sh', 'cn-shanghai-', undefined], ['cn-shanghai', 'ap-southeast-1']),
            aliyunProductKey: pick(['', ' ', 'a/b', undefined], ['a1B2c3D4e5F']),
            aliyunDeviceName: pick(['', 'a&b', 'a b', undefined], ['device-1', 'd@x.y:z_1']),
            aliyunEndpoint: pick(['mqtt://h', 'h:0', 'h:99999', 'a b', '-h'], ['', '', 'iot-1.example:8883']),
            aliyunSignMethod: pick(['sha1', 'HMACSHA1', undefined], ['hmacsha256', 'hmacsha1', 'hmacmd5', '']),
            aliyunSecureMode: pick(['1', 4, undefined], ['2', '3', 2]),
        } as BrokerConfigProps);
    }
    return props;
}
const PROPS = generatedProps(3000);

/** Every function of the module with the arguments to try it on. */
function calls(lib: Lib): Array<[string, () => unknown]> {
    const out: Array<[string, () => unknown]> = [];
    const add = (name: keyof Lib, ...args: unknown[]): void => {
        out.push([name, () => (lib[name] as (...a: unknown[]) => unknown)(...args)]);
    };
    for (const name of Object.keys(runtime.NUMBER_RULES) as runtime.NumberProperty[]) {
        for (const value of NUMBERS) {
            add('numberProblem', name, value);
            add('readNumber', name, value);
            add('readNumber', name, value, 7);
        }
    }
    for (const first of NUMBERS) for (const longest of NUMBERS) add('reconnectOrderProblem', first, longest);
    for (const name of Object.keys(runtime.FLAG_DEFAULTS)) for (const value of FLAGS) add('readFlag', name, value);
    for (const value of DURABLES) {
        add('durableChoice', value);
        add('durableProblem', value);
        add('isDurable', value, true);
        add('isDurable', value, false);
    }
    for (const value of MODES) add('readMode', value);
    for (const value of PROTOCOLS) {
        add('protocolOfScheme', value);
        add('usesTls', value);
        for (const usetls of FLAGS) add('fieldProtocol', { protocol: value, usetls });
    }
    for (const value of VERSIONS) for (const mode of ['external', 'embedded']) add('readProtocolVersion', value, mode);
    for (const protocolVersion of [4, 5]) for (const clean of [true, false]) add('sendsSessionExpiry', { protocolVersion, clean });
    for (const broker of BROKERS) {
        add('brokerUrlScheme', broker);
        add('brokerLines', broker);
        add('parseBrokerUrl', broker);
        if (typeof broker === 'string') {
            add('withoutUserInfo', broker);
            add('removeUserInfo', broker);
            add('plainHost', broker);
        }
        for (const mode of MODES) add('brokerProblem', broker, mode);
    }
    for (const value of PATHS) add('wspathProblem', value);
    for (const value of USER_PROPS) {
        add('readUserProps', value);
        add('userPropsProblem', value);
    }
    for (const value of [undefined, null, '', 'secret', 7]) add('aliyunSecretProblem', value);
    for (const auth of AUTHS) for (const mode of MODES) add('isAliyun', { auth, mode });
    for (const props of PROPS) {
        add('resolveBrokerSettings', props);
        for (const name of [...runtime.CHECKED_PROPERTIES, 'name', 'clientid']) add('propertyProblem', name, props);
    }
    return out;
}

test('resources/broker-settings.js holds the compiled runtime modules unchanged, and requires nothing of the page', () => {
    const compiled = (name: string): string => fs.readFileSync(path.join(root, 'dist', 'lib', `${name}.js`), 'utf8').replace(/^\/\/# sourceMappingURL=.*$/m, '');
    assert.ok(resource.includes(compiled('broker-settings')), 'the compiled module is inside the resource');
    // Its imports, the Alibaba Cloud IoT rules and the rules of single values, are built into the same file.
    for (const name of ['aliyun-settings', 'settings-values']) assert.ok(resource.includes(compiled(name)), `the compiled ${name} module is inside the resource`);
    const required = [...resource.matchAll(/\brequire\(([^)]*)\)/g)].map((match) => match[1]);
    assert.deepEqual([...new Set(required)].sort(), ['"./aliyun-settings"', '"./settings-values"']);
});

test('the browser copy answers as the runtime on a generated corpus', () => {
    const editor = loadAsBrowser();
    assert.deepEqual(Object.keys(editor).sort(), Object.keys(runtime).sort(), 'the same exports');
    for (const [name, value] of Object.entries(runtime)) {
        if (typeof value !== 'function') assert.deepEqual(plain(editor[name as keyof Lib]), plain(value), `constant ${name}`);
    }
    const editorCalls = calls(editor);
    const runtimeCalls = calls(runtime);
    assert.equal(editorCalls.length, runtimeCalls.length);
    for (let i = 0; i < runtimeCalls.length; i++) {
        const [name, call] = runtimeCalls[i];
        assert.deepEqual(outcome(editorCalls[i][1]), outcome(call), `${name} #${i}`);
    }
    assert.ok(runtimeCalls.length > 40000, `compared ${runtimeCalls.length} answers`);
    const tried = new Set(runtimeCalls.map(([name]) => name));
    for (const [name, value] of Object.entries(runtime)) {
        if (typeof value === 'function' && name !== 'BrokerSettingsError') assert.ok(tried.has(name), `${name} is compared`);
    }
    const refused = outcome(() => editor.resolveBrokerSettings({ port: '70000' })) as { name: string; problem: SettingsProblem };
    assert.equal(refused.name, 'BrokerSettingsError');
    assert.equal(refused.problem.code, 'port');
});

test('the runtime refuses exactly the settings the dialog reports as more than advice', () => {
    let refusedCount = 0;
    for (const props of PROPS) {
        const problems = runtime.CHECKED_PROPERTIES.map((name) => runtime.propertyProblem(name, props)).filter((p) => p !== null);
        const refusals = problems.filter((p) => !p.advice).map((p) => p.text);
        const result = outcome(() => runtime.resolveBrokerSettings(props)) as { error?: string };
        if (result.error === undefined) {
            assert.deepEqual(refusals, [], `resolved ${JSON.stringify(props)}`);
        } else {
            refusedCount++;
            assert.ok(refusals.includes(result.error), `"${result.error}" is one the dialog reports for ${JSON.stringify(props)}`);
        }
    }
    assert.ok(refusedCount > 300 && refusedCount < PROPS.length - 300, `${refusedCount} of ${PROPS.length} refused: both kinds are tried`);
});

interface Dialog {
    definition: { defaults: { [name: string]: { value: unknown; validate?: (this: BrokerConfigProps, v: unknown, opt: unknown) => unknown } } };
}

/** Runs the inline script of nodes/broker-config.html as the editor does, with no dialog open. */
function loadDialog(translate: Translate): Dialog {
    const scripts = [...dialogHtml.matchAll(/<script type="text\/javascript">([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    assert.equal(scripts.length, 1, 'one inline script');
    const registered: Array<[string, Dialog['definition']]> = [];
    const RED = { _: translate, nodes: { registerType: (type: string, def: Dialog['definition']) => registered.push([type, def]) } };
    // The template the birth, close and will messages are put into is not on this page (broker-dialog.test.ts reads it).
    const window: Record<string, unknown> = { RED, MqttWireBrokerDialog: { putLifecycleMessages: () => undefined } };
    const context = vm.createContext({ window, RED, URL, console, $: () => ({ length: 0 }) });
    vm.runInContext(resource, context, { filename: 'broker-settings.js' });
    vm.runInContext(topicResource, context, { filename: 'topic.js' });
    vm.runInContext(editorHelpers, context, { filename: 'mqtt-wire-editor.js' });
    vm.runInContext(scripts[0], context, { filename: 'broker-config.html' });
    assert.equal(registered.length, 1);
    assert.equal(registered[0][0], 'broker-config');
    return { definition: registered[0][1] };
}

function catalogue(lang: string): Translate {
    const messages = JSON.parse(fs.readFileSync(path.join(root, 'nodes', 'locales', lang, 'broker-config.json'), 'utf8'));
    return (key, params = {}) => {
        const bare = key.slice(key.indexOf(':') + 1);
        const text = bare.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], messages);
        if (typeof text !== 'string') return bare;
        return text.replace(/__(\w+)__/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
    };
}

/** The birth, close and will topics: checked with the topic module (resources/topic.js). */
const LIFECYCLE_TOPICS = LIFECYCLE_KINDS.map((kind) => `${kind}Topic`);

test('the dialog validates the properties the module checks and the birth, close and will topics, each with a two-parameter validator', () => {
    const { definition } = loadDialog(catalogue('en-US'));
    const validated = Object.keys(definition.defaults).filter((name) => definition.defaults[name].validate);
    assert.deepEqual(validated.sort(), [...runtime.CHECKED_PROPERTIES, ...LIFECYCLE_TOPICS].sort());
    for (const name of validated) assert.equal(definition.defaults[name].validate!.length, 2, `${name}: function (v, opt)`);
    const defaults = Object.fromEntries(Object.entries(definition.defaults).map(([name, d]) => [name, d.value]));
    assert.deepEqual(runtime.resolveBrokerSettings(defaults), runtime.resolveBrokerSettings({}), "a new node's values mean the runtime's defaults");
    assert.deepEqual(readLifecycleMessages(defaults), readLifecycleMessages({}), 'a new node has no birth, close or will message');
    for (const kind of LIFECYCLE_KINDS) {
        for (const part of ['Payload', 'Qos', 'Retain']) assert.ok(`${kind}${part}` in definition.defaults, `${kind}${part} is a property of the dialog`);
    }
});

test('the birth, close and will topics are checked with the runtime\'s topic rules, in the catalogue\'s words; empty turns a message off', () => {
    const topics = ['', 'nodered/status', ' spaced ', 'a/+/b', '#', 'a\u0000b', '$share/g/x', '${STATUS_TOPIC}', 'x'.repeat(70000)];
    for (const lang of ['en-US', 'zh-CN']) {
        const translate = catalogue(lang);
        const { definition } = loadDialog(translate);
        let refused = 0;
        for (const name of LIFECYCLE_TOPICS) {
            for (const topic of topics) {
                const problem = topic === '' || topic.startsWith('${') ? null : checkTopicName(topic);
                const expected = problem === null ? true : translate(`${NS}broker-config.topic.${problem.code}`);
                assert.equal(definition.defaults[name].validate!.call({}, topic, {}), expected, `${lang}: ${name} = ${JSON.stringify(topic.slice(0, 20))}`);
                if (problem) refused++;
                // The runtime turns off exactly the messages whose topic the dialog refuses (an environment variable is resolved before).
                if (!topic.startsWith('${')) {
                    const kind = name.replace('Topic', '');
                    assert.equal(readLifecycleMessages({ [name]: topic }).problems.length, problem ? 1 : 0, `${name} = ${JSON.stringify(topic.slice(0, 20))}`);
                    assert.ok(topic === '' || problem || readLifecycleMessages({ [name]: topic })[kind as 'birth'], `${kind} on`);
                }
            }
        }
        assert.ok(refused >= 9, `${lang}: ${refused} refusals`);
    }
});

test("the dialog's validators return the module's problems, in its English words or the catalogue's", () => {
    const untranslated: Translate = (key) => key.slice(key.indexOf(':') + 1);
    for (const [language, translate] of [['module', untranslated], ['en-US', catalogue('en-US')], ['zh-CN', catalogue('zh-CN')]] as const) {
        const { definition } = loadDialog(translate);
        let reported = 0;
        for (const props of PROPS.slice(0, 1000)) {
            for (const name of runtime.CHECKED_PROPERTIES) {
                const problem = runtime.propertyProblem(name, props);
                const expected =
                    problem === null ? true : language === 'module' ? problem.text : translate(`${NS}broker-config.validation.${problem.code}`, problem.params);
                const answer = definition.defaults[name].validate!.call(props, props[name as keyof BrokerConfigProps], {});
                assert.equal(answer, expected, `${language}: ${name} of ${JSON.stringify(props)}`);
                if (problem) reported++;
            }
        }
        assert.ok(reported > 100, `${language}: ${reported} problems reported`);
    }
    const { definition } = loadDialog(catalogue('en-US'));
    const order = definition.defaults.reconnectDelayMax.validate!.call({ reconnectDelay: '10' }, '5', {});
    assert.equal(order, 'the longest retry (5 s) cannot be shorter than the first (10 s)');
    assert.equal(definition.defaults.port.validate!.call({}, '0', {}), 'the port must be a whole number from 1 to 65535');
});

test('every problem the module reports has a text in both catalogues, and every validation text is one of them', () => {
    const codes = new Set<string>();
    for (const [, call] of calls(runtime)) {
        const result = outcome(call) as { value?: unknown; problem?: SettingsProblem };
        const problem = (result.problem ?? result.value) as SettingsProblem | null | undefined;
        if (problem && typeof problem === 'object' && typeof (problem as SettingsProblem).code === 'string' && 'advice' in problem) codes.add(problem.code);
    }
    for (const lang of ['en-US', 'zh-CN']) {
        const messages = JSON.parse(fs.readFileSync(path.join(root, 'nodes', 'locales', lang, 'broker-config.json'), 'utf8'));
        assert.deepEqual(Object.keys(messages['broker-config'].validation).sort(), [...codes].sort(), `${lang}: validation texts`);
    }
});

test('the dialog loads the module and writes none of its rules again', () => {
    const moduleTag = dialogHtml.indexOf('<script src="resources/node-red-contrib-mqtt-wire/broker-settings.js"></script>');
    const helperTag = dialogHtml.indexOf('<script src="resources/node-red-contrib-mqtt-wire/mqtt-wire-editor.js"></script>');
    const inline = dialogHtml.indexOf('<script type="text/javascript">');
    assert.ok(moduleTag !== -1 && helperTag !== -1 && moduleTag < inline && helperTag < inline, 'both scripts load before the definition');
    const script = dialogHtml.slice(inline);
    // Ports, ranges and fallbacks of the module, and the shapes of its checks.
    assert.doesNotMatch(script, /\b(1883|8883|443|65535|3600|86400|10000000|4294967295|604800)\b/, 'a number of the module');
    assert.doesNotMatch(script, /\^\\d\+\$|\btcp\s*:|\bssl\s*:|'on'\s*\|\||=== 'auto'|'mqtts' \|\|/, 'a rule of the module');
    assert.doesNotMatch(script, /oneditresize/);
});
