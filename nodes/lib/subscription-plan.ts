import { filterCovers, parseSharedSubscription } from './topic';

export type QoS = 0 | 1 | 2;

/**
 * Which filters to subscribe to at the broker for the filters the flow's nodes want.
 *
 * Each distinct filter is subscribed once, at the highest QoS any node asks for. When
 * `coverOverlaps` is set (MQTT 3.1.1, which has no subscription identifiers), a filter that another
 * wanted filter covers is left out, so that the broker sends one copy of each message: a broker may
 * send one copy per matching subscription [MQTT-3.3.5-1], and without identifiers the copies cannot
 * be told apart. The covering filter then carries the highest QoS of all it covers; each node still
 * sees min(publish QoS, its own QoS).
 */
export function planBrokerSubscriptions(wanted: Iterable<{ filter: string; qos: QoS }>, coverOverlaps: boolean): Map<string, QoS> {
    const byFilter = new Map<string, QoS>();
    for (const { filter, qos } of wanted) {
        const current = byFilter.get(filter);
        if (current === undefined || qos > current) byFilter.set(filter, qos);
    }
    if (!coverOverlaps || byFilter.size < 2) return byFilter;

    // Shared subscriptions are never folded into another: the group decides who gets each message.
    const plain = [...byFilter.keys()].filter((f) => parseSharedSubscription(f) === null).sort();
    const plan = new Map<string, QoS>();
    for (const [filter, qos] of byFilter) {
        if (parseSharedSubscription(filter) !== null) plan.set(filter, qos);
    }
    for (const filter of plain) {
        // Of two filters that cover each other (such as '#' and '+/#') the first in sort order stays.
        const cover = plain.find((other) => other !== filter && filterCovers(other, filter) && !(filterCovers(filter, other) && filter < other));
        if (cover === undefined) {
            const qos = byFilter.get(filter) as QoS;
            if (qos > (plan.get(filter) ?? -1)) plan.set(filter, qos);
        }
    }
    // Raise each kept filter to the QoS of everything it covers.
    for (const filter of plain) {
        if (plan.has(filter)) continue;
        const qos = byFilter.get(filter) as QoS;
        for (const [kept, keptQos] of plan) {
            if (parseSharedSubscription(kept) === null && filterCovers(kept, filter) && qos > keptQos) plan.set(kept, qos);
        }
    }
    return plan;
}
