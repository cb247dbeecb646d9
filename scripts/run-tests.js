'use strict';
// Runs every compiled test file under dist-test/ with node's own test runner, one file at a time:
// the node tests start real brokers and a Node-RED runtime, and two cores are all a machine has here.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

function findTests(dir) {
    const found = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) found.push(...findTests(full));
        else if (entry.name.endsWith('.test.js')) found.push(full);
    }
    return found.sort();
}

const root = path.join(__dirname, '..', 'dist-test');
const filter = process.argv.slice(2);
const files = findTests(root).filter((f) => filter.length === 0 || filter.some((part) => f.includes(part)));
if (files.length === 0) {
    console.error('no test files matched under dist-test/');
    process.exit(1);
}
// A test that hangs (a promise nobody settles after a failure) fails after this long instead of
// holding CI until its own limit; MQTT_WIRE_TEST_TIMEOUT_MS raises it for long repeated runs.
const timeoutMs = Number(process.env.MQTT_WIRE_TEST_TIMEOUT_MS || 300000);
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', `--test-timeout=${timeoutMs}`, ...files], { stdio: 'inherit' });
process.exit(result.status === null ? 1 : result.status);
