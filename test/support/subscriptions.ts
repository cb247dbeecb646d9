/**
 * Waits for the broker's SUBACK instead of sleeping. A Connection emits 'subscribed' (filter, qos)
 * once the broker confirmed a subscription; its `brokerFilters` holds a filter from the moment the
 * SUBSCRIBE is sent, so it cannot tell whether the broker has it yet. The confirmations are recorded
 * for every Connection from its creation on, so a wait that begins after the SUBACK came still ends.
 */
import { EventEmitter } from 'events';
import * as path from 'path';

interface ConnectionLike extends EventEmitter {
    readonly brokerFilters: Map<string, number>;
}

// The same module file the nodes load, so its prototype is theirs.
const { Connection } = require(path.join(__dirname, '..', '..', 'dist', 'lib', 'connection'));

const confirmed = new WeakMap<object, Set<string>>();
const emit: (this: object, event: string | symbol, ...args: unknown[]) => boolean = Connection.prototype.emit;
Connection.prototype.emit = function (this: object, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'subscribed') {
        let filters = confirmed.get(this);
        if (!filters) confirmed.set(this, (filters = new Set()));
        filters.add(String(args[0]));
    }
    return emit.call(this, event, ...args);
};

/** Whether the broker has confirmed `filter` on this connection since it was made. */
export function isConfirmed(connection: object, filter: string): boolean {
    return confirmed.get(connection)?.has(filter) ?? false;
}

/** Resolves once `done()` holds, checking now and after each SUBACK; rejects with `what` after the timeout. */
function afterSubacks(connection: ConnectionLike, done: () => boolean, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
        const check = (): void => {
            if (!done()) return;
            stop();
            resolve();
        };
        const timer = setTimeout(() => {
            stop();
            reject(new Error(`timed out waiting for ${what}`));
        }, timeoutMs);
        const stop = (): void => {
            clearTimeout(timer);
            connection.off('subscribed', check);
        };
        connection.on('subscribed', check);
        check();
    });
}

/** Resolves once the broker has confirmed a subscription to exactly `filter` on this connection. */
export function subscribedOn(connection: ConnectionLike, filter: string, timeoutMs = 10000): Promise<void> {
    return afterSubacks(connection, () => isConfirmed(connection, filter), `the SUBACK for ${filter}`, timeoutMs);
}

/**
 * Resolves once the connection holds at least one filter at the broker and the broker has confirmed
 * each of them: for flows whose filters the connection may fold into fewer (MQTT 3.1.1).
 */
export function allSubscribedOn(connection: ConnectionLike, timeoutMs = 10000): Promise<void> {
    const done = (): boolean => {
        const filters = [...connection.brokerFilters.keys()];
        return filters.length > 0 && filters.every((filter) => isConfirmed(connection, filter));
    };
    return afterSubacks(connection, done, 'the SUBACK for every filter', timeoutMs);
}
