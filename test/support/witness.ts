import * as mqtt from 'mqtt';

/**
 * A foreign MQTT.js client that records the sequence numbers (the payloads) it receives per topic,
 * on a persistent session so that it misses nothing across a broker restart.
 */
export class Witness {
    readonly received = new Map<string, number[]>();
    private constructor(readonly client: mqtt.MqttClient) {
        client.on('message', (topic, payload) => {
            let list = this.received.get(topic);
            if (!list) this.received.set(topic, (list = []));
            list.push(Number(payload.toString()));
        });
    }

    static async start(port: number, filter: string, options: { qos?: 0 | 1 | 2; clientId?: string; protocolVersion?: 4 | 5 } = {}): Promise<Witness> {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
            clientId: options.clientId ?? `witness-${process.pid}-${Date.now()}`,
            clean: false,
            protocolVersion: options.protocolVersion ?? 4,
            reconnectPeriod: 100,
            ...(options.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 3600 } } : {}),
        });
        const witness = new Witness(client);
        await client.subscribeAsync(filter, { qos: options.qos ?? 2 });
        return witness;
    }

    count(topic: string): number {
        return this.received.get(topic)?.length ?? 0;
    }

    /** Distinct sequence numbers seen on a topic. */
    distinct(topic: string): number {
        return new Set(this.received.get(topic) ?? []).size;
    }

    /**
     * What a delivery guarantee needs to know of one topic: which of 1..expected are missing, how
     * many arrived more than once, and whether first arrivals kept the order they were sent in.
     */
    check(topic: string, expected: number): { missing: number[]; duplicates: number; inOrder: boolean; firstOutOfOrder?: string; late: number } {
        const seen = new Set<number>();
        let duplicates = 0;
        let last = 0;
        let inOrder = true;
        let firstOutOfOrder: string | undefined;
        /** First arrivals that came after a higher number. */
        let late = 0;
        for (const seq of this.received.get(topic) ?? []) {
            if (seen.has(seq)) {
                duplicates++;
                continue;
            }
            seen.add(seq);
            if (seq < last) {
                late++;
                if (inOrder) firstOutOfOrder = `${seq} arrived after ${last}`;
                inOrder = false;
            }
            last = Math.max(last, seq);
        }
        const missing: number[] = [];
        for (let i = 1; i <= expected; i++) if (!seen.has(i)) missing.push(i);
        return { missing, duplicates, inOrder, firstOutOfOrder, late };
    }

    async stop(): Promise<void> {
        await this.client.endAsync(true);
    }
}
