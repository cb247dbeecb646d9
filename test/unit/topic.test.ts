import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
    checkTopicFilter,
    checkTopicName,
    filterCovers,
    parseSharedSubscription,
    topicMatches,
    validateTopicFilter,
    validateTopicName,
    TOPIC_PROBLEM_TEXT,
    TopicProblemCode,
} from '../../dist/lib/topic';
import { allTopics } from '../support/topics';

// Rule ids are MQTT 5.0's (section 4.7 Topic Names and Topic Filters, 4.8.2 Shared Subscriptions,
// 1.5.4 UTF-8 Encoded String); "4.7.1.2 example" means a non-normative example of that section.
// 3.1.1 has the same rules and examples (its ids differ: wildcards in names is [MQTT-4.7.1-1] there).

const long = (n: number, unit = 'a') => unit.repeat(n);

// [rule and reason, input, expected problem code or null]
const names: Array<[string, string, TopicProblemCode | null]> = [
    ['[MQTT-4.7.3-1] a topic name is at least one character long', '', 'empty'],
    ['[MQTT-4.7.3-1] one character is enough', 'a', null],
    ['4.7.1.1 levels separated by /', 'sport/tennis/player1', null],
    ['4.7.3 a topic name may include the space character', 'sport tennis/player 1', null],
    ['4.7.3 a topic name consisting only of / is valid', '/', null],
    ['4.7.3 a leading / creates a distinct (empty) level', '/finance', null],
    ['4.7.3 a trailing / creates a distinct (empty) level', 'finance/', null],
    ['4.7.1.1 adjacent separators make a zero-length level', 'a//b', null],
    ['4.7.1.1 only separators: all levels empty', '///', null],
    ['[MQTT-4.7.0-1] no + in a topic name', 'sport/+', 'wildcard-in-name'],
    ['[MQTT-4.7.0-1] no # in a topic name', 'sport/#', 'wildcard-in-name'],
    ['[MQTT-4.7.0-1] no wildcard even inside a level', 'a+b', 'wildcard-in-name'],
    ['[MQTT-4.7.0-1] no wildcard even inside a level (#)', 'c#', 'wildcard-in-name'],
    ['[MQTT-4.7.0-1] a lone + is a wildcard', '+', 'wildcard-in-name'],
    ['[MQTT-4.7.0-1] a lone # is a wildcard', '#', 'wildcard-in-name'],
    ['[MQTT-4.7.3-2] no U+0000', 'a\u0000b', 'null-character'],
    ['[MQTT-4.7.3-2] [MQTT-1.5.4-2] U+0000 alone', '\u0000', 'null-character'],
    ['[MQTT-1.5.4-1] a lone high surrogate is not UTF-8', 'a\ud800', 'lone-surrogate'],
    ['[MQTT-1.5.4-1] a lone low surrogate is not UTF-8', '\udc00/a', 'lone-surrogate'],
    ['[MQTT-1.5.4-1] swapped surrogates are not UTF-8', '\udc00\ud800', 'lone-surrogate'],
    ['[MQTT-1.5.4-1] a surrogate pair is one code point (U+1F600)', 'emoji/\ud83d\ude00', null],
    ['1.5.4 U+0001..U+001F are only discouraged (SHOULD NOT), so valid', 'a\u0001b\u001f', null],
    ['1.5.4 U+007F..U+009F are only discouraged, so valid', '\u007f/\u0085/\u009f', null],
    ['1.5.4 non-characters (U+FFFF, U+FDD0) are only discouraged, so valid', '\uffff/\ufdd0', null],
    ['1.5.4 the non-character U+1FFFE is only discouraged, so valid', '\ud83f\udffe', null],
    ['[MQTT-1.5.4-3] U+FEFF is an ordinary character', '\ufeff', null],
    ['[MQTT-4.7.3-3] 65535 bytes is the most', long(65535), null],
    ['[MQTT-4.7.3-3] 65536 bytes is too long', long(65536), 'too-long'],
    ['[MQTT-4.7.3-3] length counts UTF-8 bytes: 32767 x 2-byte + 1 = 65535', long(32767, '\u00e9') + 'a', null],
    ['[MQTT-4.7.3-3] length counts UTF-8 bytes: 32768 x 2-byte = 65536', long(32768, '\u00e9'), 'too-long'],
    ['[MQTT-4.7.3-3] length counts UTF-8 bytes: 21845 x 3-byte = 65535', long(21845, '\u20ac'), null],
    ['[MQTT-4.7.3-3] length counts UTF-8 bytes: 16384 x 4-byte = 65536', long(16384, '\ud83d\ude00'), 'too-long'],
    ['[MQTT-4.7.3-3] 16383 x 4-byte + 3 = 65535', long(16383, '\ud83d\ude00') + 'abc', null],
    ['4.7.3 no limit on levels other than the length', long(30000, 'a/') + 'a', null],
    ['4.7.2 a topic name may start with $', '$SYS/broker/clients', null],
    ['4.7.3 topic names are case sensitive (any case is valid)', 'ACCOUNTS/Accounts', null],
    ['4.8.2 + [MQTT-4.7.0-1]: a name starting with $share/ is not forbidden by any rule', '$share/g/x', null],
    ['4.8.2 "$share" alone is a valid name', '$share', null],
];

const filters: Array<[string, string, TopicProblemCode | null]> = [
    ['[MQTT-4.7.3-1] a topic filter is at least one character long', '', 'empty'],
    ['4.7.1.2 example: "sport/tennis/player1/#" is valid', 'sport/tennis/player1/#', null],
    ['4.7.1.2 example: "#" is valid and receives every message', '#', null],
    ['4.7.1.2 example: "sport/#" is valid', 'sport/#', null],
    ['4.7.1.2 example: "sport/tennis#" is not valid', 'sport/tennis#', 'hash-not-alone'],
    ['4.7.1.2 example: "sport/tennis/#/ranking" is not valid', 'sport/tennis/#/ranking', 'hash-not-last'],
    ['[MQTT-4.7.1-1] # must be the last character', '#/', 'hash-not-last'],
    ['[MQTT-4.7.1-1] # must be last: "#/a"', '#/a', 'hash-not-last'],
    ['[MQTT-4.7.1-1] # on its own or after a separator: "#b"', '#b', 'hash-not-alone'],
    ['[MQTT-4.7.1-1] # after a separator: "a/#b"', 'a/#b', 'hash-not-alone'],
    ['[MQTT-4.7.1-1] "##" is not valid', '##', 'hash-not-alone'],
    ['[MQTT-4.7.1-1] "/#" is valid (after an empty level)', '/#', null],
    ['[MQTT-4.7.1-1] "a//#" is valid', 'a//#', null],
    ['4.7.1.3 example: "+" is valid', '+', null],
    ['4.7.1.3 example: "+/tennis/#" is valid', '+/tennis/#', null],
    ['4.7.1.3 example: "sport+" is not valid', 'sport+', 'plus-not-alone'],
    ['4.7.1.3 example: "sport/+/player1" is valid', 'sport/+/player1', null],
    ['[MQTT-4.7.1-2] + must occupy a whole level: "a/b+"', 'a/b+', 'plus-not-alone'],
    ['[MQTT-4.7.1-2] + must occupy a whole level: "+a"', '+a', 'plus-not-alone'],
    ['[MQTT-4.7.1-2] + must occupy a whole level: "a/+b/c"', 'a/+b/c', 'plus-not-alone'],
    ['[MQTT-4.7.1-2] "++" is not valid', '++', 'plus-not-alone'],
    ['[MQTT-4.7.1-2] "+#" is not valid', '+#', 'plus-not-alone'],
    ['[MQTT-4.7.1-1] "#+" is not valid', '#+', 'hash-not-alone'],
    ['[MQTT-4.7.1-2] + at first and last level, several times', '+/+/+', null],
    ['[MQTT-4.7.1-2] + and # together', '+/#', null],
    ['[MQTT-4.7.1-2] + in an empty-level neighbourhood', '/+/', null],
    ['4.7.3 a filter consisting only of / is valid', '/', null],
    ['4.7.3 empty levels in filters are valid', 'a//b/', null],
    ['[MQTT-4.7.3-2] no U+0000 in a filter', 'a/\u0000', 'null-character'],
    ['[MQTT-1.5.4-1] no lone surrogate in a filter', '+/\udbff', 'lone-surrogate'],
    ['[MQTT-4.7.1-1] a long level ending in # is still not valid', long(65534) + '#', 'hash-not-alone'],
    ['[MQTT-4.7.3-3] "a/.../#" of 65535 bytes is valid', long(65533) + '/#', null],
    ['[MQTT-4.7.3-3] a filter of 65536 bytes is too long', long(65534) + '/#', 'too-long'],
    ['1.5.4 discouraged control characters are valid in filters', '\u0001/+/\u009f', null],
    ['4.7.2 example: "$SYS/#" is valid', '$SYS/#', null],
    ['4.7.2 example: "$SYS/monitor/+" is valid', '$SYS/monitor/+', null],
    ['[MQTT-4.8.2-1] a shared subscription', '$share/consumer1/sport/tennis/+', null],
    ['4.8.2 example: "$share/consumer2/sport/tennis/+"', '$share/consumer2/sport/tennis/+', null],
    ['[MQTT-4.8.2-2] shared filter "#"', '$share/g/#', null],
    ['[MQTT-4.8.2-2] shared filter "/" (one character)', '$share/g//', null],
    ['[MQTT-4.8.2-2] the inner filter may start with $', '$share/g/$SYS/#', null],
    ['[MQTT-4.8.2-1] the group needs at least one character: "$share//a"', '$share//a', 'share-no-group'],
    ['[MQTT-4.8.2-1] the group needs at least one character: "$share/"', '$share/', 'share-no-group'],
    ['[MQTT-4.8.2-2] the group cannot contain +', '$share/+/a', 'share-group-wildcard'],
    ['[MQTT-4.8.2-2] the group cannot contain # (even as the last level)', '$share/#', 'share-group-wildcard'],
    ['[MQTT-4.8.2-2] the group cannot contain + inside', '$share/g+/a', 'share-group-wildcard'],
    ['[MQTT-4.8.2-2] the group must be followed by /', '$share/g', 'share-no-filter'],
    ['[MQTT-4.8.2-2] the / must be followed by a topic filter [MQTT-4.7.3-1]', '$share/g/', 'share-no-filter'],
    ['[MQTT-4.8.2-2] the inner filter follows 4.7: [MQTT-4.7.1-2]', '$share/g/a+', 'plus-not-alone'],
    ['[MQTT-4.8.2-2] the inner filter follows 4.7: [MQTT-4.7.1-1]', '$share/g/#/a', 'hash-not-last'],
    ['[MQTT-4.8.2-2] the inner filter follows 4.7: [MQTT-4.7.3-2]', '$share/g/a\u0000', 'null-character'],
    ['[MQTT-4.8.2-1] "$share" without / is not a shared subscription, an ordinary filter', '$share', null],
    ['[MQTT-4.8.2-1] "$sharex/y" is an ordinary filter', '$sharex/y', null],
    ['4.7.3 case sensitive: "$SHARE/g/a" is an ordinary filter', '$SHARE//+', null],
    ['[MQTT-4.7.3-3] the whole shared filter counts towards 65535 bytes', '$share/g/' + long(65535 - 9), null],
    ['[MQTT-4.7.3-3] the whole shared filter counts: 65536 bytes', '$share/g/' + long(65536 - 9), 'too-long'],
];

// [rule and reason, filter, name, expected]
const matches: Array<[string, string, string, boolean]> = [
    ['4.7.1.2 example: "sport/tennis/player1/#" matches "sport/tennis/player1"', 'sport/tennis/player1/#', 'sport/tennis/player1', true],
    ['4.7.1.2 example: "sport/tennis/player1/#" matches ".../ranking"', 'sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
    ['4.7.1.2 example: "sport/tennis/player1/#" matches ".../score/wimbledon"', 'sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
    ['4.7.1.2 example: "sport/#" also matches the singular "sport" (parent level)', 'sport/#', 'sport', true],
    ['4.7.1.2 "#" matches every topic', '#', 'sport/tennis', true],
    ['4.7.1.2 "#" matches a single empty-levelled topic "/"', '#', '/', true],
    ['[MQTT-4.7.1-1] "a/#" matches "a/" (empty child level)', 'a/#', 'a/', true],
    ['[MQTT-4.7.1-1] "a/#" does not match "ab"', 'a/#', 'ab', false],
    ['[MQTT-4.7.1-1] "a/#" does not match "b/a"', 'a/#', 'b/a', false],
    ['[MQTT-4.7.1-1] "a/b/#" does not match "a" (only one parent level)', 'a/b/#', 'a', false],
    ['[MQTT-4.7.1-1] "/#" matches "/" and "/a" but not "a"', '/#', '/a', true],
    ['[MQTT-4.7.1-1] "/#" does not match "a"', '/#', 'a', false],
    ['[MQTT-4.7.1-1] "/#" matches "/" (an empty child level)', '/#', '/', true],
    ['[MQTT-4.7.1-1] "/#" matches "" levels too: "//"', '/#', '//', true],
    ['4.7.1.3 example: "sport/tennis/+" matches "sport/tennis/player1"', 'sport/tennis/+', 'sport/tennis/player1', true],
    ['4.7.1.3 example: "sport/tennis/+" matches "sport/tennis/player2"', 'sport/tennis/+', 'sport/tennis/player2', true],
    ['4.7.1.3 example: "sport/tennis/+" does not match "sport/tennis/player1/ranking"', 'sport/tennis/+', 'sport/tennis/player1/ranking', false],
    ['4.7.1.3 example: "sport/+" does not match "sport"', 'sport/+', 'sport', false],
    ['4.7.1.3 example: "sport/+" matches "sport/"', 'sport/+', 'sport/', true],
    ['4.7.1.3 example: "+/+" matches "/finance"', '+/+', '/finance', true],
    ['4.7.1.3 example: "/+" matches "/finance"', '/+', '/finance', true],
    ['4.7.1.3 example: "+" does not match "/finance"', '+', '/finance', false],
    ['[MQTT-4.7.1-2] "+" matches an empty level', 'a/+/b', 'a//b', true],
    ['[MQTT-4.7.1-2] "+" matches exactly one level', 'a/+/b', 'a/x/y/b', false],
    ['[MQTT-4.7.1-2] "+/#" matches a one-level topic (parent level of #)', '+/#', 'a', true],
    ['[MQTT-4.7.1-2] "+" matches a one-level topic', '+', 'a', true],
    ['[MQTT-4.7.1-2] "+" does not match "a/"', '+', 'a/', false],
    ['[MQTT-4.7.2-1] 4.7.2 example: "#" does not receive "$SYS/..."', '#', '$SYS/broker/uptime', false],
    ['[MQTT-4.7.2-1] "#" does not receive "$x"', '#', '$x', false],
    ['[MQTT-4.7.2-1] 4.7.2 example: "+/monitor/Clients" does not receive "$SYS/monitor/Clients"', '+/monitor/Clients', '$SYS/monitor/Clients', false],
    ['[MQTT-4.7.2-1] "+/#" does not receive "$SYS"', '+/#', '$SYS', false],
    ['4.7.2 example: "$SYS/#" receives "$SYS/monitor/Clients"', '$SYS/#', '$SYS/monitor/Clients', true],
    ['4.7.2 example: "$SYS/#" receives "$SYS" (parent level)', '$SYS/#', '$SYS', true],
    ['4.7.2 example: "$SYS/monitor/+" receives "$SYS/monitor/Clients"', '$SYS/monitor/+', '$SYS/monitor/Clients', true],
    ['[MQTT-4.7.2-1] only a leading wildcard: "a/#" matches "a/$x"', 'a/#', 'a/$x', true],
    ['[MQTT-4.7.2-1] only a leading wildcard: "a/+" matches "a/$x"', 'a/+', 'a/$x', true],
    ['[MQTT-4.7.2-1] "#" matches "x$" ($ not first)', '#', 'x$', true],
    ['4.7.3 a leading / makes a distinct topic: "a" vs "/a"', 'a', '/a', false],
    ['4.7.3 a trailing / makes a distinct topic: "a" vs "a/"', 'a', 'a/', false],
    ['4.7.3 empty levels are significant: "a/b" vs "a//b"', 'a/b', 'a//b', false],
    ['4.7.3 exact match with empty levels', 'a//b', 'a//b', true],
    ['4.7.3 "/" matches "/"', '/', '/', true],
    ['4.7.3 topics are case sensitive: "ACCOUNTS" vs "Accounts"', 'ACCOUNTS', 'Accounts', false],
    ['[MQTT-4.7.3-4] no normalization: precomposed vs decomposed e-acute', '\u00e9', 'e\u0301', false],
    ['4.7.3 a filter longer than the name does not match', 'a/b/c', 'a/b', false],
    ['4.7.3 a filter shorter than the name does not match', 'a/b', 'a/b/c', false],
    ['4.7.3 a level prefix is not a match', 'a/bc', 'a/b', false],
    ['4.7.3 a level prefix is not a match (name longer)', 'a/b', 'a/bc', false],
    ['4.8.2 "$share/g/#" matches like "#"', '$share/g/#', 'a/b', true],
    ['4.8.2 + [MQTT-4.7.2-1] "$share/g/#" does not match "$SYS/x"', '$share/g/#', '$SYS/x', false],
    ['4.8.2 "$share/g/$SYS/#" matches "$SYS/x"', '$share/g/$SYS/#', '$SYS/x', true],
    ['4.8.2 "$share/consumer1/sport/tennis/+" matches "sport/tennis/player1"', '$share/consumer1/sport/tennis/+', 'sport/tennis/player1', true],
    ['4.8.2 the group is not part of the filter', '$share/sport/tennis', 'sport/tennis', false],
    ['4.8.2 the shared filter matches its inner filter only', '$share/g/a', 'a', true],
    ['4.8.2 a name "$share/g/a" is never matched by the filter "$share/g/a"', '$share/g/a', '$share/g/a', false],
    ['[MQTT-4.8.2-1] "$share" (no /) is an ordinary filter matching "$share"', '$share', '$share', true],
];

function describeCode(code: TopicProblemCode | null): string {
    return code === null ? 'valid' : code;
}

describe('validateTopicName', () => {
    for (const [why, name, code] of names) {
        test(`${why}: ${JSON.stringify(name.length > 40 ? name.slice(0, 20) + '...' : name)} is ${describeCode(code)}`, () => {
            assert.equal(checkTopicName(name)?.code ?? null, code);
            assert.equal(validateTopicName(name), code === null ? null : TOPIC_PROBLEM_TEXT[code]);
        });
    }
});

describe('validateTopicFilter', () => {
    for (const [why, filter, code] of filters) {
        test(`${why}: ${JSON.stringify(filter.length > 40 ? filter.slice(0, 20) + '...' : filter)} is ${describeCode(code)}`, () => {
            assert.equal(checkTopicFilter(filter)?.code ?? null, code);
            assert.equal(validateTopicFilter(filter), code === null ? null : TOPIC_PROBLEM_TEXT[code]);
        });
    }
    test('every name valid as a name is valid as a filter (a name has no wildcard)', () => {
        for (const [, name, code] of names) if (code === null) assert.equal(validateTopicFilter(name), null, name);
    });
});

describe('topicMatches', () => {
    for (const [why, filter, name, expected] of matches) {
        test(`${why}: ${JSON.stringify(filter)} ${expected ? 'matches' : 'does not match'} ${JSON.stringify(name)}`, () => {
            assert.equal(checkTopicFilter(filter), null, 'the table holds valid filters only');
            assert.equal(checkTopicName(name), null, 'the table holds valid names only');
            assert.equal(topicMatches(filter, name), expected);
        });
    }
    test('agrees with a plain split-based reading of 4.7 on all filters x names of up to 4 levels', () => {
        // The reference: split both into levels; '#' matches the rest (and the parent level), '+'
        // one level, others must be equal; a leading wildcard never matches a '$' name.
        const reference = (filter: string, name: string): boolean => {
            const f = filter.split('/');
            const n = name.split('/');
            if (name.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
            for (let i = 0; i < f.length; i++) {
                if (f[i] === '#') return true;
                if (i >= n.length) return false;
                if (f[i] !== '+' && f[i] !== n[i]) return false;
            }
            return f.length === n.length || (f.length === n.length + 1 && f[n.length] === '#');
        };
        const filterList = allTopics(['a', '', '$x', '+', '#'], 4).filter((f) => checkTopicFilter(f) === null);
        const nameList = allTopics(['a', '', '$x', 'b'], 4);
        for (const f of filterList) {
            for (const n of nameList) {
                assert.equal(topicMatches(f, n), reference(f, n), `topicMatches(${JSON.stringify(f)}, ${JSON.stringify(n)})`);
                assert.equal(topicMatches('$share/g/' + f, n), reference(f, n), `topicMatches("$share/g/${f}", ${JSON.stringify(n)})`);
            }
        }
    });
    test('an empty name matches nothing', () => {
        assert.equal(topicMatches('#', ''), false);
        assert.equal(topicMatches('+', ''), false);
    });
    test('a malformed shared filter matches nothing', () => {
        assert.equal(topicMatches('$share/g', 'g'), false);
        assert.equal(topicMatches('$share//a', 'a'), false);
        assert.equal(topicMatches('$share/g/', 'a'), false);
    });
});

test('the table has at least 100 cases', () => {
    assert.ok(names.length + filters.length + matches.length >= 100);
});

test('the problem texts are the agreed English ones', () => {
    assert.deepEqual(TOPIC_PROBLEM_TEXT, {
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
    });
});

describe('parseSharedSubscription', () => {
    test('4.8.2 splits group and filter', () => {
        assert.deepEqual(parseSharedSubscription('$share/consumer1/sport/tennis/+'), {
            group: 'consumer1',
            filter: 'sport/tennis/+',
        });
        assert.deepEqual(parseSharedSubscription('$share/g//'), { group: 'g', filter: '/' });
    });
    test('[MQTT-4.8.2-1] not shared, or no group, or no filter: null', () => {
        for (const f of ['a/b', '$share', '$SHARE/g/a', '$share/', '$share//a', '$share/g', '$share/g/']) {
            assert.equal(parseSharedSubscription(f), null, f);
        }
    });
});

describe('filterCovers', () => {
    const cases: Array<[string, string, boolean, string]> = [
        ['a/#', 'a', true, '[MQTT-4.7.1-1] "#" includes the parent level'],
        ['a/#', 'a/b/c', true, '[MQTT-4.7.1-1]'],
        ['a/#', 'a/+', true, '[MQTT-4.7.1-1]'],
        ['a/#', 'a/#', true, 'identical'],
        ['a/+', 'a/#', false, '"a/#" also matches "a" and "a/b/c"'],
        ['+', '#', false, '[MQTT-4.7.1-2] + is one level only'],
        ['#', '+/x', true, '"#" covers everything not starting with $'],
        ['#', '$SYS/x', false, '[MQTT-4.7.2-1]'],
        ['+/x', '$SYS/x', false, '[MQTT-4.7.2-1]'],
        ['#', '+', true, '[MQTT-4.7.2-1] both exclude $ topics'],
        ['+/#', '#', true, 'every name has at least one level'],
        ['+/+/#', '+/#', false, '"+/#" matches one-level names'],
        ['/+/#', '/#', true, '[MQTT-4.7.3-1] "/#" cannot match its parent, the empty name'],
        ['a/+/#', 'a/#', false, '[MQTT-4.7.1-1] "a/#" matches its parent "a"'],
        ['$SYS/#', '$SYS/+', true, '4.7.2'],
        ['a/+/c', 'a/b/c', true, '[MQTT-4.7.1-2]'],
        ['a/b/c', 'a/+/c', false, 'a literal level does not cover +'],
        ['a/+', 'a', false, '4.7.1.3 "sport/+" does not match "sport"'],
        ['+/+', '/+', true, 'empty level'],
        ['a//#', 'a/#', false, 'empty levels are significant'],
        ['$share/g/#', 'a', false, 'shared filters never cover'],
        ['#', '$share/g/a', false, 'shared filters are never covered'],
        ['$share/g/a', '$share/g/a', true, 'identical strings'],
        ['a/#', 'a/b+', false, 'invalid narrower'],
    ];
    for (const [broader, narrower, expected, why] of cases) {
        test(`${why}: ${JSON.stringify(broader)} ${expected ? 'covers' : 'does not cover'} ${JSON.stringify(narrower)}`, () => {
            assert.equal(filterCovers(broader, narrower), expected);
        });
    }

    test('agrees with brute force over all filters of up to 4 levels and names of up to 5 levels', () => {
        // Names use a level ('b') and a '$' level ('$y') that no filter has, so that a
        // wildcard is told apart from a literal, and one level more than any filter.
        const filterList = allTopics(['a', '', '$x', '+', '#'], 4).filter((f) => checkTopicFilter(f) === null);
        const nameList = allTopics(['a', '', '$x', 'b', '$y'], 5);
        const matched = filterList.map((f) => nameList.map((n) => topicMatches(f, n)));
        let covering = 0;
        for (let i = 0; i < filterList.length; i++) {
            for (let j = 0; j < filterList.length; j++) {
                let included = true;
                for (let k = 0; k < nameList.length && included; k++) if (matched[j][k] && !matched[i][k]) included = false;
                assert.equal(
                    filterCovers(filterList[i], filterList[j]),
                    included,
                    `filterCovers(${JSON.stringify(filterList[i])}, ${JSON.stringify(filterList[j])})`,
                );
                if (included) covering++;
            }
        }
        assert.ok(filterList.length > 80 && covering > filterList.length, 'the corpus is not trivial');
    });
});
