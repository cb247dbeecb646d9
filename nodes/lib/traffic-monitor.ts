/**
 * What the MQTT sidebar shows of one connection's traffic: messages in and out (totals and the rate
 * of the last seconds) and the topics seen, each with its last payload, QoS and retain flag. Bounded:
 * at most `maxTopics` topics (the one seen longest ago goes first) and `maxPayloadBytes` bytes of each
 * last payload.
 */
import { looksLikeText } from './payload';

/** Sees each message that arrives and each one handed over to be published. */
export interface TrafficObserver {
    received(topic: string, payload: Buffer, qos: number, retain: boolean): void;
    published(topic: string, payload: Buffer, qos: number, retain: boolean): void;
}

export interface MonitorLimits {
    maxTopics: number;
    maxPayloadBytes: number;
}

export const DEFAULT_MONITOR_LIMITS: MonitorLimits = { maxTopics: 1000, maxPayloadBytes: 256 };

/** The rates are averaged over this many whole seconds. */
export const RATE_WINDOW_SECONDS = 5;

/** A payload as the sidebar shows it: text, or the first bytes in hex. `size` is the whole payload's. */
export type PayloadView = { kind: 'text'; text: string; size: number; truncated: boolean } | { kind: 'binary'; hex: string; size: number; truncated: boolean };

/** The last message seen on a topic. */
export interface TopicSeen {
    topic: string;
    payload: PayloadView;
    qos: number;
    retain: boolean;
    /** 'in': it arrived from the broker; 'out': a node published it. */
    direction: 'in' | 'out';
    /** Milliseconds since the epoch. */
    at: number;
    /** Messages seen on the topic since it entered the list. */
    count: number;
}

/** One level of the topic tree: `topic` and `last` are set where a topic seen ends. */
export interface TopicTreeNode {
    level: string;
    topic?: string;
    last?: Omit<TopicSeen, 'topic'>;
    children: TopicTreeNode[];
}

export interface TrafficSnapshot {
    totals: { in: number; out: number };
    /** Messages per second, averaged over the last RATE_WINDOW_SECONDS whole seconds. */
    rates: { in: number; out: number };
    topicCount: number;
    /** Topics dropped to stay within maxTopics. */
    evicted: number;
    limits: MonitorLimits;
    tree: TopicTreeNode[];
}

interface Entry {
    /** Holds the first `kept` bytes of the last payload (its capacity may be larger). */
    bytes: Buffer;
    kept: number;
    size: number;
    qos: number;
    retain: boolean;
    direction: 'in' | 'out';
    at: number;
    count: number;
}

const EMPTY = Buffer.alloc(0);
/** The smallest payload buffer allocated, so that a topic whose payloads grow a little keeps its buffer. */
const MIN_CAPACITY = 32;

/** Counts per whole second, for the last RATE_WINDOW_SECONDS + 1 seconds. */
class SecondCounts {
    private readonly seconds = new Array<number>(RATE_WINDOW_SECONDS + 1).fill(-1);
    private readonly counts = new Array<number>(RATE_WINDOW_SECONDS + 1).fill(0);

    add(second: number): void {
        const slot = second % this.seconds.length;
        if (this.seconds[slot] !== second) {
            this.seconds[slot] = second;
            this.counts[slot] = 0;
        }
        this.counts[slot]++;
    }

    /** The mean count of the RATE_WINDOW_SECONDS whole seconds before `second`. */
    rate(second: number): number {
        let sum = 0;
        for (let i = 0; i < this.seconds.length; i++) {
            const s = this.seconds[i];
            if (s < second && s >= second - RATE_WINDOW_SECONDS) sum += this.counts[i];
        }
        return sum / RATE_WINDOW_SECONDS;
    }
}

export class TrafficMonitor implements TrafficObserver {
    readonly limits: MonitorLimits;
    private readonly topics = new Map<string, Entry>();
    private readonly inCounts = new SecondCounts();
    private readonly outCounts = new SecondCounts();
    private totalIn = 0;
    private totalOut = 0;
    private evicted = 0;
    /** The topic of the last message: seen again, it is already last in `topics`. */
    private latest: string | null = null;

    constructor(
        limits: Partial<MonitorLimits> = {},
        private readonly now: () => number = Date.now,
    ) {
        this.limits = { ...DEFAULT_MONITOR_LIMITS, ...limits };
    }

    received(topic: string, payload: Buffer, qos: number, retain: boolean): void {
        const at = this.now();
        this.totalIn++;
        this.inCounts.add(Math.floor(at / 1000));
        this.remember(topic, payload, qos, retain, 'in', at);
    }

    published(topic: string, payload: Buffer, qos: number, retain: boolean): void {
        const at = this.now();
        this.totalOut++;
        this.outCounts.add(Math.floor(at / 1000));
        this.remember(topic, payload, qos, retain, 'out', at);
    }

    /** The topics seen, most recent last. */
    topicNames(): string[] {
        return [...this.topics.keys()];
    }

    snapshot(): TrafficSnapshot {
        const second = Math.floor(this.now() / 1000);
        return {
            totals: { in: this.totalIn, out: this.totalOut },
            rates: { in: this.inCounts.rate(second), out: this.outCounts.rate(second) },
            topicCount: this.topics.size,
            evicted: this.evicted,
            limits: { ...this.limits },
            tree: this.tree(),
        };
    }

    private remember(topic: string, payload: Buffer, qos: number, retain: boolean, direction: 'in' | 'out', at: number): void {
        const kept = payload.length < this.limits.maxPayloadBytes ? payload.length : this.limits.maxPayloadBytes;
        let entry = this.topics.get(topic);
        if (entry) {
            entry.count++;
            // Deleting and setting again puts the topic at the end: the map's order is least recently seen first.
            if (topic !== this.latest) {
                this.topics.delete(topic);
                this.topics.set(topic, entry);
            }
        } else {
            if (this.limits.maxTopics === 0) return;
            // The evicted entry and its buffer are used again, so a stream of new topics allocates little.
            entry = this.topics.size >= this.limits.maxTopics ? this.evictOldest() : { bytes: EMPTY, kept: 0, size: 0, qos, retain, direction, at, count: 0 };
            entry.count = 1;
            this.topics.set(topic, entry);
        }
        this.latest = topic;
        // A copy of its own: a payload is often a slice of a large read buffer, and a pooled copy would keep a pool slab alive.
        if (entry.bytes.length < kept) entry.bytes = Buffer.allocUnsafeSlow(Math.min(this.limits.maxPayloadBytes, Math.max(kept, MIN_CAPACITY)));
        payload.copy(entry.bytes, 0, 0, kept);
        entry.kept = kept;
        entry.size = payload.length;
        entry.qos = qos;
        entry.retain = retain;
        entry.direction = direction;
        entry.at = at;
    }

    private evictOldest(): Entry {
        const [topic, entry] = this.topics.entries().next().value as [string, Entry];
        this.topics.delete(topic);
        this.evicted++;
        return entry;
    }

    /** The topics seen as a tree of their levels, each level's children sorted by name. */
    private tree(): TopicTreeNode[] {
        const root: TopicTreeNode = { level: '', children: [] };
        const childMaps = new Map<TopicTreeNode, Map<string, TopicTreeNode>>();
        for (const [topic, entry] of this.topics) {
            let node = root;
            for (const level of topic.split('/')) {
                let children = childMaps.get(node);
                if (!children) childMaps.set(node, (children = new Map()));
                let child = children.get(level);
                if (!child) {
                    child = { level, children: [] };
                    children.set(level, child);
                    node.children.push(child);
                }
                node = child;
            }
            node.topic = topic;
            node.last = { payload: viewPayload(entry.bytes.subarray(0, entry.kept), entry.size), qos: entry.qos, retain: entry.retain, direction: entry.direction, at: entry.at, count: entry.count };
        }
        sortTree(root);
        return root.children;
    }
}

function sortTree(node: TopicTreeNode): void {
    node.children.sort((a, b) => (a.level < b.level ? -1 : a.level > b.level ? 1 : 0));
    for (const child of node.children) sortTree(child);
}

/** How many bytes of a payload the sidebar shows in hex. */
const HEX_BYTES = 32;

/**
 * `bytes` (the first bytes kept of a payload of `size` bytes) as text when mqtt-in would take them
 * for text, else as hex. A multi-byte character cut by the limit is left out, not taken for binary.
 */
export function viewPayload(bytes: Buffer, size: number): PayloadView {
    const kept = size > bytes.length ? withoutCutCharacter(bytes) : bytes;
    if (looksLikeText(kept)) return { kind: 'text', text: kept.toString('utf8'), size, truncated: size > kept.length };
    return { kind: 'binary', hex: bytes.subarray(0, HEX_BYTES).toString('hex'), size, truncated: size > HEX_BYTES };
}

/** The bytes without a UTF-8 sequence the end cuts short. */
function withoutCutCharacter(bytes: Buffer): Buffer {
    // Back over at most 3 continuation bytes to the lead byte of the last character.
    let lead = bytes.length - 1;
    while (lead >= 0 && lead >= bytes.length - 4 && (bytes[lead] & 0xc0) === 0x80) lead--;
    if (lead < 0) return bytes;
    const first = bytes[lead];
    const length = first < 0x80 ? 1 : first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
    return lead + length > bytes.length ? bytes.subarray(0, lead) : bytes;
}
