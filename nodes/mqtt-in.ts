/** The mqtt-in node: subscribes its topic filter through the broker-config's shared connection and
 * sends each message that arrives into the flow, its payload converted by the chosen datatype. */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { BrokerHandle } from './broker-handle';
import type { InboundMessage, Subscriber } from './lib/connection';
import { receivedMsgProperties } from './lib/message-properties';
import { bufferToPayload, normalizeDatatype } from './lib/payload';
import { checkTopicFilter } from './lib/topic';
import { parseQoS } from './qos';

interface MqttInDef extends NodeDef {
    topic?: string;
    qos?: string | number;
    datatype?: string;
    broker?: string;
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

        const filter = typeof config.topic === 'string' ? config.topic : '';
        const problem = checkTopicFilter(filter);
        if (problem) {
            const why = broker.text(`topic.${problem.code}`, {}, problem.text);
            return fail(RED._('mqtt-in.errors.invalid-filter', { topic: filter, reason: why }));
        }
        // An unset QoS is the core node's default, 2.
        const qos = config.qos === undefined || config.qos === '' ? 2 : parseQoS(config.qos);
        if (qos === null) return fail(RED._('mqtt-in.errors.invalid-qos', { qos: String(config.qos) }));
        const datatype = normalizeDatatype(config.datatype);
        if (datatype === null) return fail(RED._('mqtt-in.errors.invalid-datatype', { datatype: String(config.datatype) }));

        const subscriber: Subscriber = {
            filter,
            qos,
            deliver(message: InboundMessage): void {
                const converted = bufferToPayload(message.payload, datatype, message.properties);
                const msg: NodeMessage & { qos: number; retain: boolean } = {
                    topic: message.topic,
                    payload: converted.payload,
                    qos: message.qos,
                    retain: message.retain,
                    // MQTT 5 properties under the core node's msg names (none on MQTT 3.1.1).
                    ...receivedMsgProperties(message.properties),
                };
                if (!converted.ok) {
                    node.error(RED._('mqtt-in.errors.invalid-json', { topic: message.topic, reason: converted.error }), msg);
                    return;
                }
                node.send(msg);
            },
            refused(why: string): void {
                fail(RED._('mqtt-in.errors.subscribe-failed', { topic: filter, reason: why }));
            },
        };

        broker.register(node);
        broker.connection?.subscribe(subscriber);

        node.on('close', (removed: boolean, done: () => void) => {
            broker.connection?.unsubscribe(subscriber, { now: removed });
            broker.deregister(node).finally(done);
        });
    }

    RED.nodes.registerType('mqtt-in', MqttInNode);
};
