/**
 * Differential test of the topic rules (dist/lib/topic) against a real Mosquitto and against the
 * embedded broker (dist/lib/embedded-broker: aedes with the package's rules).
 *
 * Generated filters and names (seeded PRNG: TOPIC_DIFF_SEED=<n> to replay; TOPIC_DIFF_SHOW=<n> to
 * list more than 15 disagreements) are sent to the broker
 * as raw MQTT packets (mqtt-packet over a plain socket: MQTT.js would refuse the malformed ones):
 * - validators: the broker's answer to a SUBSCRIBE (SUBACK reason, or disconnect) and to a QoS 1
 *   PUBLISH (PUBACK, or disconnect) on MQTT 5 and 3.1.1 is compared with checkTopicFilter and
 *   checkTopicName;
 * - matching: one MQTT 5 client subscribes to every valid filter, each with its own Subscription
 *   Identifier, another publishes every valid name, and the identifiers on what is delivered are
 *   compared with topicMatches.
 * The embedded broker speaks MQTT 3.1.1 only (aedes refuses MQTT 5): it answers the validators on
 * 3.1.1, and the matching test, which needs MQTT 5, is skipped for it.
 * The spec is the judge: where a broker departs from it, its departures below say how (pattern,
 * and the rule); any other disagreement fails. Mosquitto is required: the test fails without it.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { Mosquitto, startMosquitto } from '../support/mosquitto';
import { freePort } from '../support/shared/ports';
import { EmbeddedBroker } from '../../dist/lib/embedded-broker';
import { TopicProblem, checkTopicFilter, checkTopicName, topicMatches } from '../../dist/lib/topic';
import { Packet, RawClient, Version, encode, mqttPacket } from './raw-mqtt-client';


// ---------------------------------------------------------------------------------------------
// Seed and generators

const seed = process.env.TOPIC_DIFF_SEED ? Number(process.env.TOPIC_DIFF_SEED) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const SEEDED = ` [replay with TOPIC_DIFF_SEED=${seed}]`;

/** mulberry32: a small, good enough, seeded PRNG. */
function prng(s: number): () => number {
    let a = s >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
const random = prng(seed);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];

// Levels: common ones, malformed ones, and rare ones (characters the spec forbids or discourages).
const FILTER_LEVELS = ['a', 'b', '', '+', '#', '$x', 'a+', '#b', 'g', '+/#'];
const NAME_LEVELS = ['a', 'b', '', '$x', 'g', 'c'];
const RARE_LEVELS = ['+', '#', 'a+', '\u0000', '\ud800', 'x\udc00', '\u0001', '\u001f', '\u007f', '\u009f', '\ufdd0', '\uffff', '\ud83f\udffe', '\ufeff', '\u00e9', '\ud83d\ude00', '$SYS', '$share'];

function generate(levels: readonly string[], first: readonly string[]): string {
    const count = 1 + Math.floor(random() * 5);
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
        if (random() < 0.04) out.push(pick(RARE_LEVELS));
        else out.push(i === 0 && random() < 0.15 ? pick(first) : pick(levels));
    }
    return out.join('/');
}

const lv = (n: number) => Array(n).fill('a').join('/');
// Fixed probes besides the random ones: every departure, and the limits.
const PROBE_FILTERS = [lv(100), lv(101), '$share', '$share/g/$x', '$share/g/$x/+', '$share/g', '$share//a', '$share/', '$share/g/', '$share/+/a', '$share/#', '$share/g+/a', '$share/g/a+', '$share/g/#/a', '$share/g/$SYS/#', '$sharex', '$SHARE/g/#', 'x'.repeat(65535), 'x'.repeat(65533) + '/#', lv(201), lv(202), '\u0001', 'a/\u009f/+', '\uffff/#', '\ufeff', '\u0000', '\ud800/#', '/', '//', '/#', '+/+'];
const PROBE_NAMES = [lv(100), lv(101), '$SYS', '$SYS/x', '$SYSx', '$share', '$share/g/x', '$sharex', '$shar', '$x', 'x'.repeat(65535), lv(201), lv(202), '\u0001', 'a/\u007f', '\ufdd0', '\ud83f\udffe', '\ufeff', '\u0000', 'a\ud800', 'a+', 'a/#', '/', '//'];

// ---------------------------------------------------------------------------------------------
// Departures: where a broker knowingly differs from MQTT 5.0 / 3.1.1, and the package follows the
// spec. Each says what the broker does for the topics it matches.

type Verdict = 'accept' | 'reject' | 'not-authorized';
interface Departure {
    id: string;
    rule: string;
    kind: 'filter' | 'name';
    /** The MQTT versions it shows on. */
    versions: Version[];
    applies(topic: string, problem: TopicProblem | null): boolean;
    /** What the broker does. */
    verdict: Verdict;
}

// U+0001..U+001F, U+007F..U+009F, and the non-characters U+FDD0..U+FDEF and U+xxFFFE/U+xxFFFF.
// eslint-disable-next-line no-control-regex -- control characters are what this matches
const DISCOURAGED = /[\u0001-\u001f\u007f-\u009f\ufdd0-\ufdef\ufffe\uffff]|[\ud83f\ud87f\ud8bf\ud8ff\ud93f\ud97f\ud9bf\ud9ff\uda3f\uda7f\udabf\udaff\udb3f\udb7f\udbbf\udbff][\udffe\udfff]/;
const slashes = (s: string) => s.split('/').length - 1;

/** Mosquitto 2.0.x. */
const MOSQUITTO_DEPARTURES: Departure[] = [
    ...(['filter', 'name'] as const).map(
        (kind): Departure => ({
            id: `discouraged-characters-in-${kind}`,
            rule: '1.5.4: U+0001..U+001F, U+007F..U+009F and non-characters SHOULD NOT be used, and a receiver MAY treat them as malformed; the package accepts them, Mosquitto disconnects (0x81). Allowed by the spec, not a violation.',
            kind,
            versions: [4, 5],
            applies: (topic, problem) => problem === null && DISCOURAGED.test(topic),
            verdict: 'reject',
        }),
    ),
    ...(['filter', 'name'] as const).map(
        (kind): Departure => ({
            id: `more-than-201-levels-in-${kind}`,
            rule: '4.7.3: no limit on the number of levels other than the 65535-byte length; Mosquitto refuses more than 200 separators (as a malformed packet 0x81, or protocol error 0x82 for a PUBLISH)',
            kind,
            versions: [4, 5],
            applies: (topic, problem) => problem === null && slashes(topic) > 200,
            verdict: 'reject',
        }),
    ),
    {
        id: 'filter-$share-alone',
        rule: '[MQTT-4.8.2-1]: only a filter starting with "$share/" is a shared subscription, so "$share" is an ordinary valid filter; Mosquitto refuses it (protocol error 0x82)',
        kind: 'filter',
        versions: [4, 5],
        applies: (topic) => topic === '$share',
        verdict: 'reject',
    },
    {
        id: 'malformed-shared-subscription-accepted',
        rule: '[MQTT-4.8.2-1] [MQTT-4.8.2-2]: a ShareName of at least one character, without "+" or "#", followed by "/" and a Topic Filter; Mosquitto accepts "$share/", "$share//a", "$share/g", "$share/g/", "$share/+/a", "$share/#" (it only checks the whole string as an ordinary filter)',
        kind: 'filter',
        versions: [4, 5],
        applies: (topic, problem) =>
            problem !== null &&
            ['share-no-group', 'share-group-wildcard', 'share-no-filter'].includes(problem.code) &&
            checkTopicFilter('x/' + topic.slice('$share/'.length)) === null &&
            !DISCOURAGED.test(topic) &&
            slashes(topic) <= 200,
        verdict: 'accept',
    },
    {
        id: 'publish-to-$SYS-or-$share',
        rule: '4.7.2: a Server MAY reserve names starting with "$"; Mosquitto answers a valid PUBLISH to a name starting with "$SYS" or "$share" with PUBACK 0x87 (Not authorized; on 3.1.1 a plain PUBACK), delivers nothing, and closes the connection. A policy, not a validity verdict.',
        kind: 'name',
        versions: [4, 5],
        applies: (topic, problem) => problem === null && (topic.startsWith('$SYS') || topic.startsWith('$share')),
        verdict: 'not-authorized',
    },
];

/** Where a broker delivers differently from topicMatches for a valid filter and a valid name. */
interface DeliveryDeparture {
    id: string;
    rule: string;
    applies(filter: string, name: string): boolean;
    /** Whether the broker delivers. */
    delivers: boolean;
}

const MOSQUITTO_DELIVERY_DEPARTURES: DeliveryDeparture[] = [
    {
        id: 'shared-subscription-on-a-$-filter',
        rule: '4.8.2 [MQTT-4.8.2-2] with [MQTT-4.7.2-1]: "$share/<group>/<filter>" is a subscription on <filter>, and only a filter starting with a wildcard is kept from names starting with "$"; Mosquitto delivers nothing to a shared subscription whose filter starts with "$" ("$share/g/$x" does not get "$x")',
        applies: (filter, name) => filter.startsWith('$share/') && /^\$share\/[^/]+\/\$/.test(filter) && topicMatches(filter, name),
        delivers: false,
    },
];

/**
 * The embedded broker (aedes 1.2 with nodes/lib/embedded-topic-rules). It speaks MQTT 3.1.1 only
 * (aedes refuses MQTT 5), so only version 4 applies.
 */
const EMBEDDED_DEPARTURES: Departure[] = [
    ...(['filter', 'name'] as const).map(
        (kind): Departure => ({
            id: `more-than-100-levels-in-${kind}`,
            rule: '4.7.3: no limit on the number of levels other than the 65535-byte length; aedes refuses more than 100 levels (its topic matcher, qlobber, throws past 100 words and aedes cannot raise that) and closes the connection',
            kind,
            versions: [4],
            applies: (topic, problem) => problem === null && slashes(topic) >= 100,
            verdict: 'reject',
        }),
    ),
    {
        id: 'shared-subscription-refused',
        rule: 'MQTT 3.1.1 has no shared subscriptions and aedes implements none: the embedded broker answers a valid "$share/<group>/<filter>" with SUBACK 0x80 (Failure, which 3.9.3 allows for any subscription) rather than take it for a plain filter that is never shared',
        kind: 'filter',
        versions: [4],
        applies: (topic, problem) => problem === null && topic.startsWith('$share/'),
        verdict: 'reject',
    },
    {
        id: 'publish-to-$SYS/',
        rule: '4.7.2: a Server MAY reserve names starting with "$"; aedes refuses a PUBLISH under "$SYS/" (where it reports on itself) and closes the connection. A policy, not a validity verdict.',
        kind: 'name',
        versions: [4],
        applies: (topic, problem) => problem === null && topic.startsWith('$SYS/'),
        verdict: 'reject',
    },
];

function departureFor(departures: readonly Departure[], kind: 'filter' | 'name', version: Version, topic: string, problem: TopicProblem | null) {
    return departures.find((d) => d.kind === kind && d.versions.includes(version) && d.applies(topic, problem));
}

// ---------------------------------------------------------------------------------------------
// A broker's verdicts

interface Witness {
    verdict: Verdict;
    detail: string;
}

/** Sends one packet per topic, on `workers` connections that are replaced when the broker closes them. */
async function verdicts(
    broker: string,
    port: number,
    version: Version,
    topics: readonly string[],
    packetFor: (topic: string, id: number) => Buffer,
    answer: (p: Packet) => boolean,
    judge: (p: Packet, client: RawClient) => Promise<Witness>,
    workers = 4,
): Promise<Witness[]> {
    const out: Witness[] = new Array(topics.length);
    let nextIndex = 0;
    const worker = async () => {
        let client: RawClient | null = null;
        for (let i = nextIndex++; i < topics.length; i = nextIndex++) {
            if (client === null || client.closed) client = await RawClient.connect(port, version, SEEDED);
            client.send(packetFor(topics[i], 1 + (i % 65535)));
            const reply = await client.next((p) => answer(p) || p.cmd === 'disconnect');
            if (reply === 'timeout') assert.fail(`no answer from ${broker} to ${JSON.stringify(topics[i])} on v${version}${SEEDED}`);
            if (reply === 'closed') out[i] = { verdict: 'reject', detail: 'connection closed' };
            else if (reply.cmd === 'disconnect') {
                out[i] = { verdict: 'reject', detail: `DISCONNECT 0x${(reply.reasonCode ?? 0).toString(16)}` };
                client.close();
            } else {
                out[i] = await judge(reply, client);
                // Start afresh after a refusal: Mosquitto closes the connection after a PUBACK 0x87
                // too, and a packet sent meanwhile would be lost.
                if (out[i].verdict !== 'accept') client.close();
            }
        }
        client?.close();
    };
    await Promise.all(Array.from({ length: workers }, worker));
    return out;
}

function subscribeVerdicts(broker: string, port: number, version: Version, filters: readonly string[]): Promise<Witness[]> {
    return verdicts(
        broker,
        port,
        version,
        filters,
        (filter, id) => encode({ cmd: 'subscribe', messageId: id, subscriptions: [{ topic: filter, qos: 0 }] }, filter, version),
        (p) => p.cmd === 'suback',
        async (p) => {
            const code = p.granted?.[0] ?? 0x80;
            return { verdict: code < 0x80 ? 'accept' : 'reject', detail: `SUBACK 0x${code.toString(16)}` };
        },
    );
}

function publishVerdicts(broker: string, port: number, version: Version, names: readonly string[]): Promise<Witness[]> {
    return verdicts(
        broker,
        port,
        version,
        names,
        (name, id) => encode({ cmd: 'publish', messageId: id, qos: 1, topic: name, payload: Buffer.from('v') }, name, version),
        (p) => p.cmd === 'puback',
        async (p, client) => {
            const code = p.reasonCode ?? 0; // 3.1.1: no reason code
            if (code === 0x87) return { verdict: 'not-authorized', detail: 'PUBACK 0x87' };
            if (code >= 0x80) return { verdict: 'reject', detail: `PUBACK 0x${code.toString(16)}` };
            // Is the connection still open? Mosquitto closes it after a message it refuses to
            // route, which on 3.1.1 it acknowledges all the same.
            client.send(mqttPacket.generate({ cmd: 'pingreq' }, { protocolVersion: version }));
            const pong = await client.next((q) => q.cmd === 'pingresp');
            if (pong === 'timeout') assert.fail(`no PINGRESP from ${broker}${SEEDED}`);
            if (pong === 'closed') return { verdict: 'not-authorized', detail: `PUBACK 0x${code.toString(16)}, then the connection closed` };
            return { verdict: 'accept', detail: `PUBACK 0x${code.toString(16)}` };
        },
    );
}

const show = (s: string) => (s.length > 60 ? `${JSON.stringify(s.slice(0, 24))}... (${s.length} chars, ${slashes(s) + 1} levels)` : JSON.stringify(s));

// ---------------------------------------------------------------------------------------------
// The tests

const filterSet = new Set<string>(PROBE_FILTERS);
while (filterSet.size < PROBE_FILTERS.length + 1500) filterSet.add(generate(FILTER_LEVELS, ['$share', '$share/g', '$SYS', '$x']));
const FILTERS = [...filterSet];
const nameSet = new Set<string>(PROBE_NAMES);
while (nameSet.size < PROBE_NAMES.length + 400) nameSet.add(generate(NAME_LEVELS, ['$SYS', '$share', '$x']));
const NAMES = [...nameSet];

/** A broker the rules are tried against. */
interface Target {
    name: string;
    port(): Promise<number>;
    versions: readonly Version[];
    departures: readonly Departure[];
    deliveryDepartures: readonly DeliveryDeparture[];
    /** Why the delivery test (MQTT 5: it tells filters apart by Subscription Identifier) is skipped. */
    skipDelivery?: string;
}

let mosquittoBroker: Promise<Mosquitto> | null = null;
let embeddedBroker: Promise<EmbeddedBroker> | null = null;
after(async () => {
    if (mosquittoBroker) await (await mosquittoBroker.catch(() => null))?.dispose();
    if (embeddedBroker) await (await embeddedBroker.catch(() => null))?.stop();
});

const MOSQUITTO: Target = {
    name: 'Mosquitto',
    port: async () => {
        // Unlimited queues, so that no QoS 0 delivery is dropped while the subscriber reads.
        mosquittoBroker ??= startMosquitto({ extraConfig: ['max_queued_messages 0', 'max_queued_bytes 0'] }).catch((error: Error) => {
            throw new Error(`${error.message}${SEEDED}`);
        });
        return (await mosquittoBroker).port;
    },
    versions: [5, 4],
    departures: MOSQUITTO_DEPARTURES,
    deliveryDepartures: MOSQUITTO_DELIVERY_DEPARTURES,
};

const EMBEDDED: Target = {
    name: 'the embedded broker',
    port: async () => {
        embeddedBroker ??= freePort().then(async (port) => {
            const broker = new EmbeddedBroker('127.0.0.1', port);
            await broker.start();
            return broker;
        });
        return (await embeddedBroker).port;
    },
    versions: [4],
    departures: EMBEDDED_DEPARTURES,
    deliveryDepartures: [],
    skipDelivery:
        'aedes refuses MQTT 5 connections, and on 3.1.1 one connection cannot tell which of its filters matched; ' +
        'test/unit/embedded-broker-topics.test.ts tries the matching the embedded broker adds (retained messages)',
};

function compare(target: Target, seen: Map<string, number>, kind: 'filter' | 'name', version: Version, topics: readonly string[], witnesses: readonly Witness[]): string[] {
    const problems: string[] = [];
    for (let i = 0; i < topics.length; i++) {
        const topic = topics[i];
        const problem = kind === 'filter' ? checkTopicFilter(topic) : checkTopicName(topic);
        const ours: Verdict = problem === null ? 'accept' : 'reject';
        const departure = departureFor(target.departures, kind, version, topic, problem);
        const expected = departure ? departure.verdict : ours;
        const actual = witnesses[i];
        if (actual.verdict !== expected) {
            problems.push(
                `${kind} ${show(topic)} v${version}: package says ${problem ? problem.code : 'valid'}` +
                    `${departure ? ` (departure ${departure.id}: ${target.name} should ${departure.verdict})` : ''}, ${target.name}: ${actual.verdict} (${actual.detail})`,
            );
        } else if (departure) {
            seen.set(departure.id, (seen.get(departure.id) ?? 0) + 1);
        }
    }
    return problems;
}

for (const target of [MOSQUITTO, EMBEDDED]) {
    describe(`topic rules against ${target.name}`, { timeout: 60000 }, () => {
        const departuresSeen = new Map<string, number>();
        for (const version of target.versions) {
            test(`SUBSCRIBE: ${target.name}'s acceptance of ${FILTERS.length} filters agrees with checkTopicFilter (v${version})`, async () => {
                const port = await target.port();
                const witnesses = await subscribeVerdicts(target.name, port, version, FILTERS);
                const problems = compare(target, departuresSeen, 'filter', version, FILTERS, witnesses);
                assert.deepEqual(problems.slice(0, 15), [], `${problems.length} disagreements${SEEDED}`);
                const accepted = witnesses.filter((w) => w.verdict === 'accept').length;
                assert.ok(accepted > 200 && accepted < FILTERS.length - 200, `a poor mix: ${accepted} accepted${SEEDED}`);
            });

            test(`PUBLISH: ${target.name}'s acceptance of ${NAMES.length} names agrees with checkTopicName (v${version})`, async () => {
                const port = await target.port();
                const witnesses = await publishVerdicts(target.name, port, version, NAMES);
                const problems = compare(target, departuresSeen, 'name', version, NAMES, witnesses);
                assert.deepEqual(problems.slice(0, 15), [], `${problems.length} disagreements${SEEDED}`);
            });
        }

        test(`delivery: the filters ${target.name} matches for each published name are those topicMatches says`, { skip: target.skipDelivery }, async () => {
            const port = await target.port();
            // Subscribe to what both call valid (departures aside), plus a shared twin of some.
            const usable = (f: string) => checkTopicFilter(f) === null && departureFor(target.departures, 'filter', 5, f, null) === undefined;
            const valid = FILTERS.filter(usable);
            const twins = valid
                .filter((f) => !f.startsWith('$share/') && random() < 0.25)
                .map((f) => `$share/twin/${f}`)
                .filter(usable);
            const filters = [...valid, ...twins];
            const names = NAMES.filter((n) => checkTopicName(n) === null && departureFor(target.departures, 'name', 5, n, null) === undefined);
            assert.ok(filters.length > 300 && names.length > 200, `a poor corpus: ${filters.length} filters, ${names.length} names${SEEDED}`);

            const subscriber = await RawClient.connect(port, 5, SEEDED);
            const publisher = await RawClient.connect(port, 5, SEEDED);
            try {
                const SENTINEL = filters.length + 1;
                const delivered: Array<Set<number>> = names.map(() => new Set<number>());
                const duplicates: string[] = [];
                let sentinels = 0;
                let sentinelCame = (): void => undefined;
                /** Resolves once `batch` sentinels have come back, the subscriber's link has closed, or 10 s have passed. */
                const sentinelsBack = (batch: number): Promise<void> =>
                    new Promise((resolve) => {
                        let settled = false;
                        const finish = (): void => {
                            if (settled) return;
                            settled = true;
                            clearTimeout(timer);
                            sentinelCame = () => undefined;
                            resolve();
                        };
                        const timer = setTimeout(finish, 10000);
                        sentinelCame = () => {
                            if (sentinels >= batch) finish();
                        };
                        void subscriber.gone.then(finish);
                        sentinelCame();
                    });
                subscriber.onPublish = (p) => {
                    const body = p.payload?.toString() ?? '';
                    const ids = p.properties?.subscriptionIdentifier;
                    const list = ids === undefined ? [] : Array.isArray(ids) ? ids : [ids];
                    if (body === 'end') {
                        if (list.includes(SENTINEL)) {
                            sentinels++;
                            sentinelCame();
                        }
                        return;
                    }
                    const index = /^\d+$/.test(body) ? Number(body) : -1;
                    // Mosquitto's own $SYS messages (to "$SYS/#" filters, say) are not ours.
                    if (index < 0 || index >= names.length || p.topic !== names[index]) return;
                    const set = delivered[index];
                    for (const id of list) {
                        if (set.has(id)) duplicates.push(`${show(names[index])} twice for ${show(filters[id - 1])}`);
                        set.add(id);
                    }
                };
                // One SUBSCRIBE per filter, each with its own Subscription Identifier (index + 1).
                const all = [...filters, 'sentinel-topic'];
                for (let i = 0; i < all.length; i++) {
                    subscriber.send(
                        encode(
                            { cmd: 'subscribe', messageId: 1 + (i % 65535), properties: { subscriptionIdentifier: i + 1 }, subscriptions: [{ topic: all[i], qos: 0 }] },
                            all[i],
                            5,
                        ),
                    );
                }
                for (let i = 0; i < all.length; i++) {
                    const ack = await subscriber.next((p) => p.cmd === 'suback' || p.cmd === 'disconnect');
                    assert.ok(typeof ack !== 'string' && ack.cmd === 'suback' && (ack.granted?.[0] ?? 0x80) < 0x80, `SUBSCRIBE refused: ${JSON.stringify(ack)}${SEEDED}`);
                }
                // Publish every name at QoS 0, in batches closed by a sentinel the subscriber waits for:
                // Mosquitto forwards one client's messages in order.
                const BATCH = 100;
                for (let start = 0, batch = 1; start < names.length; start += BATCH, batch++) {
                    for (let i = start; i < Math.min(names.length, start + BATCH); i++) {
                        publisher.send(encode({ cmd: 'publish', qos: 0, topic: names[i], payload: Buffer.from(String(i)) }, names[i], 5));
                    }
                    publisher.send(encode({ cmd: 'publish', qos: 0, topic: 'sentinel-topic', payload: Buffer.from('end') }, 'sentinel-topic', 5));
                    await sentinelsBack(batch);
                    assert.equal(sentinels, batch, `the sentinel of batch ${batch} did not come back${SEEDED}`);
                }
                assert.deepEqual(duplicates.slice(0, 10), [], `${duplicates.length} duplicate deliveries${SEEDED}`);

                const problems: string[] = [];
                let pairs = 0;
                let matched = 0;
                for (let n = 0; n < names.length; n++) {
                    for (let f = 0; f < filters.length; f++) {
                        pairs++;
                        const ours = topicMatches(filters[f], names[n]);
                        const departure = target.deliveryDepartures.find((d) => d.applies(filters[f], names[n]));
                        const expected = departure ? departure.delivers : ours;
                        const actual = delivered[n].has(f + 1);
                        if (ours) matched++;
                        if (expected !== actual) {
                            problems.push(
                                `${show(filters[f])} ${actual ? 'matched' : 'did not match'} ${show(names[n])} at ${target.name}, topicMatches says ${ours}` +
                                    `${departure ? ` (departure ${departure.id})` : ''}`,
                            );
                        } else if (departure) {
                            departuresSeen.set(departure.id, (departuresSeen.get(departure.id) ?? 0) + 1);
                        }
                    }
                }
                assert.deepEqual(problems.slice(0, Number(process.env.TOPIC_DIFF_SHOW ?? 15)), [], `${problems.length} disagreements in ${pairs} (filter, name) pairs${SEEDED}`);
                assert.ok(matched > 1000, `too few matches to mean much: ${matched}${SEEDED}`);
            } finally {
                subscriber.close();
                publisher.close();
            }
        });

        test('every departure listed was seen', (t) => {
            const unseen = [...target.departures, ...target.deliveryDepartures].filter((d) => !departuresSeen.has(d.id)).map((d) => d.id);
            t.diagnostic(`departures seen: ${JSON.stringify(Object.fromEntries(departuresSeen))}`);
            assert.deepEqual(unseen, [], `departures listed but never seen: ${target.name} may have changed${SEEDED}`);
        });
    });
}
