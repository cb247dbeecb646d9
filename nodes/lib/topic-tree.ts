import { SHARE_PREFIX, checkTopicFilter, parseSharedSubscription } from './topic';

/**
 * A node of the trie: one per distinct level path of the filters added. `'+'` and `'#'` are keys
 * like any other level (a valid filter has them only as whole levels, and a Topic Name never has
 * them, so they cannot be confused with a literal level).
 */
class Node<T> {
    children: Map<string, Node<T>> | null = null;
    /** The subscriptions whose (inner) filter ends at this node: original filter string → values. */
    entries: Map<string, Set<T>> | null = null;
    constructor(
        readonly parent: Node<T> | null,
        readonly key: string,
    ) {}
}

/**
 * Subscriptions indexed by topic filter, in a trie over the filter's levels, so that finding the
 * subscriptions a message matches costs in proportion to the levels of its topic (times the
 * wildcard branches taken), not to the number of subscriptions.
 *
 * Follows the rules of topicMatches ('./topic'): empty levels are levels, '#' also matches its parent
 * level [MQTT-4.7.1-1], a filter starting with a wildcard does not match a topic starting with '$'
 * [MQTT-4.7.2-1], and "$share/<group>/<filter>" is indexed under its inner filter; `match` passes
 * the filter as it was added.
 */
export class TopicTree<T> {
    private readonly root = new Node<T>(null, '');
    private pairs = 0;
    private nodes = 1;

    /**
     * Adds `value` under `filter`; adding the same pair again does nothing. Throws on an invalid
     * filter (validate it first with checkTopicFilter to report the problem nicely).
     */
    add(filter: string, value: T): void {
        const problem = checkTopicFilter(filter);
        if (problem !== null) throw new Error(`invalid topic filter ${JSON.stringify(filter)}: ${problem.text}`);
        let node = this.root;
        const inner = innerFilter(filter);
        let start = 0;
        for (;;) {
            const slash = inner.indexOf('/', start);
            const level = slash < 0 ? inner.substring(start) : inner.substring(start, slash);
            let children = node.children;
            if (children === null) children = node.children = new Map();
            let child = children.get(level);
            if (child === undefined) {
                child = new Node<T>(node, level);
                children.set(level, child);
                this.nodes++;
            }
            node = child;
            if (slash < 0) break;
            start = slash + 1;
        }
        let entries = node.entries;
        if (entries === null) entries = node.entries = new Map();
        let values = entries.get(filter);
        if (values === undefined) entries.set(filter, (values = new Set()));
        if (!values.has(value)) {
            values.add(value);
            this.pairs++;
        }
    }

    /** Removes the pair; false when it was not there. Nodes left empty are removed. */
    remove(filter: string, value: T): boolean {
        const node = this.find(filter);
        if (node === null || node.entries === null) return false;
        const values = node.entries.get(filter);
        if (values === undefined || !values.delete(value)) return false;
        this.pairs--;
        if (values.size === 0) {
            node.entries.delete(filter);
            if (node.entries.size === 0) node.entries = null;
            this.prune(node);
        }
        return true;
    }

    /**
     * Calls `visit` once for each (value, filter) pair whose filter matches the Topic Name `topic`.
     * Nothing matches an empty topic. Do not add or remove during the visit.
     */
    match(topic: string, visit: (value: T, filter: string) => void): void {
        if (topic.length === 0 || this.root.children === null) return;
        this.walk(this.root, topic, 0, visit);
    }

    /** How many (filter, value) pairs are stored. */
    get size(): number {
        return this.pairs;
    }

    /** How many trie nodes exist, the root included (1 when empty): for tests of pruning. */
    get nodeCount(): number {
        return this.nodes;
    }

    /** All (filter, values) stored, in no particular order. */
    *filters(): IterableIterator<[string, ReadonlySet<T>]> {
        const stack: Node<T>[] = [this.root];
        for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
            if (node.entries !== null) yield* node.entries;
            if (node.children !== null) for (const child of node.children.values()) stack.push(child);
        }
    }

    /**
     * Visits the subscriptions below `node` that match the rest of the topic, topic[start..], which
     * is at least one level (possibly empty). `node` has children.
     */
    private walk(node: Node<T>, topic: string, start: number, visit: (value: T, filter: string) => void): void {
        const children = node.children!;
        const slash = topic.indexOf('/', start);
        // '+' or '#' as the first level of a filter does not match a topic starting with '$'.
        const wildcards = start !== 0 || topic.charCodeAt(0) !== 0x24;
        if (wildcards) {
            const hash = children.get('#');
            if (hash !== undefined) emit(hash, visit); // this level and any below
            const plus = children.get('+');
            if (plus !== undefined) this.descend(plus, topic, slash, visit);
        }
        const level = slash < 0 ? (start === 0 ? topic : topic.substring(start)) : topic.substring(start, slash);
        const exact = children.get(level);
        if (exact !== undefined) this.descend(exact, topic, slash, visit);
    }

    /** `node` matched the level that ends at `slash` (-1: the last level of the topic). */
    private descend(node: Node<T>, topic: string, slash: number, visit: (value: T, filter: string) => void): void {
        if (slash < 0) {
            emit(node, visit);
            // "a/#" also matches "a" [MQTT-4.7.1-1].
            const hash = node.children === null ? undefined : node.children.get('#');
            if (hash !== undefined) emit(hash, visit);
        } else if (node.children !== null) {
            this.walk(node, topic, slash + 1, visit);
        }
    }

    private find(filter: string): Node<T> | null {
        let node = this.root;
        const inner = innerFilter(filter);
        let start = 0;
        for (;;) {
            const slash = inner.indexOf('/', start);
            const level = slash < 0 ? inner.substring(start) : inner.substring(start, slash);
            const child = node.children === null ? undefined : node.children.get(level);
            if (child === undefined) return null;
            node = child;
            if (slash < 0) return node;
            start = slash + 1;
        }
    }

    /** Removes `node` and its ancestors while they hold nothing. */
    private prune(node: Node<T>): void {
        while (node.parent !== null && node.entries === null && node.children === null) {
            const parent = node.parent;
            parent.children!.delete(node.key);
            if (parent.children!.size === 0) parent.children = null;
            this.nodes--;
            node = parent;
        }
    }
}

function emit<T>(node: Node<T>, visit: (value: T, filter: string) => void): void {
    if (node.entries === null) return;
    for (const [filter, values] of node.entries) {
        for (const value of values) visit(value, filter);
    }
}

/** The filter to index: the inner filter of a shared subscription, else the filter itself. */
function innerFilter(filter: string): string {
    if (!filter.startsWith(SHARE_PREFIX)) return filter;
    const shared = parseSharedSubscription(filter);
    return shared === null ? filter : shared.filter;
}
