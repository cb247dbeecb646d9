/**
 * QoS 1 and 2 through mqtt-out hold across the faults a real installation sees: a broker restarted
 * twice, network links cut (and one left dead until keep-alive notices), and a broker that is away
 * long enough for the send queue to reach its bound. A foreign client on a persistent session is the
 * witness; Mosquitto runs with persistence, stopped with SIGTERM so that what it acknowledged is
 * saved (a SIGKILL would lose what it acknowledged in its last instant: that is the broker's fault,
 * not the client's, and not what these tests are about).
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test, TestContext } from 'node:test';
import { startMosquitto } from '../support/mosquitto';
import { eventually, externalBroker, getNode, helper, loadFlow, unloadFlow, waitForStatus } from '../support/node-red';
import { TcpProxy } from '../support/tcp-proxy';
import { Witness } from '../support/witness';

before(() => new Promise<void>((resolve) => helper.startServer(resolve)));
after(() => new Promise<void>((resolve) => helper.stopServer(resolve)));
afterEach(() => unloadFlow());

/** Sends n messages numbered 1..n at QoS 1 to `${prefix}/q1` and at QoS 2 to `${prefix}/q2`, interleaved. */
function publishNumbered(prefix: string, n: number): void {
    const out = getNode('out');
    for (let i = 1; i <= n; i++) {
        out.receive({ topic: `${prefix}/q1`, payload: i, qos: 1 });
        out.receive({ topic: `${prefix}/q2`, payload: i, qos: 2 });
    }
}

function errorsOf(nodeId: string): string[] {
    const errors: string[] = [];
    getNode(nodeId).on('call:error', (call: { args: unknown[] }) => errors.push(String(call.args[0])));
    return errors;
}

/**
 * Order is checked where the package decides it: the PUBLISH packets its client writes. Each
 * message's first transmission must come in the order it was handed to mqtt-out; what was in flight
 * at a fault is sent again (DUP) before anything newer. The witness's order is the broker's: a
 * Mosquitto restored from its persistence file hands the backlog it had queued for the witness after
 * messages that arrive once it is back (seen with 2.0.11: 314 of 10,000 late, "8595 arrived after
 * 8897"), so the witness's order is reported, not asserted.
 */
function recordSendOrder(): Map<string, number[]> {
    const firstSends = new Map<string, number[]>();
    const sent = new Set<string>();
    const client = getNode('b').connection.client;
    client.on('packetsend', (packet: { cmd: string; topic?: string; payload?: Buffer }) => {
        if (packet.cmd !== 'publish' || !packet.topic) return;
        const key = `${packet.topic} ${packet.payload}`;
        if (sent.has(key)) return;
        sent.add(key);
        let list = firstSends.get(packet.topic);
        if (!list) firstSends.set(packet.topic, (list = []));
        list.push(Number(String(packet.payload)));
    });
    return firstSends;
}

function assertDelivered(t: TestContext, witness: Witness, firstSends: Map<string, number[]>, prefix: string, n: number): void {
    for (const qos of [1, 2]) {
        const topic = `${prefix}/q${qos}`;
        const arrived = witness.check(topic, n);
        assert.equal(arrived.missing.length, 0, `QoS ${qos}: none lost (missing ${arrived.missing.length}, first ${arrived.missing.slice(0, 5)})`);
        if (qos === 2) assert.equal(arrived.duplicates, 0, 'QoS 2: exactly once');
        const order = firstSends.get(topic) ?? [];
        assert.equal(order.length, n, `QoS ${qos}: each message sent`);
        const wrong = order.findIndex((seq, i) => seq !== i + 1);
        assert.equal(wrong, -1, `QoS ${qos}: first transmissions in order (at ${wrong}: ${order.slice(Math.max(0, wrong - 2), wrong + 3)})`);
        t.diagnostic(`QoS ${qos}: ${arrived.duplicates} duplicates, ${arrived.late} arrived after a later one at the witness`);
    }
}

/** Waits until every message reached the witness, then checks that none failed, none was lost, and the send order. */
async function finishDelivery(t: TestContext, witness: Witness, errors: string[], firstSends: Map<string, number[]>, prefix: string, n: number): Promise<void> {
    await eventually(() => witness.distinct(`${prefix}/q1`) >= n && witness.distinct(`${prefix}/q2`) >= n, 'everything delivered', 90000);
    // Time for duplicates to show up at the witness, if any were coming.
    await new Promise((r) => setTimeout(r, 500));
    await witness.stop();
    assert.deepEqual(errors, []);
    assertDelivered(t, witness, firstSends, prefix, n);
}

describe('a broker restarted twice while 10,000 messages at QoS 1 and 10,000 at QoS 2 go out', () => {
    for (const version of ['4', '5'] as const) {
        test(`MQTT ${version === '4' ? '3.1.1' : '5'}`, async (t) => {
            const mosquitto = await startMosquitto({ persistence: true, extraConfig: ['max_queued_messages 0'] });
            const prefix = `restart/${version}`;
            const n = 10000;
            try {
                await loadFlow([
                    externalBroker('b', mosquitto.port, { clientid: `restart-pub-${version}`, cleansession: false, protocolVersion: version, queueLimit: '30000', durable: 'off', reconnectDelay: '1', reconnectDelayMax: '2' }),
                    { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' },
                ]);
                const errors = errorsOf('out');
                await waitForStatus('out', (s) => s.fill === 'green', 'connected');
                const witness = await Witness.start(mosquitto.port, `${prefix}/+`, { clientId: `restart-witness-${version}` });
                const firstSends = recordSendOrder();
                publishNumbered(prefix, n);
                const total = () => witness.count(`${prefix}/q1`) + witness.count(`${prefix}/q2`);
                for (const at of [0.25, 0.6]) {
                    await eventually(() => total() >= at * 2 * n, `${at * 100}% delivered`, 60000);
                    await mosquitto.stop();
                    // The broker stays down for a while, as a restarted one does.
                    await new Promise((r) => setTimeout(r, 500));
                    await mosquitto.start();
                }
                await finishDelivery(t, witness, errors, firstSends, prefix, n);
            } finally {
                await mosquitto.dispose();
            }
        });
    }
});

test('links cut twice and once left dead (keep-alive notices): 5,000 at QoS 1 and 5,000 at QoS 2 all arrive', async (t) => {
    const mosquitto = await startMosquitto({ persistence: true, extraConfig: ['max_queued_messages 0'] });
    const proxy = await new TcpProxy(mosquitto.port).start();
    const prefix = 'cut';
    const n = 5000;
    try {
        await loadFlow([
            externalBroker('b', proxy.port, { clientid: 'cut-pub', cleansession: false, keepalive: '2', queueLimit: '30000', durable: 'off', reconnectDelay: '1', reconnectDelayMax: '2' }),
            { id: 'out', type: 'mqtt-out', broker: 'b', topic: '', qos: '', retain: '' },
        ]);
        const errors = errorsOf('out');
        await waitForStatus('out', (s) => s.fill === 'green', 'connected');
        const witness = await Witness.start(mosquitto.port, `${prefix}/+`, { clientId: 'cut-witness' });
        const firstSends = recordSendOrder();
        publishNumbered(prefix, n);
        const total = () => witness.count(`${prefix}/q1`) + witness.count(`${prefix}/q2`);
        for (const [at, fault] of [[0.2, 'cut'], [0.5, 'blackhole'], [0.8, 'cut']] as const) {
            await eventually(() => total() >= at * 2 * n, `${at * 100}% delivered`, 60000);
            if (fault === 'cut') {
                proxy.cut();
                // The link stays down for a while, as a real outage does.
                await new Promise((r) => setTimeout(r, 300));
            } else {
                // Nothing passes and nothing closes: only the keep-alive (2 s) can tell the link is dead.
                proxy.blackhole();
                await waitForStatus('out', (s) => s.fill === 'red', 'the dead link noticed', 15000);
            }
            proxy.restore();
        }
        await finishDelivery(t, witness, errors, firstSends, prefix, n);
    } finally {
        await proxy.stop();
        await mosquitto.dispose();
    }
});

test('queue bound: over the bound each message gets node.error, the count is exact, the rest arrive', async () => {
    const mosquitto = await startMosquitto({ persistence: true });
    const witness = await Witness.start(mosquitto.port, 'bound/+', { qos: 1, clientId: 'bound-witness' });
    await witness.stop();
    await mosquitto.stop(); // the witness's session waits in the broker's persistence file
    try {
        await loadFlow([
            externalBroker('b', mosquitto.port, { clientid: 'bound-pub', queueLimit: '100', durable: 'off', reconnectDelay: '1', reconnectDelayMax: '1' }),
            { id: 'out', type: 'mqtt-out', broker: 'b', topic: 'bound/t', qos: '1', retain: '' },
        ]);
        const errors = errorsOf('out');
        await waitForStatus('out', (s) => s.fill === 'red', 'broker unreachable');
        for (let i = 1; i <= 150; i++) getNode('out').receive({ payload: i });
        await eventually(() => errors.length === 50, '50 refusals');
        // Time for a 51st refusal to show up, if one were coming.
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(errors.length, 50);
        for (const e of errors) assert.match(e, /mqtt-out\.errors\.publish-failed/);
        assert.equal(getNode('b').connection.delivery.queued, 100);
        const status = await waitForStatus('out', (s) => /100 waiting|status\.waiting/.test(String(s.text)), 'the status counts the waiting messages');
        assert.match(String(status.text), /reconnecting/);

        await mosquitto.start();
        const back = await Witness.start(mosquitto.port, 'bound/+', { qos: 1, clientId: 'bound-witness' });
        await eventually(() => back.distinct('bound/t') >= 100, '100 delivered', 20000);
        await back.stop();
        const { missing } = back.check('bound/t', 100);
        assert.deepEqual(missing, [], 'the first 100 arrive');
        assert.equal(back.received.get('bound/t')?.some((seq) => seq > 100), false, 'the refused ones were not sent');
    } finally {
        await mosquitto.dispose();
    }
});
