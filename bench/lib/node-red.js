'use strict';
/**
 * Runs flows in node-red-node-test-helper for the benchmark: this package's compiled nodes (dist/)
 * or Node-RED's core MQTT nodes, in the same runtime. MQTT_WIRE_NODE_RED may point at another
 * node-red package directory, as for the tests.
 */
const path = require('path');

const helper = require('node-red-node-test-helper');
const nodeRedMain = process.env.MQTT_WIRE_NODE_RED
    ? require.resolve(path.resolve(process.env.MQTT_WIRE_NODE_RED))
    : require.resolve('node-red');
helper.init(nodeRedMain);

const dist = path.join(__dirname, '..', '..', 'dist');

/** This package's node modules (needs `npm run build`). */
function wireNodes() {
    return [require(path.join(dist, 'broker-config')), require(path.join(dist, 'mqtt-in')), require(path.join(dist, 'mqtt-out'))];
}

/** The directory of the node-red package in use, and its version. */
function nodeRedInfo() {
    let dir = path.dirname(nodeRedMain);
    while (!require('fs').existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
    return { dir, version: require(path.join(dir, 'package.json')).version };
}

/** Node-RED's core MQTT node module (mqtt-broker, mqtt in, mqtt out). */
function coreMqttNodes() {
    const { dir } = nodeRedInfo();
    const candidates = [
        path.join(dir, 'node_modules', '@node-red', 'nodes', 'core', 'network', '10-mqtt.js'),
        path.join(dir, '..', '@node-red', 'nodes', 'core', 'network', '10-mqtt.js'),
    ];
    const file = candidates.find((f) => require('fs').existsSync(f));
    if (!file) throw new Error(`Node-RED's core 10-mqtt.js not found near ${dir}`);
    return { module: require(file), file };
}

function startServer() {
    return new Promise((resolve, reject) => helper.startServer((err) => (err ? reject(err) : resolve())));
}

function stopServer() {
    return new Promise((resolve, reject) => helper.stopServer((err) => (err ? reject(err) : resolve())));
}

/**
 * Loads a flow. The test helper wraps Node.prototype.send/status/log... in sinon spies that record
 * every call (and queue a nextTick event per call); a benchmark of message throughput would measure
 * (and keep in memory) that recording too, so unless `keepSpies` is set the spies are taken off
 * again once the flow runs, from the prototype and from the nodes that copied `send`. unload()
 * restores them a second time, which is harmless.
 */
async function loadFlow(nodeModules, flow, { keepSpies = false } = {}) {
    await new Promise((resolve, reject) => helper.load(nodeModules, flow, {}, (err) => (err ? reject(err) : resolve())));
    if (!keepSpies && helper._sandbox) {
        helper._sandbox.restore();
        // Node-RED's Node constructor copies Node.prototype.send into every wired node, so those
        // nodes still hold the spy after the restore: it would record each message sent (with an
        // Error for its call stack, about 1 KB retained per message) and cost CPU on each.
        const send = helper._NodePrototype.send;
        for (const { id } of flow) {
            const node = helper.getNode(id);
            if (node && Object.prototype.hasOwnProperty.call(node, 'send') && typeof node.send.callCount === 'number') node.send = send;
        }
    }
}

function unloadFlow() {
    return helper.unload();
}

function getNode(id) {
    return helper.getNode(id);
}

module.exports = { helper, wireNodes, coreMqttNodes, nodeRedInfo, startServer, stopServer, loadFlow, unloadFlow, getNode };
