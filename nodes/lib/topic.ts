/**
 * MQTT topic rules: validation of Topic Names and Topic Filters, matching, shared subscriptions and
 * filter coverage, as in MQTT 5.0 and 3.1.1 section 4.7 (Topics), 4.8.2 (Shared Subscriptions) and
 * 1.5.4 (UTF-8 Encoded Strings). Rule ids below are MQTT 5.0's.
 *
 * This module imports nothing: the editor loads its compiled output in the browser without a
 * bundler (scripts/copy-assets.js). Validation and matching run on every message, so they walk the
 * string with charCodeAt and allocate nothing when the topic is fine.
 *
 * Decisions the spec leaves to us:
 * - Characters the spec only discourages (U+0001..U+001F, U+007F..U+009F, non-characters such as
 *   U+FFFF, [MQTT-1.5.4] "SHOULD NOT") are valid. Only U+0000 and ill-formed UTF-8 are refused.
 * - A Topic NAME that begins with "$share/" is valid to publish. No normative rule forbids it: 4.8.2
 *   gives "$share/" a meaning only in a Topic Filter ([MQTT-4.8.2-1]), and the rules for a Topic
 *   Name are [MQTT-4.7.0-1], [MQTT-4.7.3-1..3] and 1.5.4. Such a message can never be delivered,
 *   though: a filter "$share/..." is a shared subscription on its inner filter, and a filter that
 *   starts with a wildcard does not match a name starting with '$' [MQTT-4.7.2-1].
 * - "$share/<group>/<filter>" is a shared subscription on MQTT 3.1.1 too (brokers treat it so).
 */

export type TopicProblemCode =
    | 'empty'
    | 'too-long'
    | 'null-character'
    | 'lone-surrogate'
    | 'wildcard-in-name'
    | 'hash-not-last'
    | 'hash-not-alone'
    | 'plus-not-alone'
    | 'share-no-group'
    | 'share-group-wildcard'
    | 'share-no-filter';

export interface TopicProblem {
    code: TopicProblemCode;
    text: string;
}

/** The most bytes a topic may take in UTF-8 [MQTT-4.7.3-3] (its length prefix is 16 bits). */
export const MAX_TOPIC_BYTES = 65535;

/** The prefix of a shared subscription's Topic Filter [MQTT-4.8.2-1]. */
export const SHARE_PREFIX = '$share/';

/** The English text for each problem code. */
export const TOPIC_PROBLEM_TEXT: { readonly [code in TopicProblemCode]: string } = {
    empty: 'a topic cannot be empty',
    'too-long': 'a topic can be at most 65535 bytes in UTF-8',
    'null-character': 'a topic cannot contain the null character U+0000',
    'lone-surrogate': 'a topic must be valid UTF-8 (it contains a lone surrogate)',
    'wildcard-in-name': "a publish topic cannot contain '+' or '#' - subscribe with mqtt-in to use wildcards",
    'hash-not-last': "'#' must be the last level of a filter",
    'hash-not-alone': "'#' must stand alone in its level, as in 'a/#', not 'a/b#'",
    'plus-not-alone': "'+' must stand alone in its level, as in 'a/+/c', not 'a/b+'",
    'share-no-group': 'a shared subscription needs a group name: $share/<group>/<filter>',
    'share-group-wildcard': "the group name of a shared subscription cannot contain '+' or '#'",
    'share-no-filter': 'a shared subscription needs a filter after the group: $share/<group>/<filter>',
};

// One frozen object per code, so that reporting a problem allocates nothing.
const PROBLEMS: { readonly [code in TopicProblemCode]: TopicProblem } = (() => {
    const out = {} as { [code in TopicProblemCode]: TopicProblem };
    for (const code of Object.keys(TOPIC_PROBLEM_TEXT) as TopicProblemCode[]) {
        out[code] = Object.freeze({ code, text: TOPIC_PROBLEM_TEXT[code] });
    }
    return out;
})();

const SLASH = 0x2f; // '/'
const PLUS = 0x2b; // '+'
const HASH = 0x23; // '#'
const DOLLAR = 0x24; // '$'

/**
 * The checks common to names and filters: UTF-8 length [MQTT-4.7.3-3], U+0000
 * [MQTT-4.7.3-2] [MQTT-1.5.4-2], surrogates [MQTT-1.5.4-1], and, when `filter` is false, wildcards
 * [MQTT-4.7.0-1]; when `filter` is true, the placement of wildcards [MQTT-4.7.1-1] [MQTT-4.7.1-2].
 * Reports the first problem by position, except that a topic that is too long is reported as such.
 */
function scan(topic: string, filter: boolean): TopicProblem | null {
    const length = topic.length;
    // Each UTF-16 unit takes at least one byte: no need to count further.
    if (length > MAX_TOPIC_BYTES) return PROBLEMS['too-long'];
    let bytes = 0;
    let problem: TopicProblem | null = null;
    for (let i = 0; i < length; i++) {
        const c = topic.charCodeAt(i);
        if (c < 0x80) {
            bytes += 1;
            if (problem !== null) continue;
            if (c === 0) {
                problem = PROBLEMS['null-character'];
            } else if (c === PLUS || c === HASH) {
                if (!filter) {
                    problem = PROBLEMS['wildcard-in-name'];
                    continue;
                }
                // A wildcard must fill its level: the characters next to it must be '/' (or none).
                const alone =
                    (i === 0 || topic.charCodeAt(i - 1) === SLASH) &&
                    (i + 1 === length || topic.charCodeAt(i + 1) === SLASH);
                if (c === PLUS) {
                    if (!alone) problem = PROBLEMS['plus-not-alone']; // [MQTT-4.7.1-2]
                } else if (!alone) {
                    problem = PROBLEMS['hash-not-alone']; // [MQTT-4.7.1-1]
                } else if (i + 1 !== length) {
                    problem = PROBLEMS['hash-not-last']; // [MQTT-4.7.1-1]
                }
            }
        } else if (c < 0x800) {
            bytes += 2;
        } else if (c >= 0xd800 && c <= 0xdfff) {
            // A high surrogate followed by a low one is one code point, 4 bytes in UTF-8. Anything
            // else cannot be encoded as well-formed UTF-8 [MQTT-1.5.4-1].
            if (c <= 0xdbff && i + 1 < length) {
                const d = topic.charCodeAt(i + 1);
                if (d >= 0xdc00 && d <= 0xdfff) {
                    bytes += 4;
                    i++;
                    continue;
                }
            }
            bytes += 3;
            if (problem === null) problem = PROBLEMS['lone-surrogate'];
        } else {
            bytes += 3;
        }
    }
    if (bytes > MAX_TOPIC_BYTES) return PROBLEMS['too-long'];
    return problem;
}

/** Why `name` cannot be the Topic Name of a PUBLISH, or null when it can. */
export function checkTopicName(name: string): TopicProblem | null {
    if (name.length === 0) return PROBLEMS.empty; // [MQTT-4.7.3-1]
    return scan(name, false);
}

/** Why `filter` cannot be a Topic Filter of a SUBSCRIBE, or null when it can. */
export function checkTopicFilter(filter: string): TopicProblem | null {
    if (filter.length === 0) return PROBLEMS.empty; // [MQTT-4.7.3-1]
    if (!filter.startsWith(SHARE_PREFIX)) return scan(filter, true);
    // $share/<group>/<filter> [MQTT-4.8.2-1] [MQTT-4.8.2-2]. The whole string is one UTF-8 string
    // (length, U+0000 and surrogates count over all of it); the group is everything up to the next
    // '/', so it cannot contain '/'.
    const groupStart = SHARE_PREFIX.length;
    const slash = filter.indexOf('/', groupStart);
    const groupEnd = slash < 0 ? filter.length : slash;
    if (groupEnd === groupStart) return PROBLEMS['share-no-group']; // [MQTT-4.8.2-1]
    for (let i = groupStart; i < groupEnd; i++) {
        const c = filter.charCodeAt(i);
        if (c === PLUS || c === HASH) return PROBLEMS['share-group-wildcard']; // [MQTT-4.8.2-2]
    }
    // The group must be followed by '/' and a Topic Filter, itself at least one character long
    // [MQTT-4.8.2-2] [MQTT-4.7.3-1].
    if (slash < 0 || slash + 1 === filter.length) return PROBLEMS['share-no-filter'];
    // The rest are the rules of any filter over the whole string: "$share/" and the group hold no
    // wildcard, and the inner filter follows a '/', so its wildcards are judged as at a level start.
    return scan(filter, true);
}

/** null when `name` is a valid Topic Name, else the reason in English. */
export function validateTopicName(name: string): string | null {
    const problem = checkTopicName(name);
    return problem === null ? null : problem.text;
}

/** null when `filter` is a valid Topic Filter (shared or not), else the reason in English. */
export function validateTopicFilter(filter: string): string | null {
    const problem = checkTopicFilter(filter);
    return problem === null ? null : problem.text;
}

/**
 * The group and inner filter of a shared subscription "$share/<group>/<filter>", or null when
 * `filter` is not one (it does not start with "$share/", or has no group or no filter after it).
 * The group and the inner filter are not otherwise validated: use checkTopicFilter for that.
 */
export function parseSharedSubscription(filter: string): { group: string; filter: string } | null {
    const start = sharedFilterStart(filter);
    if (start <= 0) return null;
    return { group: filter.substring(SHARE_PREFIX.length, start - 1), filter: filter.substring(start) };
}

/**
 * Where the inner filter of "$share/<group>/<filter>" starts; 0 when `filter` does not start with
 * "$share/" (an ordinary filter); -1 when it does but has no group or nothing after the group.
 */
function sharedFilterStart(filter: string): number {
    if (!filter.startsWith(SHARE_PREFIX)) return 0;
    const slash = filter.indexOf('/', SHARE_PREFIX.length);
    if (slash <= SHARE_PREFIX.length || slash + 1 >= filter.length) return -1;
    return slash + 1;
}

/**
 * Whether a message published to the Topic Name `name` is delivered to a subscription on the Topic
 * Filter `filter`. "$share/<group>/<filter>" matches like its inner filter. Both are expected to be
 * valid (validate them once, not on every match); for invalid ones the answer is unspecified, but
 * it is false for an empty name and for "$share/..." without a group or an inner filter.
 */
export function topicMatches(filter: string, name: string): boolean {
    const nameLength = name.length;
    if (nameLength === 0) return false;
    let f = sharedFilterStart(filter);
    if (f < 0) return false;
    const filterLength = filter.length;
    if (f === filterLength) return false;
    // A filter starting with a wildcard does not match a name starting with '$' [MQTT-4.7.2-1].
    if (name.charCodeAt(0) === DOLLAR) {
        const c = filter.charCodeAt(f);
        if ((c === PLUS || c === HASH) && (f + 1 === filterLength || filter.charCodeAt(f + 1) === SLASH)) {
            return false;
        }
    }
    let n = 0;
    // Invariant: f and n are both at the start of a level.
    for (;;) {
        const c = filter.charCodeAt(f);
        const wholeLevel = f + 1 === filterLength || filter.charCodeAt(f + 1) === SLASH;
        if (c === HASH && wholeLevel) return true; // this level and all below [MQTT-4.7.1-1]
        if (c === PLUS && wholeLevel) {
            // Any one level, including an empty one [MQTT-4.7.1-2].
            f++;
            while (n < nameLength && name.charCodeAt(n) !== SLASH) n++;
        } else {
            while (f < filterLength && n < nameLength) {
                const fc = filter.charCodeAt(f);
                if (fc !== name.charCodeAt(n)) return false;
                if (fc === SLASH) break;
                f++;
                n++;
            }
            // Both levels must end here.
            if (f < filterLength && filter.charCodeAt(f) !== SLASH) return false;
            if (n < nameLength && name.charCodeAt(n) !== SLASH) return false;
        }
        // f and n are each at a '/' or at the end.
        if (n === nameLength) {
            if (f === filterLength) return true;
            // The name has no more levels: "<...>/#" still matches, '#' includes the parent level.
            return f + 2 === filterLength && filter.charCodeAt(f + 1) === HASH;
        }
        if (f === filterLength) return false;
        f++;
        n++;
    }
}

/**
 * Whether every Topic Name matched by the filter `narrower` is also matched by `broader`, so that a
 * subscription on `broader` alone receives everything a subscription on `narrower` would. Both are
 * expected to be valid filters; when either is invalid the answer is false unless they are the same
 * string. A shared subscription ("$share/...") neither covers nor is covered by another filter (its
 * messages are shared with other sessions), except by the identical string.
 */
export function filterCovers(broader: string, narrower: string): boolean {
    if (broader === narrower) return true;
    if (broader.startsWith(SHARE_PREFIX) || narrower.startsWith(SHARE_PREFIX)) return false;
    if (checkTopicFilter(broader) !== null || checkTopicFilter(narrower) !== null) return false;
    const b = broader.split('/');
    const n = narrower.split('/');
    // Names starting with '$' are matched by `narrower` only if its first level is literal and
    // starts with '$' [MQTT-4.7.2-1]; then `broader` must not start with a wildcard either, which
    // the comparison of literal levels below ensures, except for the '#' case handled here.
    const narrowerDollar = n[0].charCodeAt(0) === DOLLAR;
    for (let i = 0; ; i++) {
        if (i === b.length && i === n.length) return true; // same levels, each one covered
        const bl = b[i];
        if (bl === '#') {
            // Matches every name with at least i levels (at least one when i is 0): all names
            // `narrower` can match from here on, the parent level included [MQTT-4.7.1-1].
            return !(i === 0 && narrowerDollar);
        }
        if (i === n.length) {
            // `narrower` matches names of exactly i levels; `broader` needs more ('#' handled above).
            return false;
        }
        const nl = n[i];
        if (nl === '#') {
            // `narrower` matches names of any depth >= i. Only a trailing '#' in `broader` matches
            // arbitrarily deep names, but "+/#" there also matches all of them when no name has
            // exactly i levels: at the root (i = 0), and after a first empty level ("/#": the
            // parent would be the empty name, which is not a topic [MQTT-4.7.3-1]).
            return (
                (i === 0 || (i === 1 && n[0] === '')) &&
                b.length === i + 2 &&
                b[i] === '+' &&
                b[i + 1] === '#'
            );
        }
        if (i === b.length) return false; // `narrower` has more levels than `broader`.
        if (bl === '+') {
            if (i === 0 && narrowerDollar) return false; // [MQTT-4.7.2-1]
        } else if (bl !== nl) {
            return false; // a literal level only covers itself (not '+')
        }
    }
}
