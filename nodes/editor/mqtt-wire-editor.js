/*
 * Editor helpers shared by the node definitions (nodes/mqtt-in.html, nodes/mqtt-out.html and, for the
 * problem texts, nodes/broker-config.html): problems of the runtime's modules in the editor's language,
 * topic checks with the runtime's rules (window.MqttWireTopic, from resources/topic.js), the live problem
 * line under the topic field, the wiring-check panel, and the CSS of the mqtt-in and mqtt-out forms.
 *
 * Plain browser script, no build step: scripts/copy-assets.js copies it to resources/, and Node-RED
 * serves it at resources/node-red-contrib-mqtt-wire/mqtt-wire-editor.js. Each node's .html loads it, so
 * the editor may run it more than once: only the first run defines window.MqttWireEditor.
 */
(function (window) {
    'use strict';

    if (window.MqttWireEditor) {
        return;
    }

    var $ = window.jQuery;
    var TOPIC_KEYS = 'node-red-contrib-mqtt-wire/broker-config:broker-config.topic.';
    var STYLE_ID = 'mqtt-wire-editor-style';
    // Layout of the mqtt-in and mqtt-out forms (the template's outer <div class="mqtt-wire-form">).
    var CSS = [
        '.mqtt-wire-form .mqtt-wire-topic-problem {',
        '    margin: 4px 0 0 104px;',
        '    width: 70%;',
        '    color: var(--red-ui-text-color-error, #ad1625);',
        '    font-size: 0.9em;',
        '}',
        '.mqtt-wire-form .mqtt-wire-panel {',
        '    display: inline-block;',
        '    vertical-align: top;',
        '    box-sizing: border-box;',
        '    width: 70%;',
        '    padding: 6px 8px;',
        '    border: 1px solid var(--red-ui-secondary-border-color, #ddd);',
        '    border-radius: 2px;',
        '    font-size: 0.9em;',
        '    color: var(--red-ui-secondary-text-color, #555);',
        '}',
        '.mqtt-wire-form .mqtt-wire-panel-title {',
        '    font-weight: bold;',
        '    margin-bottom: 4px;',
        '}',
        '.mqtt-wire-form .mqtt-wire-panel ul {',
        '    margin: 0 0 4px 18px;',
        '}',
        '.mqtt-wire-form .mqtt-wire-muted {',
        '    opacity: 0.75;',
        '}',
        '.mqtt-wire-form .form-row input.mqtt-wire-try-input {',
        '    box-sizing: border-box;',
        '    width: 100%;',
        '    margin: 2px 0 4px 0;',
        '}',
        '.mqtt-wire-form .mqtt-wire-yes {',
        '    color: var(--red-ui-text-color-success, #3a7d32);',
        '}',
        '.mqtt-wire-form .mqtt-wire-no {',
        '    color: var(--red-ui-text-color-error, #ad1625);',
        '}'
    ].join('\n');

    function addStyle() {
        var doc = window.document;
        if (!doc || doc.getElementById(STYLE_ID)) {
            return;
        }
        var style = doc.createElement('style');
        style.id = STYLE_ID;
        style.appendChild(doc.createTextNode(CSS));
        (doc.head || doc.getElementsByTagName('head')[0] || doc.documentElement).appendChild(style);
    }

    var missingLogged = false;

    /** The runtime's topic module, or null (logged once per editor session) when resources/topic.js did not load. */
    function topicLib() {
        var lib = window.MqttWireTopic;
        if (lib && typeof lib.checkTopicFilter === 'function' && typeof lib.checkTopicName === 'function' &&
                typeof lib.topicMatches === 'function') {
            return lib;
        }
        if (!missingLogged) {
            missingLogged = true;
            console.warn('node-red-contrib-mqtt-wire: resources/topic.js is not loaded; topics are not checked in the editor');
        }
        return null;
    }

    /** Whether `v` is a whole $(NAME) or ${NAME}, which Node-RED replaces with an environment variable. */
    function isEnvVar(v) {
        return /^\$\([a-zA-Z_][a-zA-Z0-9_]*\)$/.test(v) || /^\$\{[a-zA-Z_][a-zA-Z0-9_]*\}$/.test(v);
    }

    /**
     * The catalogue's text, under `keyPrefix` + code, of a { code, text, params? } problem from one of the
     * runtime's modules; the module's own English text when the catalogue has none.
     */
    function localizedProblem(keyPrefix, problem) {
        var key = keyPrefix + problem.code;
        var text = window.RED._(key, problem.params);
        var bareKey = key.slice(key.indexOf(':') + 1);
        if (!text || text === key || text.indexOf(bareKey) !== -1) {
            return problem.text;
        }
        return text;
    }

    /** Localized text of a { code, text } problem from the topic module. */
    function problemText(problem) {
        return localizedProblem(TOPIC_KEYS, problem);
    }

    /** null if `value` is a valid topic of that kind ('filter' or 'name'), or cannot be checked; else the localized reason. */
    function topicProblem(kind, value) {
        var lib = topicLib();
        if (!lib) {
            return null;
        }
        try {
            var problem = kind === 'filter' ? lib.checkTopicFilter(value) : lib.checkTopicName(value);
            return problem ? problemText(problem) : null;
        } catch (err) {
            console.warn('node-red-contrib-mqtt-wire: topic check failed', err);
            return null;
        }
    }

    /**
     * The answer of a topic property's validator: true, or the reason the topic is not valid.
     * An environment variable is not checked; an empty topic is valid only when `emptyIsValid`.
     */
    function validateTopic(kind, v, emptyIsValid) {
        var value = (v === undefined || v === null) ? '' : String(v);
        if ((emptyIsValid && value === '') || isEnvVar(value)) {
            return true;
        }
        var problem = topicProblem(kind, value);
        return problem === null ? true : problem;
    }

    /** Shows under the topic field (in `target`) why `value` is not a valid topic of `kind` (empty counts only with `emptyIsProblem`); returns that reason or null. */
    function showTopicProblem(target, kind, value, emptyIsProblem) {
        var problem = ((value === '' && !emptyIsProblem) || isEnvVar(value)) ? null : topicProblem(kind, value);
        target.text(problem || '').toggle(!!problem);
        return problem;
    }

    /** { group, filter } of a $share/<group>/<filter> subscription, else null. */
    function sharedParts(filter) {
        var lib = topicLib();
        try {
            return (lib && typeof lib.parseSharedSubscription === 'function') ? lib.parseSharedSubscription(filter) : null;
        } catch (err) {
            return null;
        }
    }

    /** Whether a subscription to `filter` (possibly $share/<group>/...) receives messages published to `name`. */
    function filterMatches(filter, name) {
        var lib = topicLib();
        if (!lib) {
            return false;
        }
        try {
            var shared = sharedParts(filter);
            return !!lib.topicMatches(shared ? shared.filter : filter, name);
        } catch (err) {
            return false;
        }
    }

    /** The id of the config node chosen in a config-node select, or null while none (or "add new") is chosen. */
    function selectedConfig(select) {
        var v = select.val();
        return (v && v !== '_ADD_') ? v : null;
    }

    /**
     * Shows the only broker-config there is as chosen in the broker select of `node` when the node has none
     * yet (a node just taken from the palette). Node-RED 4 puts "none" after the config nodes and shows it
     * for a node without one, where Node-RED 3 showed the first config node. With several brokers (or a
     * subflow's broker variable beside one) the user chooses, as Node-RED leaves it.
     */
    function chooseOnlyBroker(node, brokerSelect) {
        if (node.broker) {
            return;
        }
        var choices = brokerSelect.find('option').filter(function () { return this.value !== '_ADD_'; });
        var only = choices.length === 1 ? window.RED.nodes.node(choices.val()) : null;
        if (only && only.type === 'broker-config') {
            brokerSelect.val(only.id);
        }
    }

    /**
     * Writes into the wiring `panel` of `node` (mqtt-in or mqtt-out) why no list can be made yet, from the
     * node's catalogue `<type>.wiring.*`, and returns null; or returns the chosen broker's id.
     * `envKey` is the text for a topic from an environment variable.
     */
    function wiringBroker(node, panel, kind, value, brokerSelect, envKey) {
        var keys = node.type + '.wiring.';
        var reason = null;
        if (!topicLib()) {
            reason = 'unavailable';
        } else if (value === '') {
            reason = 'no-topic';
        } else if (isEnvVar(value)) {
            reason = envKey;
        } else if (topicProblem(kind, value)) {
            reason = 'invalid-topic';
        } else if (!selectedConfig(brokerSelect)) {
            reason = 'no-broker';
        }
        if (reason) {
            panel.text(node._(keys + reason));
            return null;
        }
        return selectedConfig(brokerSelect);
    }

    function tabLabel(z) {
        var RED = window.RED;
        var ws = z && RED.nodes.workspace(z);
        if (ws) {
            return ws.label || ws.id;
        }
        var sf = z && RED.nodes.subflow(z);
        return sf ? (sf.name || sf.id) : '';
    }

    /** A clickable line for a node `n` elsewhere in the workspace, worded from `node`'s catalogue. */
    function nodeLink(node, n, text) {
        var RED = window.RED;
        var keys = node.type + '.wiring.';
        var li = $('<li>');
        $('<a href="#">').text(text).on('click', function (e) {
            e.preventDefault();
            if (RED.view && typeof RED.view.reveal === 'function') {
                RED.view.reveal(n.id);
            }
        }).appendTo(li);
        var tab = tabLabel(n.z);
        if (tab) {
            $('<span class="mqtt-wire-muted">').text(' ' + node._(keys + 'on-tab', { tab: tab })).appendTo(li);
        }
        if (n.d) {
            $('<span class="mqtt-wire-muted">').text(' ' + node._(keys + 'disabled')).appendTo(li);
        }
        return li;
    }

    /** Appends to `panel` the title (`titleKey` of `node`'s catalogue) and a list of links to `nodes`. */
    function listNodes(panel, node, nodes, titleKey) {
        $('<div class="mqtt-wire-panel-title">').text(node._(titleKey)).appendTo(panel);
        var list = $('<ul>').appendTo(panel);
        nodes.forEach(function (n) {
            var text = n.name ? n.name + ' (' + n.topic + ')' : n.topic;
            list.append(nodeLink(node, n, text));
        });
    }

    /**
     * Keeps the dialog live: `refresh` on every edit of the topic, `refreshWiring` when the broker changes.
     * Runs `refresh` now and once more after the editor has filled in the broker select.
     */
    function watchTopic(topicInput, brokerSelect, refresh, refreshWiring) {
        topicInput.on('input change keyup', refresh);
        brokerSelect.on('change', refreshWiring);
        refresh();
        setTimeout(refresh, 0);
    }

    addStyle();

    window.MqttWireEditor = {
        topicLib: topicLib,
        isEnvVar: isEnvVar,
        localizedProblem: localizedProblem,
        problemText: problemText,
        topicProblem: topicProblem,
        validateTopic: validateTopic,
        showTopicProblem: showTopicProblem,
        sharedParts: sharedParts,
        filterMatches: filterMatches,
        selectedConfig: selectedConfig,
        chooseOnlyBroker: chooseOnlyBroker,
        wiringBroker: wiringBroker,
        tabLabel: tabLabel,
        nodeLink: nodeLink,
        listNodes: listNodes,
        watchTopic: watchTopic
    };
})(window);
