/**
 * What the mqtt-in help (en-US and zh-CN) promises about a payload that fails its conversion, held
 * against a running flow: the message is not sent on, the error reaches a Catch node with the msg
 * (the payload as it arrived), and nothing leaves the node's wired output.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import * as mqtt from 'mqtt';
import { startMosquitto } from '../support/mosquitto';
import { allNodes, collect, coreNode, eventually, externalBroker, FlowNode, helper, useRuntime, waitForSubscribed } from '../support/node-red';

const root = path.join(__dirname, '..', '..');
const broker = useRuntime(() => startMosquitto());

function help(lang: string): string {
    return fs.readFileSync(path.join(root, 'nodes', 'locales', lang, 'mqtt-in.html'), 'utf8').replace(/\s+/g, ' ');
}

test('the help in both languages says a payload that fails its conversion is not sent on, and a Catch node gets it', () => {
    const en = help('en-US');
    assert.match(en, /A payload that fails its conversion is not sent on/);
    assert.match(en, /a Catch node can handle it/);
    assert.doesNotMatch(en, /still sent/);
    const zh = help('zh-CN');
    assert.match(zh, /转换失败的负载不会继续发送/);
    assert.match(zh, /Catch 节点处理/);
    assert.doesNotMatch(zh, /仍会发送|仍然发送/);
});

test('a payload that is not JSON under "a parsed JSON object" reaches the Catch node with its msg, not the output', async () => {
    const onTab = (node: FlowNode): FlowNode => ({ z: 't', x: 100, y: 100, ...node });
    const flow: FlowNode[] = [
        { id: 't', type: 'tab' },
        externalBroker('b', broker().port),
        onTab({ id: 'in', type: 'mqtt-in', broker: 'b', topic: 'help/json', qos: '1', datatype: 'json', wires: [['out']] }),
        onTab({ id: 'out', type: 'helper' }),
        onTab({ id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] }),
        onTab({ id: 'caught', type: 'helper' }),
    ];
    await new Promise<void>((resolve, reject) => helper.load([...allNodes, coreNode('common/25-catch.js')], flow, {}, (err?: Error) => (err ? reject(err) : resolve())));
    const sent = collect('out');
    const caught = collect('caught');
    await waitForSubscribed('b', 'help/json');
    const publisher = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker().port}`);
    try {
        await publisher.publishAsync('help/json', 'not json', { qos: 1 });
        // Same publisher, same subscription: once the valid one is out, the invalid one has been handled.
        await publisher.publishAsync('help/json', '{"ok":true}', { qos: 1 });
        await eventually(() => sent.length === 1, 'the valid message at the output');
    } finally {
        await publisher.endAsync();
    }
    assert.deepEqual(sent.map((m) => m.payload), [{ ok: true }], 'only the valid payload leaves the output');
    await eventually(() => caught.length === 1, 'the error at the Catch node');
    assert.equal(caught[0].payload, 'not json', 'the Catch node gets the payload as it arrived');
    assert.equal(caught[0].topic, 'help/json');
    assert.equal(caught[0].error.source.id, 'in');
});
