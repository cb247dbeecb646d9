/** mqtt-in's input: msg.action connect, disconnect, subscribe, unsubscribe and getSubscriptions. */
import type { Node, NodeAPI, NodeMessage } from 'node-red';
import type { BrokerHandle } from './broker-handle';
import { actionErrorText, runConnectionAction } from './connection-action';
import { IN_ACTIONS, parseAction, parseSubscriptions, parseUnsubscriptions } from './lib/actions';
import type { DynamicSubscriptions } from './lib/dynamic-subscriptions';

type ActionMessage = NodeMessage & { action?: unknown; broker?: unknown; subscriptions?: unknown };

export function handleInActions(RED: NodeAPI, node: Node, broker: BrokerHandle, dynamic: DynamicSubscriptions): void {
    node.on('input', (msg: ActionMessage, send: (msg: NodeMessage) => void, done: (err?: Error) => void) => {
        const fail = (err: unknown): void => done(new Error(actionErrorText(RED, 'mqtt-in', broker, err)));
        try {
            const action = parseAction(msg.action, IN_ACTIONS);
            if (action === 'connect' || action === 'disconnect') return runConnectionAction(RED, 'mqtt-in', broker, action, msg, done);
            if (action === 'getSubscriptions') {
                msg.topic = 'subscriptions';
                msg.payload = dynamic.list();
                send(msg);
                return done();
            }
            const connection = broker.connection;
            if (!connection) return done(new Error(broker.configError ?? RED._('mqtt-in.errors.no-broker')));
            if (action === 'subscribe') dynamic.subscribe(connection, parseSubscriptions(msg.topic));
            else dynamic.unsubscribe(connection, parseUnsubscriptions(msg.topic));
            // As in the core node: a Complete node can read what the node holds now.
            msg.subscriptions = dynamic.list();
            done();
        } catch (err) {
            fail(err);
        }
    });
}
