'use strict';
/** Small statistics and formatting helpers for the benchmark report. */

function median(values) {
    const s = [...values].sort((a, b) => a - b);
    if (s.length === 0) return NaN;
    const mid = Math.floor(s.length / 2);
    return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

function summarize(values) {
    const finite = values.filter((v) => Number.isFinite(v));
    if (finite.length === 0) return { median: NaN, min: NaN, max: NaN, spreadPct: NaN, n: 0 };
    const m = median(finite);
    const min = Math.min(...finite);
    const max = Math.max(...finite);
    return { median: m, min, max, spreadPct: m > 0 ? ((max - min) / m) * 100 : NaN, n: finite.length };
}

/** 12345.6 -> "12,346" */
function fmtInt(v) {
    return Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a';
}

function fmtRatio(v) {
    return Number.isFinite(v) ? v.toFixed(2) : 'n/a';
}

function fmtMiB(bytes) {
    return Number.isFinite(bytes) ? `${(bytes / 1048576).toFixed(1)}` : 'n/a';
}

function round(v, digits = 0) {
    if (!Number.isFinite(v)) return null;
    const f = 10 ** digits;
    return Math.round(v * f) / f;
}

/** The message count for a configuration: about `seconds` of work at the warm-up rate, bounded. */
function sizeCount(rate, o) {
    const k = Math.round((rate * o.seconds) / 500) * 500;
    return Math.max(o.minCount, Math.min(o.maxCount, k));
}

function pkgVersion(dir) {
    try {
        return require(require('path').join(dir, 'package.json')).version;
    } catch {
        return 'unknown';
    }
}

module.exports = { median, summarize, fmtInt, fmtRatio, fmtMiB, round, sizeCount, pkgVersion };
