/**
 * At a stop or a full redeploy the memory store refuses every message still waiting to be sent, all
 * in the same moment. Each goes to the Catch nodes, as any error with its msg; a Catch node that is
 * stopping too cannot pass it on, so one log line per node also sums them up, instead of one line
 * each. (A durable store keeps them for the next start: broker-config says so once.)
 */
import type { Node, NodeMessage } from 'node-red';

/** The part of Node-RED's flow object that Node.error uses: hands an error to the Catch nodes, true when one took it. */
interface ErrorHandlingFlow {
    handleError(node: Node, error: Error, msg: NodeMessage): boolean;
}

export type LostOnStop = (msg: NodeMessage, error: Error, done: (err?: Error) => void) => void;

export function lostOnStopReporter(node: Node, summary: (count: number, reason: string) => string): LostOnStop {
    let lost = 0;
    let reason = '';
    return (msg, error, done) => {
        const flow = (node as unknown as { _flow?: Partial<ErrorHandlingFlow> })._flow;
        if (typeof flow?.handleError !== 'function') return done(error);
        flow.handleError(node, error, msg);
        if (lost++ === 0) {
            reason = error.message;
            setImmediate(() => {
                node.error(summary(lost, reason));
                lost = 0;
            });
        }
    };
}
