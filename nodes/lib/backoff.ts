/**
 * Reconnect delays. A broker that restarts is usually back within a few seconds, so the first
 * attempts come soon: after a link that was up is lost, the first attempt waits a quarter of
 * `initialMs`; the next `STEADY_ATTEMPTS` wait `initialMs` each; from then on each waits twice as
 * long as the one before, up to `maxMs`. Each delay is spread by +/- `jitter` so that many clients
 * of one broker do not all come back in the same instant after it restarts.
 *
 * A link counts as made only once it has lasted `PROVEN_LINK_MS`. One the broker closes sooner is
 * a failed attempt and the series goes on: a broker that accepts a client and then drops it at once
 * (RabbitMQ when the node holding the client's subscription queue is down, ejabberd refusing a
 * `$share` filter, two clients with one client id taking the session from each other) is tried
 * again later and later, not four times a second for ever.
 */
export interface BackoffOptions {
    initialMs: number;
    maxMs: number;
    /** 0..1: the fraction of each delay that is randomised. */
    jitter: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 30000, jitter: 0.2 };

/** Attempts that wait the first delay before the doubling starts. */
export const STEADY_ATTEMPTS = 3;
/** The first attempt after losing a link that was up waits this fraction of the first delay. */
export const QUICK_RETRY_FRACTION = 0.25;
/** A link that lasted less than this was a failed attempt, not a link that was lost. */
export const PROVEN_LINK_MS = 2000;

export class Backoff {
    private attempt = 0;
    private quickFirst = false;
    private upSince = 0;
    constructor(private readonly options: BackoffOptions = DEFAULT_BACKOFF, private readonly random: () => number = Math.random) {}

    /** The delay before the next attempt; each call counts one attempt. */
    next(): number {
        let base: number;
        if (this.quickFirst && this.attempt === 0) {
            base = this.options.initialMs * QUICK_RETRY_FRACTION;
        } else {
            const steadyDone = this.attempt - (this.quickFirst ? 1 : 0) - (STEADY_ATTEMPTS - 1);
            base = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(Math.max(0, steadyDone), 30));
        }
        this.attempt++;
        const spread = base * this.options.jitter;
        return Math.max(0, Math.round(base - spread + this.random() * 2 * spread));
    }

    get attempts(): number {
        return this.attempt;
    }

    /** Starts over: the next series of attempts follows a failed first connection. */
    reset(): void {
        this.attempt = 0;
        this.quickFirst = false;
    }

    /** Starts over after a link that was up was lost: its first attempt comes quickly. */
    resetAfterLinkLoss(): void {
        this.attempt = 0;
        this.quickFirst = true;
    }

    /** The broker accepted the client (CONNACK) at `now`. */
    linkUp(now: number): void {
        this.upSince = now;
    }

    /**
     * The link that was up is lost at `now`. One that had lasted `PROVEN_LINK_MS` starts a new
     * series with a quick first attempt; a shorter one counts as one more failed attempt.
     * Returns how long it lasted and which it was.
     */
    linkLost(now: number): { lastedMs: number; proven: boolean } {
        const lastedMs = Math.max(0, now - this.upSince);
        const proven = lastedMs >= PROVEN_LINK_MS;
        if (proven) this.resetAfterLinkLoss();
        return { lastedMs, proven };
    }
}
