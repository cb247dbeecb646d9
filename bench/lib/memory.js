'use strict';
/** Peak RSS and heap while something runs, sampled on a timer (cheap; a sample may miss a short peak). */
const v8 = require('v8');
const vm = require('vm');

/** A full GC when it can be had (`--expose-gc` is switched on at run time), so rounds start alike. */
let gcFn = null;
function gc() {
    if (!gcFn) {
        try {
            v8.setFlagsFromString('--expose-gc');
            gcFn = vm.runInNewContext('gc');
        } catch {
            gcFn = () => undefined;
        }
    }
    gcFn();
}

class MemorySampler {
    constructor(intervalMs = 20) {
        const m = process.memoryUsage();
        this.start = { rss: m.rss, heapUsed: m.heapUsed };
        this.peak = { rss: m.rss, heapUsed: m.heapUsed };
        this.timer = setInterval(() => this.sample(), intervalMs);
    }

    sample() {
        const m = process.memoryUsage();
        if (m.rss > this.peak.rss) this.peak.rss = m.rss;
        if (m.heapUsed > this.peak.heapUsed) this.peak.heapUsed = m.heapUsed;
    }

    /** { rssDelta, heapDelta, peakRss }: peaks during the run above the values at its start. */
    stop() {
        clearInterval(this.timer);
        this.sample();
        return { peakRss: this.peak.rss, rssDelta: this.peak.rss - this.start.rss, heapDelta: this.peak.heapUsed - this.start.heapUsed };
    }
}

module.exports = { MemorySampler, gc };
