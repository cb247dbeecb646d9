/** The mqtt-out node: checks each message's topic, QoS, retain flag and payload, publishes it through
 * the broker-config's shared connection, and calls done() when the broker has it (or with the reason
 * it was not sent, for a Catch node). */
import type { Node, NodeAPI, NodeDef, NodeMessage } from 'node-red';
import type { BrokerHandle } from './broker-handle';
import { actionErrorText, runConnectionAction } from './connection-action';
import { OUT_ACTIONS, parseAction, showValue } from './lib/actions';
import type { OutgoingMessage } from './lib/delivery/types';
import { NodePropertyFields, PublishProperties, publishProperties, readNodeProperties } from './lib/message-properties';
import { payloadToBuffer } from './lib/payload';
import { lostOnStopReporter } from './lost-on-stop';
import { encodeStatus } from './lib/status-text';
import { checkTopicName } from './lib/topic';
import { parseQoS } from './qos';

interface MqttOutDef extends NodeDef, NodePropertyFields {
    topic?: string;
    qos?: string | number;
    retain?: string | boolean;
    broker?: string;
}

type OutMessage = NodeMessage & { qos?: unknown; retain?: unknown; action?: unknown; broker?: unknown; [property: string]: unknown };

export = function (RED: NodeAPI): void {
    function MqttOutNode(this: Node, config: MqttOutDef): void {
        RED.nodes.createNode(this, config);
        const node = this;
        const broker = config.broker ? (RED.nodes.getNode(config.broker) as BrokerHandle | null) : null;
        if (!broker) {
            node.status({ fill: 'red', shape: 'ring', text: encodeStatus([['mqtt-out.errors.no-broker']]) });
        } else {
            broker.register(node);
        }
        const fixedTopic = typeof config.topic === 'string' ? config.topic : '';
        const fixedQos = config.qos === undefined || config.qos === '' ? null : parseQoS(config.qos);
        const fixedRetain = config.retain === true || config.retain === 'true' ? true : config.retain === false || config.retain === 'false' ? false : null;
        // The MQTT 5 properties of the node's own fields; a field it cannot use refuses every MQTT 5 message.
        let fixedProperties: PublishProperties = {};
        let fixedPropertiesProblem: string | null = null;
        try {
            fixedProperties = readNodeProperties(config);
        } catch (err) {
            fixedPropertiesProblem = RED._('mqtt-out.errors.invalid-property', { reason: (err as Error).message });
        }

        /** The MQTT 5 properties to publish with (none on MQTT 3.1.1, which has none, as in the core node), or the reason they cannot be. */
        function prepareProperties(msg: OutMessage, handle: BrokerHandle): PublishProperties | undefined | string {
            if (handle.connection?.protocolVersion !== 5) return undefined;
            if (fixedPropertiesProblem) return fixedPropertiesProblem;
            try {
                return publishProperties(fixedProperties, msg);
            } catch (err) {
                return RED._('mqtt-out.errors.invalid-property', { reason: (err as Error).message });
            }
        }

        /** The message to publish, or the reason it cannot be. */
        function prepare(msg: OutMessage, handle: BrokerHandle): OutgoingMessage | string {
            const properties = prepareProperties(msg, handle);
            if (typeof properties === 'string') return properties;
            // The node's own topic wins when set, as in Node-RED's core mqtt out.
            let topic: unknown = fixedTopic !== '' ? fixedTopic : msg.topic;
            if (!topic && properties?.responseTopic) {
                // No topic but a response topic (MQTT 5): a reply goes there, as in the core node.
                topic = properties.responseTopic;
                delete properties.responseTopic;
            }
            if (topic === undefined || topic === null || topic === '') return RED._('mqtt-out.errors.no-topic');
            if (typeof topic !== 'string') {
                return RED._('mqtt-out.errors.invalid-topic', { topic: String(topic), reason: 'msg.topic must be a string' });
            }
            const problem = checkTopicName(topic);
            if (problem) {
                return RED._('mqtt-out.errors.invalid-topic', { topic, reason: handle.text(`topic.${problem.code}`, {}, problem.text) });
            }
            let qos = fixedQos;
            if (qos === null) {
                qos = msg.qos === undefined || msg.qos === null || msg.qos === '' ? 0 : parseQoS(msg.qos);
                if (qos === null) return RED._('mqtt-out.errors.invalid-qos', { qos: showValue(msg.qos) });
            }
            let retain = fixedRetain;
            if (retain === null) {
                const wanted = msg.retain;
                if (wanted === undefined || wanted === null || wanted === '' || wanted === false || wanted === 'false') retain = false;
                else if (wanted === true || wanted === 'true') retain = true;
                else return RED._('mqtt-out.errors.invalid-retain', { retain: showValue(wanted) });
            }
            let payload: Buffer;
            try {
                payload = payloadToBuffer(msg.payload);
            } catch (err) {
                return RED._('mqtt-out.errors.payload', { reason: (err as Error).message });
            }
            return properties ? { topic, payload, qos, retain, properties } : { topic, payload, qos, retain };
        }

        const lostOnStop = lostOnStopReporter(node, (count, reason) => RED._('mqtt-out.errors.lost-on-stop', { count: String(count), reason }));

        node.on('input', (msg: OutMessage, _send: unknown, done: (err?: Error) => void) => {
            if (!broker) return done(new Error(RED._('mqtt-out.errors.no-broker')));
            // As in the core node: a message with an action controls the connection instead of publishing.
            if (msg.action) {
                let action;
                try {
                    action = parseAction(msg.action, OUT_ACTIONS);
                } catch (err) {
                    return done(new Error(actionErrorText(RED, 'mqtt-out', broker, err)));
                }
                return runConnectionAction(RED, 'mqtt-out', broker, action as 'connect' | 'disconnect', msg, done);
            }
            const connection = broker.connection;
            if (!connection) return done(new Error(broker.configError ?? RED._('mqtt-out.errors.no-broker')));
            const prepared = prepare(msg, broker);
            if (typeof prepared === 'string') return done(new Error(prepared));
            connection.send(prepared, (err) => {
                if (!err) return done();
                const failed = new Error(RED._('mqtt-out.errors.publish-failed', { topic: prepared.topic, reason: err.message }));
                if (err.code === 'closed') lostOnStop(msg, failed, done);
                else done(failed);
            });
        });

        node.on('close', (_removed: boolean, done: () => void) => {
            if (!broker) return done();
            broker.deregister(node).finally(done);
        });
    }

    RED.nodes.registerType('mqtt-out', MqttOutNode);
};
