/**
 * Dispatch: with 1, 10, 100 and 1000 mqtt-in nodes with overlapping filters on one broker-config,
 * every node gets each matching message exactly once: on MQTT 3.1.1 (one subscription per
 * non-covered filter, routed by the topic trie) and on MQTT 5 (routed by subscription identifier).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { topicMatches } from '../../dist/lib/topic';
import { startMosquitto } from '../support/mosquitto';
import { embeddedBroker, eventually, externalBroker, FlowNode, getNode, loadFlow, waitForAllSubscribed, waitForStatus, useRuntime } from '../support/node-red';
import { freePort } from '../support/shared/ports';

const broker = useRuntime(() => startMosquitto());

const ROOMS = 8;
/** Overlapping filters: wide ones, per-room ones, and some every other node repeats. */
function filterFor(i: number): string {
    const room = `room${i % ROOMS}`;
    switch (i % 7) {
        case 0:
            return 'home/#';
        case 1:
            return 'home/+/temp';
        case 2:
            return `home/${room}/temp`;
        case 3:
            return `home/${room}/+`;
        case 4:
            return `+/${room}/temp`;
        case 5:
            return '#';
        default:
            return `home/${room}/#`;
    }
}

const TOPICS: string[] = [];
for (let r = 0; r < ROOMS; r++) TOPICS.push(`home/room${r}/temp`, `home/room${r}/hum`, `office/room${r}/temp`, `home/room${r}`);

async function dispatchCase(nodes: number, broker: FlowNode): Promise<void> {
    const flow: FlowNode[] = [broker, { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '1', retain: '' }];
    for (let i = 0; i < nodes; i++) flow.push({ id: `in${i}`, type: 'mqtt-in', broker: 'b', topic: filterFor(i), qos: '1', datatype: 'utf8', wires: [['sink']] });
    flow.push({ id: 'sink', type: 'helper' });
    await loadFlow(flow);
    const counts = new Array<number>(nodes).fill(0);
    let total = 0;
    getNode('sink').on('input', () => total++);
    for (let i = 0; i < nodes; i++) getNode(`in${i}`).on('call:send', () => counts[i]++);
    await waitForStatus('in0', (s) => s.fill === 'green', 'connected');
    const connection = getNode('b').connection;
    const distinct = new Set(Array.from({ length: nodes }, (_, i) => filterFor(i)));
    await eventually(() => connection.brokerFilters.size > 0 && connection.brokerFilters.size <= distinct.size, 'subscriptions');
    await waitForAllSubscribed('b');
    for (const topic of TOPICS) getNode('out').receive({ topic, payload: topic });
    const expected = Array.from({ length: nodes }, (_, i) => TOPICS.filter((t) => topicMatches(filterFor(i), t)).length);
    const expectedTotal = expected.reduce((a, b) => a + b, 0);
    await eventually(() => total >= expectedTotal, `${expectedTotal} deliveries`, 20000);
    // Time for duplicates to show up, if any were coming.
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(total, expectedTotal, 'no duplicates in total');
    for (let i = 0; i < nodes; i++) assert.equal(counts[i], expected[i], `node ${i} on "${filterFor(i)}"`);
}

for (const [label, version] of [['MQTT 3.1.1', '4'], ['MQTT 5', '5']]) {
    describe(`Mosquitto, ${label}`, () => {
        for (const n of [1, 10, 100, 1000]) {
            test(`${n} mqtt-in nodes`, () => dispatchCase(n, externalBroker('b', broker().port, { protocolVersion: version })));
        }
    });
}

describe('embedded broker (MQTT 3.1.1)', () => {
    for (const n of [10, 1000]) {
        test(`${n} mqtt-in nodes`, async () => dispatchCase(n, embeddedBroker('b', await freePort())));
    }
});
