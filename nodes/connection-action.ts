/** The connect and disconnect actions that mqtt-in and mqtt-out both take in msg.action. */
import type { NodeAPI } from 'node-red';
import type { BrokerHandle } from './broker-handle';
import { ActionError, parseBrokerOverride } from './lib/actions';
import { BrokerSettingsError } from './lib/broker-settings';

/** A problem of an action in words, from the catalogue of `nodeType` (or the broker's for a settings rule). */
export function actionErrorText(RED: NodeAPI, nodeType: string, broker: BrokerHandle | null, err: unknown): string {
    if (err instanceof ActionError) {
        return RED._(`${nodeType}.action-errors.${err.code}`, err.params);
    }
    if (err instanceof BrokerSettingsError && broker) {
        const params = Object.fromEntries(Object.entries(err.problem.params).map(([k, v]) => [k, String(v)]));
        return RED._(`${nodeType}.action-errors.broker-settings`, { reason: broker.text(`validation.${err.problem.code}`, params, err.problem.text) });
    }
    return (err as Error).message;
}

/**
 * `connect`: opens the connection and completes once it is up. With msg.broker the connection's
 * settings change for this runtime first; while connected that needs `force` (or a disconnect
 * first), as in the core node. `disconnect`: closes the connection until the next connect.
 */
export function runConnectionAction(
    RED: NodeAPI,
    nodeType: string,
    broker: BrokerHandle,
    action: 'connect' | 'disconnect',
    msg: { broker?: unknown },
    done: (err?: Error) => void,
): void {
    const connection = broker.connection;
    if (!connection) return done(new Error(broker.configError ?? RED._(`${nodeType}.errors.no-broker`)));
    const fail = (err: unknown): void => done(new Error(actionErrorText(RED, nodeType, broker, err)));
    if (action === 'disconnect') {
        connection.disconnect().then(() => done(), fail);
        return;
    }
    let target;
    try {
        const override = parseBrokerOverride(msg.broker);
        if (override && connection.connected && !override.force) {
            throw new ActionError('already-connected', 'already connected: disconnect first, or set msg.broker.force to reconnect with the new settings');
        }
        target = override ? broker.targetFor(override) : undefined;
    } catch (err) {
        return fail(err);
    }
    const cycle = target && connection.connected ? connection.disconnect() : Promise.resolve();
    cycle.then(() => connection.connect(target)).then(() => done(), fail);
}
