/**
 * Birth, close and will messages read from a broker-config's flow properties (the core node's names,
 * with their MQTT 5 properties in birthMsg, closeMsg, willMsg), their problems in words (the module's
 * English and the catalogues'), and how one is published.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import type { MqttClient } from 'mqtt';
import {
    LifecycleProblem,
    publishLifecycleMessage,
    readLifecycleMessage,
    readLifecycleMessages,
    readLifecycleQos,
    readLifecycleRetain,
    willOption,
} from '../../dist/lib/lifecycle-messages';
import type { OutgoingMessage } from '../../dist/lib/delivery/types';

const root = path.join(__dirname, '..', '..');

test('an empty or missing topic turns a message off, as in the core node', () => {
    assert.deepEqual(readLifecycleMessages({}), { birth: null, close: null, will: null, problems: [] });
    assert.deepEqual(readLifecycleMessages({ birthTopic: '', birthPayload: 'x', closeTopic: null, willTopic: undefined, willQos: '9' }), {
        birth: null,
        close: null,
        will: null,
        problems: [],
    });
});

test('a message with the core flow properties: topic exactly as written, payload as UTF-8, QoS and retain as text or not', () => {
    const read = readLifecycleMessages({
        birthTopic: ' home/nodered/status',
        birthPayload: 'online ✓',
        birthQos: '1',
        birthRetain: 'true',
        closeTopic: 'home/nodered/status',
        closePayload: 'offline',
        closeQos: 2,
        closeRetain: true,
        willTopic: 'home/nodered/status',
    });
    assert.deepEqual(read.problems, []);
    assert.deepEqual(read.birth, { topic: ' home/nodered/status', payload: Buffer.from('online ✓', 'utf8'), qos: 1, retain: true });
    assert.deepEqual(read.close, { topic: 'home/nodered/status', payload: Buffer.from('offline'), qos: 2, retain: true });
    assert.deepEqual(read.will, { topic: 'home/nodered/status', payload: Buffer.alloc(0), qos: 0, retain: false });
    assert.deepEqual(willOption(read.will!), { topic: 'home/nodered/status', payload: Buffer.alloc(0), qos: 0, retain: false });
});

test('QoS is 0, 1 or 2 and retain true or false; empty means 0 and false; anything else is refused', () => {
    for (const [value, qos] of [[undefined, 0], [null, 0], ['', 0], ['0', 0], [1, 1], ['2', 2], [' 2 ', 2]] as const) assert.equal(readLifecycleQos(value), qos, String(value));
    for (const value of ['3', 3, -1, '1.0', 'x', true, {}]) assert.equal(readLifecycleQos(value), null, String(value));
    for (const [value, retain] of [[undefined, false], ['', false], [false, false], ['false', false], [true, true], ['true', true]] as const) {
        assert.equal(readLifecycleRetain(value), retain, String(value));
    }
    for (const value of ['yes', 1, 0, 'TRUE']) assert.equal(readLifecycleRetain(value), null, String(value));
});

test('an invalid topic, QoS or retain flag turns that message off with a problem in words; the others stay', () => {
    const read = readLifecycleMessages({
        birthTopic: 'home/+/status',
        closeTopic: 'bye',
        closeQos: '5',
        willTopic: 'gone',
        willRetain: 'sometimes',
    });
    assert.equal(read.birth, null);
    assert.equal(read.close, null);
    assert.equal(read.will, null);
    assert.deepEqual(
        read.problems.map((p) => p.text),
        [
            `the birth message is off: its topic "home/+/status" is invalid: a publish topic cannot contain '+' or '#' - subscribe with mqtt-in to use wildcards`,
            'the close message is off: its QoS must be 0, 1 or 2, not "5"',
            'the will message is off: its retain flag must be true or false, not "sometimes"',
        ],
    );
    assert.deepEqual(
        readLifecycleMessages({ birthTopic: 'a/#', willTopic: 'ok' }).problems.map((p) => [p.kind, p.code, p.topicCode]),
        [['birth', 'topic', 'wildcard-in-name']],
    );
    assert.equal((readLifecycleMessage('will', { willTopic: 'a\u0000b' }) as LifecycleProblem).topicCode, 'null-character');
});

/** The catalogue's text of a problem, built as broker-config.ts builds it. */
function cataloguedText(lang: string, problem: LifecycleProblem): string {
    const messages = JSON.parse(fs.readFileSync(path.join(root, 'nodes', 'locales', lang, 'broker-config.json'), 'utf8'))['broker-config'];
    const fill = (template: string, values: { [name: string]: string }): string => template.replace(/__(\w+)__/g, (_, name: string) => values[name]);
    const template: string = messages.lifecycle[`problem-${problem.code}`];
    assert.equal(typeof template, 'string', `${lang}: lifecycle.problem-${problem.code}`);
    const reason = problem.topicCode ? messages.topic[problem.topicCode] : (problem.reason ?? '');
    return fill(messages.lifecycle.off, { kind: messages.lifecycle[problem.kind], problem: fill(template, { value: problem.value, reason }) });
}

test("each problem has a text in both catalogues, and the English one is the module's word for word", () => {
    const problems = readLifecycleMessages({
        birthTopic: '#',
        closeTopic: 'c',
        closeQos: 'x',
        willTopic: 'w',
        willRetain: 'no',
    }).problems;
    assert.deepEqual(problems.map((p) => p.code), ['topic', 'qos', 'retain']);
    for (const problem of problems) {
        assert.equal(cataloguedText('en-US', problem), problem.text);
        const chinese = cataloguedText('zh-CN', problem);
        assert.ok(chinese.includes(problem.value) && !/__\w+__/.test(chinese), chinese);
    }
    const more = readLifecycleMessages({ birthTopic: 'b', birthPayload: () => 1, willTopic: 'w', willMsg: { expiry: 'soon' } }, true).problems;
    assert.deepEqual(more.map((p) => p.code), ['payload', 'properties']);
    for (const problem of more) {
        assert.equal(cataloguedText('en-US', problem), problem.text);
        const chinese = cataloguedText('zh-CN', problem);
        assert.ok(chinese.includes(problem.reason!) && !/__\w+__/.test(chinese), chinese);
    }
});

test("MQTT 5: the core flow's birthMsg, closeMsg and willMsg become the PUBLISH properties, the will's delay its Will Delay Interval", () => {
    const read = readLifecycleMessages(
        {
            birthTopic: 'nodered/status',
            birthPayload: 'online',
            birthMsg: { contentType: 'text/plain', userProps: '{"site":"north","rack":7}', respTopic: 'nodered/reply', correl: 'req-1', expiry: '300' },
            closeTopic: 'nodered/status',
            closeMsg: {},
            willTopic: 'nodered/status',
            willPayload: 'lost',
            willMsg: { contentType: 'text/plain', expiry: 600, delay: '30' },
        },
        true,
    );
    assert.deepEqual(read.problems, []);
    assert.deepEqual(read.birth!.properties, {
        contentType: 'text/plain',
        userProperties: { site: 'north', rack: '7' },
        responseTopic: 'nodered/reply',
        correlationData: Buffer.from('req-1'),
        messageExpiryInterval: 300,
    });
    assert.equal('properties' in read.close!, false, 'an empty closeMsg: no properties');
    assert.deepEqual(read.will!.properties, { contentType: 'text/plain', messageExpiryInterval: 600 });
    assert.equal(read.will!.delayInterval, 30);
    assert.deepEqual(willOption(read.will!), {
        topic: 'nodered/status',
        payload: Buffer.from('lost'),
        qos: 0,
        retain: false,
        properties: { contentType: 'text/plain', messageExpiryInterval: 600, willDelayInterval: 30 },
    });
    assert.deepEqual(willOption({ ...read.will!, properties: undefined, delayInterval: 0 }).properties, { willDelayInterval: 0 }, 'a delay of 0 is sent');
});

test("MQTT.js's names (msg.broker's properties) are taken too; the flow's name wins when both are given", () => {
    const read = readLifecycleMessage(
        'will',
        { willTopic: 'w', willMsg: { responseTopic: 'r/long', respTopic: 'r/short', correlationData: Buffer.from([1, 2]), messageExpiryInterval: 9, willDelayInterval: 4, userProperties: { a: 'b' } } },
        true,
    );
    assert.deepEqual(read, {
        topic: 'w',
        payload: Buffer.alloc(0),
        qos: 0,
        retain: false,
        properties: { responseTopic: 'r/short', correlationData: Buffer.from([1, 2]), messageExpiryInterval: 9, userProperties: { a: 'b' } },
        delayInterval: 4,
    });
});

test('on MQTT 3.1.1 the properties are neither sent nor checked, as with mqtt-out', () => {
    const read = readLifecycleMessages({ birthTopic: 'b', birthMsg: { respTopic: 'a/#', expiry: 'never' }, willTopic: 'w', willMsg: { delay: 30 } });
    assert.deepEqual(read.problems, []);
    assert.deepEqual(read.birth, { topic: 'b', payload: Buffer.alloc(0), qos: 0, retain: false });
    assert.deepEqual(willOption(read.will!), { topic: 'w', payload: Buffer.alloc(0), qos: 0, retain: false });
});

test('a bad property turns its message off with the reason in words', () => {
    const cases: [string, unknown, string][] = [
        ['birth', { userProps: '{not json' }, 'its user properties are not valid JSON'],
        ['birth', { userProps: '[1]' }, 'its user properties must be an object of name: value pairs, not an array'],
        ['close', { respTopic: 'reply/+' }, `its response topic "reply/+" is not a valid topic: a publish topic cannot contain '+' or '#'`],
        ['close', { contentType: 7 }, 'its content type must be a string, not number 7'],
        ['will', { correl: 12 }, 'its correlation data must be a Buffer or a string, not number 12'],
        ['will', { expiry: '4294967296' }, 'its message expiry must be a whole number from 0 to 4294967295, not "4294967296"'],
        ['will', { delay: -5 }, 'its will delay must be a whole number from 0 to 4294967295, not number -5'],
        ['birth', { delay: 5 }, 'its MQTT 5 properties have no "delay" (use contentType, userProps, userProperties, respTopic, responseTopic, correl, correlationData, expiry, messageExpiryInterval, payloadFormatIndicator)'],
        ['will', { payloadFormat: true }, 'its MQTT 5 properties have no "payloadFormat"'],
        ['will', { payloadFormatIndicator: 'yes' }, 'its payload format indicator must be true or false, not "yes"'],
        ['will', 'text/plain', 'its MQTT 5 properties must be an object, not "text/plain"'],
    ];
    for (const [kind, msgProps, words] of cases) {
        const read = readLifecycleMessage(kind as 'birth', { [`${kind}Topic`]: 'ok/topic', [`${kind}Msg`]: msgProps }, true) as LifecycleProblem;
        assert.equal(read.code, 'properties', JSON.stringify(msgProps));
        assert.ok(read.detail.startsWith(words), `${read.detail} starts with ${words}`);
        assert.equal(read.text, `the ${kind} message is off: ${read.detail}`);
    }
});

type Answer = (err?: Error & { code?: number }) => void;

function fakeClient() {
    const published: { topic: string; payload: Buffer; options: { qos: number; retain: boolean }; answer: Answer }[] = [];
    const client = {
        publish(topic: string, payload: Buffer, options: { qos: number; retain: boolean }, answer: Answer) {
            published.push({ topic, payload, options, answer });
        },
    };
    return { client: client as unknown as MqttClient, published };
}

const birth: OutgoingMessage = { topic: 'nodered/status', payload: Buffer.from('online'), qos: 1, retain: true };

test('a lifecycle message with MQTT 5 properties is published with them', () => {
    const { client, published } = fakeClient();
    void publishLifecycleMessage(client, { ...birth, properties: { contentType: 'text/plain', messageExpiryInterval: 5 } }, 1000);
    assert.deepEqual(published[0].options, { qos: 1, retain: true, properties: { contentType: 'text/plain', messageExpiryInterval: 5 } });
    published[0].answer();
});

test('a lifecycle message is published with its QoS and retain flag and resolves when the broker has it', async () => {
    const { client, published } = fakeClient();
    let settled = false;
    const publishing = publishLifecycleMessage(client, birth, 1000).then(() => (settled = true));
    assert.equal(published.length, 1);
    assert.deepEqual([published[0].topic, published[0].payload.toString(), published[0].options], ['nodered/status', 'online', { qos: 1, retain: true }]);
    await Promise.resolve();
    assert.equal(settled, false, 'not before the answer');
    published[0].answer();
    await publishing;
    assert.equal(settled, true);
});

test("a broker's refusal is reported with its reason in words, another error as it is, and silence after the patience", async () => {
    const refused = fakeClient();
    const refusal = publishLifecycleMessage(refused.client, birth, 1000);
    refused.published[0].answer(Object.assign(new Error('Publish error'), { code: 0x87 }));
    await assert.rejects(refusal, /^Error: the broker refused it: .*reason code 0x87/);

    const failed = fakeClient();
    const failure = publishLifecycleMessage(failed.client, birth, 1000);
    failed.published[0].answer(new Error('Connection closed'));
    await assert.rejects(failure, /Connection closed/);

    const silent = fakeClient();
    await assert.rejects(publishLifecycleMessage(silent.client, birth, 30), /no answer from the broker within 30 ms/);
});
