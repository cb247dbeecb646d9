/*
 * Shows the status of the mqtt-in and mqtt-out nodes in the editor's language. The runtime sends a
 * status as catalogue keys with their parameters (nodes/lib/status-text.ts, served as
 * resources/status-text.js: window.MqttWireStatusText); Node-RED's editor translates a status text
 * only as a bare key, without parameters, and leaves this one as it is. Once Node-RED's own handler
 * has stored the status on the node, this renders it with the editor's catalogues and redraws it.
 *
 * Plain browser script, no build step: scripts/copy-assets.js copies it to resources/. Each node's
 * .html loads it, so the editor may run it more than once: only the first run subscribes.
 */
(function (window) {
    'use strict';

    if (window.MqttWireStatus) {
        return;
    }
    var RED = window.RED;
    var PACKAGE = 'node-red-contrib-mqtt-wire';
    var TYPES = { 'mqtt-in': true, 'mqtt-out': true };

    /** A catalogue text: the key's first level is the node set ("broker-config.status.connected"). */
    function translate(key, params) {
        var full = PACKAGE + '/' + key.split('.')[0] + ':' + key;
        var text = RED._(full, params);
        return typeof text === 'string' && text !== full ? text : key;
    }

    /** The status text in words, or null when it is not one of this package's encoded statuses. */
    function render(text) {
        var lib = window.MqttWireStatusText;
        var parts = lib ? lib.decodeStatus(text) : null;
        return parts ? lib.renderStatus(parts, translate) : null;
    }

    function show(node) {
        if (!node || !TYPES[node.type] || !node.status) {
            return;
        }
        var words = render(node.status.text);
        if (words === null) {
            return;
        }
        node.status.text = words;
        node.dirtyStatus = true;
        node.dirty = true;
        RED.view.redrawStatus(node);
    }

    window.MqttWireStatus = { render: render };
    if (!RED || !RED.comms || typeof RED.comms.subscribe !== 'function') {
        return;
    }
    RED.comms.subscribe('status/#', function (topic) {
        var id = topic.split('/')[1];
        // After every handler of this message has run, Node-RED's own included (it stores the status).
        Promise.resolve().then(function () {
            show(RED.nodes.node(id));
        });
    });
})(window);
