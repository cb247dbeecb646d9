'use strict';
/**
 * Finding Mosquitto and the configuration lines every private broker of the tests and the benchmark
 * starts from: plain CommonJS so that bench/ can require it without the compiled tests.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');

/**
 * The Mosquitto binary: MOSQUITTO_BIN, else the usual places, else the PATH; '' when there is none.
 * @returns {string}
 */
function findMosquitto() {
    if (process.env.MOSQUITTO_BIN) return process.env.MOSQUITTO_BIN;
    for (const candidate of ['/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/bin/mosquitto']) {
        if (fs.existsSync(candidate)) return candidate;
    }
    const which = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' });
    return which.status === 0 ? which.stdout.trim() : '';
}

/**
 * mosquitto.conf lines for a broker that listens on 127.0.0.1:port only, lets anyone in, and logs
 * errors and warnings to stderr.
 * @param {number} port
 * @returns {string[]}
 */
function loopbackConfig(port) {
    return [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        // Run as root (as CI does), Mosquitto would switch to the 'mosquitto' user, which cannot
        // read a private temporary directory.
        ...(process.getuid && process.getuid() === 0 ? ['user root'] : []),
    ];
}

module.exports = { findMosquitto, loopbackConfig };
