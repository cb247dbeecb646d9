import type { QoS } from './lib/subscription-plan';

/** 0, 1 or 2 (as a number or its text) -> QoS; anything else -> null. */
export function parseQoS(value: unknown): QoS | null {
    if (value === 0 || value === '0') return 0;
    if (value === 1 || value === '1') return 1;
    if (value === 2 || value === '2') return 2;
    return null;
}
