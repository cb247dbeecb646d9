/** Reconnect delays: doubling from `initialMs` up to `maxMs`, each spread by +/- `jitter` so that
 * many clients of one broker do not all come back in the same instant after it restarts. */
export interface BackoffOptions {
    initialMs: number;
    maxMs: number;
    /** 0..1: the fraction of each delay that is randomised. */
    jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30000, jitter: 0.2 };

export class Backoff {
    private attempt = 0;
    constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF, private readonly random: () => number = Math.random) {}

    /** The delay before the next attempt; each call counts one attempt. */
    next(): number {
        const base = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.attempt, 30));
        this.attempt++;
        const spread = base * this.options.jitter;
        return Math.max(0, Math.round(base - spread + this.random() * 2 * spread));
    }

    get attempts(): number {
        return this.attempt;
    }

    reset(): void {
        this.attempt = 0;
    }
}
