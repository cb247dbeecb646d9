import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startMosquitto } from '../support/mosquitto';
import { collect, eventually, externalBroker, helper, loadFlow, unloadFlow, useRuntime, waitForStatus, waitForSubscribed } from '../support/node-red';

const broker = useRuntime(() => startMosquitto());

test('smoke: out -> mosquitto -> in', async () => {
    await loadFlow([
        externalBroker('b', broker().port),
        { id: 'in', type: 'mqtt-in', broker: 'b', topic: 'a/+', qos: '2', datatype: 'auto-detect', wires: [['h']] },
        { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '', wires: [] },
        { id: 'h', type: 'helper' },
    ]);
    const got = collect('h');
    await waitForStatus('in', (s) => s.fill === 'green', 'in connected');
    await waitForSubscribed('b', 'a/+');
    helper.getNode('out').receive({ topic: 'a/b', payload: { x: 1 }, qos: 1 });
    await eventually(() => got.length === 1, 'one message');
    assert.deepEqual(got[0].payload, { x: 1 });
    assert.equal(got[0].qos, 1);
    await unloadFlow();
});
