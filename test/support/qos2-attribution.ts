/**
 * Who lost a QoS 2 message, from the packets recorded on the publisher's and the subscriber's
 * connections and the broker's saves. The client's part of QoS 2 is: PUBLISH (again with DUP on a
 * new connection until PUBREC), PUBREL after PUBREC (again until PUBCOMP), one packet id per
 * message, nothing after PUBCOMP. A PUBREC with a reason code of 0x80 or more (MQTT 5) ends the
 * exchange with nothing kept by the broker: the message may then go again under a new packet id. Where the client did all of that, a message that never reached
 * the subscriber was lost by the broker.
 */
import type { BrokerSave } from './broker-saves';
import type { SeenPacket } from './packet-recorder';

export type Attribution =
    // The client's faults: any of these fails the test.
    | 'client: never sent'
    | 'client: sent under more than one packet id'
    | 'client: never acknowledged (PUBREC), and not sent again'
    | 'client: PUBREC answered with no PUBREL'
    | 'client: PUBREL never completed (PUBCOMP)'
    | 'client: published again after PUBCOMP'
    // The broker's losses.
    | "broker: acknowledged after its last save before the crash (the save window)"
    | 'broker: completed the exchange, never sent it to the subscriber'
    | 'broker: sent to the subscriber under a packet id the subscriber still held for an unfinished QoS 2 exchange'
    // Neither: the subscriber's client (not this package) did not take what the broker sent it.
    | 'subscriber: sent to it, not taken';

export const CLIENT_FAULT = /^client:/;

interface Crash {
    /** When the broker was killed. */
    at: number;
}

/** The packets of the exchange that a PUBLISH of `payload` under packet id `id` began. */
function exchangeOf(published: SeenPacket[], payload: string, first: SeenPacket): SeenPacket[] {
    const id = first.messageId;
    // The exchange ends where the same packet id starts another message.
    const reuse = published.find((p) => p.at > first.at && p.toBroker && p.cmd === 'publish' && p.messageId === id && p.payload !== payload);
    const until = reuse ? reuse.at : Infinity;
    return published.filter((p) => p.messageId === id && p.at >= first.at && p.at < until);
}

const refused = (p: SeenPacket) => !p.toBroker && p.cmd === 'pubrec' && (p.reasonCode ?? 0) >= 0x80;

/** The publisher's packets of one message, by its payload: every PUBLISH, and the exchange under its last packet id. */
function packetsOf(published: SeenPacket[], payload: string): { publishes: SeenPacket[]; exchange: SeenPacket[]; idsRefused: boolean } {
    const publishes = published.filter((p) => p.toBroker && p.cmd === 'publish' && p.payload === payload);
    if (publishes.length === 0) return { publishes, exchange: [], idsRefused: true };
    const firstById = new Map<number | undefined, SeenPacket>();
    for (const p of publishes) if (!firstById.has(p.messageId)) firstById.set(p.messageId, p);
    const firsts = [...firstById.values()];
    // Every packet id but the last must have been refused by the broker (nothing kept) before the next one.
    const idsRefused = firsts.slice(0, -1).every((first) => exchangeOf(published, payload, first).some(refused));
    return { publishes, exchange: exchangeOf(published, payload, firsts[firsts.length - 1]), idsRefused };
}

/** Checks the client's side of one message; undefined when it did its part. */
export function clientFault(published: SeenPacket[], payload: string): Attribution | undefined {
    const { publishes, exchange, idsRefused } = packetsOf(published, payload);
    if (publishes.length === 0) return 'client: never sent';
    if (!idsRefused) return 'client: sent under more than one packet id';
    const pubrec = exchange.find((p) => !p.toBroker && p.cmd === 'pubrec' && !refused(p));
    if (!pubrec) return 'client: never acknowledged (PUBREC), and not sent again';
    const pubrel = exchange.find((p) => p.toBroker && p.cmd === 'pubrel' && p.at >= pubrec.at);
    if (!pubrel) return 'client: PUBREC answered with no PUBREL';
    const pubcomp = exchange.find((p) => !p.toBroker && p.cmd === 'pubcomp' && p.at >= pubrel.at);
    if (!pubcomp) return 'client: PUBREL never completed (PUBCOMP)';
    if (publishes.some((p) => p.at > pubcomp.at)) return 'client: published again after PUBCOMP';
    return undefined;
}

/** Why a message never reached the subscriber. */
export function attributeMissing(
    payload: string,
    published: SeenPacket[],
    subscribed: SeenPacket[],
    crashes: Crash[],
    lastSaveBefore: (at: number) => BrokerSave | undefined,
): Attribution {
    const fault = clientFault(published, payload);
    if (fault) return fault;
    const { exchange } = packetsOf(published, payload);
    const pubrec = exchange.find((p) => !p.toBroker && p.cmd === 'pubrec' && !refused(p)) as SeenPacket;
    const crash = crashes.find((c) => c.at > pubrec.at);
    if (crash) {
        const save = lastSaveBefore(crash.at);
        if (!save || pubrec.at >= save.start) return "broker: acknowledged after its last save before the crash (the save window)";
    }
    const toSubscriber = subscribed.find((p) => !p.toBroker && p.cmd === 'publish' && p.payload === payload);
    if (toSubscriber) {
        // MQTT 4.3.3: until PUBREL, a receiver takes a PUBLISH with the same packet id as a duplicate.
        const earlier = subscribed.filter((p) => !p.toBroker && p.cmd === 'publish' && p.messageId === toSubscriber.messageId && p.at < toSubscriber.at).pop();
        const released = earlier && subscribed.some((p) => !p.toBroker && p.cmd === 'pubrel' && p.messageId === toSubscriber.messageId && p.at > earlier.at && p.at < toSubscriber.at);
        if (earlier && !released) return 'broker: sent to the subscriber under a packet id the subscriber still held for an unfinished QoS 2 exchange';
        return 'subscriber: sent to it, not taken';
    }
    return 'broker: completed the exchange, never sent it to the subscriber';
}
