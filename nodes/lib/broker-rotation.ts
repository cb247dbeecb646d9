/**
 * Which broker the client tries next, among the brokers of one broker-config (broker-list.ts).
 *
 * Round robin: when the link to a broker is lost, or an attempt at one fails, the client moves to
 * the next broker in the list and tries it at once; only when every broker of the list has failed in
 * turn (a round) does it wait the reconnect backoff (backoff.ts) before the next round. A lost broker
 * thus costs no delay while another one is up, and a whole cluster that is down is not hammered.
 * With one broker every failure ends a round, so it waits the backoff each time.
 */
import type { MqttClient } from 'mqtt';
import { Qos2Failover } from './delivery/qos2-failover';
import type { PacketStore } from './delivery/types';

export interface BrokerEndpoint {
    protocol: 'mqtt' | 'mqtts' | 'ws' | 'wss';
    host: string;
    port: number;
    /** The WebSocket path; '' for mqtt/mqtts. */
    path: string;
    url: string;
    /** host:port, for status texts. */
    address: string;
}

export type NextAttempt = 'at-once' | 'after-backoff';

export class BrokerRotation {
    private index = 0;
    /** Brokers that failed in turn since the last round ended. */
    private failedInRound = 0;
    /** Attempts failed since a broker last accepted the client, for the status. */
    failures = 0;

    constructor(
        readonly brokers: readonly BrokerEndpoint[],
        /** Puts QoS 2 messages the lost broker had acknowledged (PUBREC) back as PUBLISH for the next one. */
        private readonly qos2: Qos2Failover | null = null,
    ) {
        if (brokers.length === 0) throw new Error('a broker rotation needs at least one broker');
    }

    /** A rotation for several brokers, over the connection's outgoing store; null for one (or none given), which needs none. */
    static of(brokers: readonly BrokerEndpoint[] | undefined, outgoing: PacketStore): BrokerRotation | null {
        return brokers && brokers.length > 1 ? new BrokerRotation(brokers, Qos2Failover.of(outgoing)) : null;
    }

    get current(): BrokerEndpoint {
        return this.brokers[this.index];
    }

    /** The current broker accepted the client (or the link was ended on purpose): a later loss starts a new round from the broker after it. */
    reset(): void {
        this.failedInRound = 0;
        this.failures = 0;
    }

    /** The current broker refused, did not answer or was lost: moves on to the next one and says when to try it. */
    failed(): NextAttempt {
        this.index = (this.index + 1) % this.brokers.length;
        this.failedInRound++;
        this.failures++;
        if (this.failedInRound < this.brokers.length) return 'at-once';
        this.failedInRound = 0;
        return 'after-backoff';
    }

    /** After a failure: points `client` at the next broker, and says which and when to try it. */
    moveOn(client: MqttClient, givenServername: string | undefined): { broker: BrokerEndpoint; when: NextAttempt } {
        const when = this.failed();
        pointClientAt(client, this.current, givenServername);
        this.qos2?.publishAgain();
        return { broker: this.current, when };
    }
}

/**
 * Points an MQTT.js client at `broker` for its next reconnect(): its stream builder reads these
 * options at each attempt. A TLS server name the stream builder derived from the last host is
 * replaced by the new host's (`servername`, when given in the settings, stays).
 */
export function pointClientAt(client: MqttClient, broker: BrokerEndpoint, givenServername: string | undefined): void {
    const options = client.options as Record<string, unknown>;
    options.protocol = broker.protocol;
    options.host = broker.host;
    options.hostname = broker.host;
    options.port = broker.port;
    if (broker.path) options.path = broker.path;
    else delete options.path;
    if (givenServername) options.servername = givenServername;
    else delete options.servername;
}
