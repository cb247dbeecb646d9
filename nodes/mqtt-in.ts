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
        const fail = (text: string): void => {
            node.error(text);
            node.status({ fill: 'red', shape: 'ring', text });
        };
        if (!broker) return fail(RED._('mqtt-in.errors.no-broker'));

        const dynamic = Number(config.inputs) === 1;
        const filter = typeof config.topic === 'string' ? config.topic : '';
        const problem = dynamic ? null : checkTopicFilter(filter);
        if (problem) {
            const why = broker.text(`topic.${problem.code}`, {}, problem.text);
            return fail(RED._('mqtt-in.errors.invalid-filter', { topic: filter, reason: why }));
        }
        // An unset QoS is the core node's default, 2.
        const qos = config.qos === undefined || config.qos === '' ? 2 : parseQoS(config.qos);
        if (qos === null) return fail(RED._('mqtt-in.errors.invalid-qos', { qos: String(config.qos) }));
        const datatype = normalizeDatatype(config.datatype);
        if (datatype === null) return fail(RED._('mqtt-in.errors.invalid-datatype', { datatype: String(config.datatype) }));
        let options;
        try {
            options = nodeSubscriptionOptions(config);
        } catch (err) {
            return fail(RED._('mqtt-in.errors.invalid-option', { reason: (err as Error).message }));
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
                fail(RED._('mqtt-in.errors.subscribe-failed', { topic: filter, reason: why }));
            },
        };

        const dynamicSubscriptions = new DynamicSubscriptions(node, (topic, sub, owner) => ({
            ...subscriber,
            filter: topic,
            qos: sub.qos,
            options: subscriptionOptionsOf(sub),
            deliver: deliverAs(sub.datatype ?? datatype),
            owner,
            refused: (why: string) => fail(RED._('mqtt-in.errors.subscribe-failed', { topic, reason: why })),
        }));
        broker.register(node);
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
