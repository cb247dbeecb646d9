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
    const plan = new Map<string, QoS>();
    const plain: string[] = [];
    for (const [filter, qos] of byFilter) {
        if (parseSharedSubscription(filter) === null) plain.push(filter);
        else plan.set(filter, qos);
    }
    const index = new FilterIndex(plain);
    const coversOf = new Map<string, string[]>();
    for (const filter of plain) {
        const covers = index.candidates(filter).filter((other) => other !== filter && filterCovers(other, filter));
        coversOf.set(filter, covers);
        // Of two filters that cover each other (such as '#' and '+/#') the first in sort order stays.
        const folded = covers.some((other) => !(filterCovers(filter, other) && filter < other));
        if (!folded) plan.set(filter, byFilter.get(filter) as QoS);
    }
    // Raise each kept filter to the QoS of everything it covers.
    for (const filter of plain) {
        if (plan.has(filter)) continue;
        const qos = byFilter.get(filter) as QoS;
        for (const cover of coversOf.get(filter) as string[]) {
            const keptQos = plan.get(cover);
            if (keptQos !== undefined && qos > keptQos) plan.set(cover, qos);
        }
    }
    return plan;
}

interface IndexNode {
    children: Map<string, IndexNode>;
    /** Filters whose last level is this node. */
    ends: string[];
}

/**
 * The filters arranged by level, to find those that may cover a given filter without comparing it
 * with every other one (1000 filters: a few milliseconds instead of half a second). It only narrows
 * the search: filterCovers decides.
 */
class FilterIndex {
    private readonly root: IndexNode = { children: new Map(), ends: [] };

    constructor(filters: string[]) {
        for (const filter of filters) {
            let node = this.root;
            for (const level of filter.split('/')) {
                let child = node.children.get(level);
                if (!child) node.children.set(level, (child = { children: new Map(), ends: [] }));
                node = child;
            }
            node.ends.push(filter);
        }
    }

    /** Filters that might cover `filter`: at each level a '#' (covering the rest), a '+' or the same level. */
    candidates(filter: string): string[] {
        const levels = filter.split('/');
        const found: string[] = [];
        const walk = (node: IndexNode, i: number): void => {
            // Wildcards at the first level do not match '$' topics [MQTT-4.7.2-1].
            const wildcardsAllowed = i > 0 || !levels[0].startsWith('$');
            const hash = wildcardsAllowed ? node.children.get('#') : undefined;
            if (hash) found.push(...hash.ends);
            if (i === levels.length) {
                found.push(...node.ends);
                return;
            }
            const level = levels[i];
            if (level === '#') return;
            const plus = wildcardsAllowed ? node.children.get('+') : undefined;
            if (plus) walk(plus, i + 1);
            if (level !== '+') {
                const same = node.children.get(level);
                if (same) walk(same, i + 1);
            }
        };
        walk(this.root, 0);
        return found;
    }
}
