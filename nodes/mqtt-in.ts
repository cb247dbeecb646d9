/** The mqtt-in node: subscribes its topic filter through the broker-config's shared connection and
 * sends each message that arrives into the flow, its payload converted by the chosen datatype. */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { BrokerHandle } from './broker-handle';
import { handleInActions } from './mqtt-in-actions';
import { nodeSubscriptionOptions, subscriptionOptionsOf } from './lib/actions';
import type { InboundMessage, Subscriber } from './lib/connection';
import { DynamicSubscriptions } from './lib/dynamic-subscriptions';
import { receivedMsgProperties } from './lib/message-properties';
import { bufferToPayload, InputDatatype, normalizeDatatype } from './lib/payload';
import { encodeStatus, renderStatus, StatusPart } from './lib/status-text';
import { checkTopicFilter } from './lib/topic';
import { parseQoS } from './qos';

interface MqttInDef extends NodeDef {
    topic?: string;
    qos?: string | number;
    datatype?: string;
    broker?: string;
    /** 1: dynamic mode, the node subscribes what msg.action asks for (the core's flow property). */
    inputs?: number | string;
    nl?: boolean | string;
    rap?: boolean | string;
    rh?: number | string;
}

export = function (RED: NodeAPI): void {
    function MqttInNode(this: Node, config: MqttInDef): void {
        RED.nodes.createNode(this, config);
        const node = this;
        const broker = config.broker ? (RED.nodes.getNode(config.broker) as BrokerHandle | null) : null;
        /** The runtime's words for a status (its log): broker-config keys through the broker's catalogue. */
        const translate = (key: string, params: Record<string, string>): string =>
            broker && key.startsWith('broker-config.') ? broker.text(key.slice('broker-config.'.length), params) : RED._(key, params);
        /** The problem in the log, in the runtime's language, and in the status, in the editor's. */
        const fail = (key: string, params: Record<string, StatusPart> = {}): void => {
            const parts: StatusPart[] = [[`mqtt-in.errors.${key}`, params]];
            node.error(renderStatus(parts, translate));
            node.status({ fill: 'red', shape: 'ring', text: encodeStatus(parts) });
        };
        if (!broker) return fail('no-broker');

        const dynamic = Number(config.inputs) === 1;
        const filter = typeof config.topic === 'string' ? config.topic : '';
        const problem = dynamic ? null : checkTopicFilter(filter);
        if (problem) {
            return fail('invalid-filter', { topic: filter, reason: [`broker-config.topic.${problem.code}`] });
        }
        // An unset QoS is the core node's default, 2.
        const qos = config.qos === undefined || config.qos === '' ? 2 : parseQoS(config.qos);
        if (qos === null) return fail('invalid-qos', { qos: String(config.qos) });
        const datatype = normalizeDatatype(config.datatype);
        if (datatype === null) return fail('invalid-datatype', { datatype: String(config.datatype) });
        let options;
        try {
            options = nodeSubscriptionOptions(config);
        } catch (err) {
            return fail('invalid-option', { reason: (err as Error).message });
        }

        /** Sends one message on, its payload converted by `datatype` (the node's, or a dynamic subscription's own). */
        const deliverAs = (datatype: InputDatatype) => (message: InboundMessage): void => {
            const converted = bufferToPayload(message.payload, datatype, message.properties);
            const msg: NodeMessage & { qos: number; retain: boolean } = {
                topic: message.topic,
                payload: converted.payload,
                qos: message.qos,
                retain: message.retain,
            };
            // MQTT 5 properties under the core node's msg names (none on MQTT 3.1.1).
            if (message.properties) Object.assign(msg, receivedMsgProperties(message.properties));
            if (!converted.ok) {
                node.error(RED._('mqtt-in.errors.invalid-json', { topic: message.topic, reason: converted.error }), msg);
                return;
            }
            node.send(msg);
        };
        const subscriber: Subscriber = {
            filter,
            qos,
            options,
            deliver: deliverAs(datatype),
            refused(why: string): void {
                fail('subscribe-failed', { topic: filter, reason: why });
            },
        };

        const dynamicSubscriptions = new DynamicSubscriptions(node, (topic, sub, owner) => ({
            ...subscriber,
            filter: topic,
            qos: sub.qos,
            options: subscriptionOptionsOf(sub),
            deliver: deliverAs(sub.datatype ?? datatype),
            owner,
            refused: (why: string) => fail('subscribe-failed', { topic, reason: why }),
        }));
        broker.register(node, 'subscriber');
        if (!dynamic) broker.connection?.subscribe(subscriber);
        handleInActions(RED, node, broker, dynamicSubscriptions);

        node.on('close', (removed: boolean, done: () => void) => {
            if (broker.connection) dynamicSubscriptions.unsubscribe(broker.connection, true, { now: removed });
            broker.connection?.unsubscribe(subscriber, { now: removed });
            broker.deregister(node).finally(done);
        });
    }

    RED.nodes.registerType('mqtt-in', MqttInNode);
};
