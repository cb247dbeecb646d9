/**
 * Several brokers for one broker-config: the Broker field holds one a line (the flow property
 * `broker` stays a string), and a connect action's msg.broker.broker (or .url) may give a list. The
 * first is where the client connects first; the others are the alternatives it moves to when one is
 * lost or refuses (broker-rotation.ts). Each line is read with the rules of a single Broker field
 * (broker-settings.ts): a host name, which takes the Protocol, Port and Path fields, or a whole URL.
 */
import { BrokerConfigProps, brokerLines, readMode, resolveBrokerSettings } from './broker-settings';
import type { BrokerEndpoint } from './broker-rotation';

/** The brokers in the order they are tried; one for the embedded broker, which listens on the first line's address. */
export function resolveBrokerEndpoints(props: BrokerConfigProps): BrokerEndpoint[] {
    const lines = brokerLines(props.broker);
    if (readMode(props.mode) === 'embedded' || lines.length < 2) return [endpointOf(props)];
    return lines.map((line) => endpointOf({ ...props, broker: line }));
}

function endpointOf(props: BrokerConfigProps): BrokerEndpoint {
    const { protocol, host, port, path, url, address } = resolveBrokerSettings(props);
    return { protocol, host, port, path, url, address };
}

/** A list of brokers (msg.broker.broker as an array) as the Broker field's text: one a line. */
export function brokerFieldText(value: string | readonly string[]): string {
    return typeof value === 'string' ? value : value.join('\n');
}
