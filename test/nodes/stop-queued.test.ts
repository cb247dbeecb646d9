/**
 * What a stop (Ctrl+C, a full redeploy) says about the messages still waiting to be sent: with a
 * durable store they are kept for the next start, said once by the broker-config node and not
 * reported as failed; with the memory store they are lost: each goes to the Catch nodes, and one log
 * line per mqtt-out node sums them up (instead of a line each).
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../support/shared/ports';
import { allNodes, coreNode, externalBroker, FlowNode, getNode, helper, unloadFlow, useRuntime, waitForStatus } from '../support/node-red';

useRuntime();
let userDir = '';
before(() => {
    userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-wire-stop-queued-'));
    helper.settings({ userDir });
});
after(() => {
    helper.settings({ userDir: undefined });
    fs.rmSync(userDir, { recursive: true, force: true });
});

const onTab = (node: FlowNode): FlowNode => ({ z: 't', x: 100, y: 100, ...node });

/** Broker unreachable: `count` QoS 1 messages from each of two mqtt-out nodes wait in the queue. */
async function queue(durable: 'on' | 'off', withCatch: boolean, count: number): Promise<void> {
    const port = await freePort();
    const flow: FlowNode[] = [
        { id: 't', type: 'tab' },
        externalBroker('b', port, { durable, cleansession: false, clientid: `stop-queued-${durable}-${withCatch}` }),
        onTab({ id: 'out1', type: 'mqtt-out', broker: 'b', topic: 'stop/1', qos: '1', retain: 'false' }),
        onTab({ id: 'out2', type: 'mqtt-out', broker: 'b', topic: 'stop/2', qos: '1', retain: 'false' }),
    ];
    if (withCatch) flow.push(onTab({ id: 'catch', type: 'catch', scope: null, uncaught: false, wires: [['caught']] }), onTab({ id: 'caught', type: 'helper' }));
    await new Promise<void>((resolve, reject) => helper.load([...allNodes, coreNode('common/25-catch.js')], flow, {}, (err?: Error) => (err ? reject(err) : resolve())));
    await waitForStatus('out1', (s) => s.fill === 'red', 'reconnecting');
    for (const id of ['out1', 'out2']) for (let i = 0; i < count; i++) getNode(id).receive({ payload: `${id}-${i}` });
    await waitForStatus('out2', (s) => String(s.text).includes(`{"count":"${2 * count}"}`), 'all waiting');
}

interface Logged {
    level: number;
    id?: string;
    msg: unknown;
}
/**
 * The runtime's log entries from now on, through a log handler of its own (the test helper's log spy
 * ends when the flow unloads, before the nodes close); call the result to stop and read them.
 */
function logFrom(): () => Logged[] {
    const entries: Logged[] = [];
    const handler = new EventEmitter();
    handler.on('log', (entry: Logged) => entries.push(entry));
    helper._log.addHandler(handler);
    return () => {
        helper._log.removeHandler(handler);
        return entries;
    };
}
const ERROR = 20;
const INFO = 40;

test('a durable store keeps the waiting messages at a stop: one line says so, none is reported as failed', async () => {
    await queue('on', false, 5);
    const log = logFrom();
    await unloadFlow();
    const entries = log();
    assert.deepEqual(entries.filter((e) => e.level === ERROR).map((e) => e.msg), [], 'no error at the stop');
    const kept = entries.filter((e) => e.level === INFO && String(e.msg).includes('kept-for-restart'));
    assert.equal(kept.length, 1, 'one line for the kept messages');
    assert.equal(kept[0].id, 'b');
});

test('with the memory store and no Catch node, the messages lost at a stop are summed into one line per node', async () => {
    await queue('off', false, 5);
    const log = logFrom();
    await unloadFlow();
    await new Promise((resolve) => setImmediate(resolve));
    const errors = log().filter((e) => e.level === ERROR);
    assert.deepEqual(errors.map((e) => e.id).sort(), ['out1', 'out2'], 'one error line per mqtt-out node');
    for (const e of errors) assert.match(String(e.msg), /mqtt-out\.errors\.lost-on-stop/);
    // The helper's RED._ gives the key: the count is in the log entry only through the runtime's catalogue.
    assert.equal(errors.length, 2);
});

test('with the memory store each message lost at a stop goes to the Catch node, and one line per node sums them up', async () => {
    await queue('off', true, 3);
    // The Catch node is stopping too: what it gets cannot go on, so the log line is still needed.
    const caught: { payload: unknown; error: { message: string; source: { id: string } } }[] = [];
    const catchNode = getNode('catch');
    const receive = catchNode.receive.bind(catchNode);
    catchNode.receive = (msg: (typeof caught)[number]) => {
        caught.push(msg);
        receive(msg);
    };
    const log = logFrom();
    await unloadFlow();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(caught.map((m) => m.payload).sort(), ['out1-0', 'out1-1', 'out1-2', 'out2-0', 'out2-1', 'out2-2']);
    for (const m of caught) assert.match(m.error.message, /mqtt-out\.errors\.publish-failed/);
    const errors = log().filter((e) => e.level === ERROR);
    assert.deepEqual(errors.map((e) => e.id).sort(), ['out1', 'out2'], 'one error line per mqtt-out node');
    for (const e of errors) assert.match(String(e.msg), /mqtt-out\.errors\.lost-on-stop/);
});
