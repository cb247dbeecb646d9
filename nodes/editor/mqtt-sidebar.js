/*
 * The editor's "MQTT" sidebar tab, and topic completions for the topic fields of mqtt-in, mqtt-out and
 * the broker's birth, close and will messages.
 *
 * Plain browser script, no build step: scripts/copy-assets.js copies it to resources/, the editor plugin
 * nodes/mqtt-sidebar.html loads it and calls window.MqttWireSidebar.addTab(). While the tab is shown
 * it asks the runtime once a second (GET mqtt-wire/sidebar, see nodes/mqtt-sidebar-admin.ts) and
 * draws every deployed broker-config: state, address, connected since, subscriptions and the nodes
 * holding them, messages per second, and the tree of topics seen with their last payload.
 *
 * Stable hooks for browser tests: tab id "mqtt-wire"; #mqtt-wire-sidebar (content),
 * #mqtt-wire-sidebar-empty, #mqtt-wire-sidebar-error; per broker .mqtt-wire-sb-broker[data-broker-id]
 * with .mqtt-wire-sb-title, .mqtt-wire-sb-state[data-state], .mqtt-wire-sb-address, .mqtt-wire-sb-since,
 * .mqtt-wire-sb-rates, .mqtt-wire-sb-subscription[data-filter] (.mqtt-wire-sb-filter,
 * a.mqtt-wire-sb-holder[data-node-id]), .mqtt-wire-sb-monitor-off, .mqtt-wire-sb-topics and
 * .mqtt-wire-sb-topic[data-topic] (.mqtt-wire-sb-level, .mqtt-wire-sb-payload, .mqtt-wire-sb-qos,
 * .mqtt-wire-sb-retained).
 */
(function (window) {
    'use strict';

    if (window.MqttWireSidebar) {
        return;
    }

    var $ = window.jQuery;
    var NS = 'node-red-contrib-mqtt-wire/mqtt-sidebar:mqtt-sidebar.';
    var POLL_MS = 1000;
    var PAYLOAD_CHARS = 60;
    var COMPLETIONS = 30;
    var STYLE_ID = 'mqtt-wire-sidebar-style';
    var CSS = [
        '#mqtt-wire-sidebar { padding: 8px; overflow-y: auto; height: 100%; box-sizing: border-box; font-size: 13px; }',
        '#mqtt-wire-sidebar .mqtt-wire-sb-broker { border: 1px solid var(--red-ui-secondary-border-color, #ddd); border-radius: 2px; padding: 6px 8px; margin-bottom: 8px; }',
        '#mqtt-wire-sidebar .mqtt-wire-sb-title { font-weight: bold; margin-bottom: 4px; }',
        '#mqtt-wire-sidebar .mqtt-wire-sb-dot { display: inline-block; width: 8px; height: 8px; border-radius: 50%; margin-right: 4px; border: 1px solid #999; }',
        '#mqtt-wire-sidebar .mqtt-wire-sb-dot.ring { background: transparent !important; border-width: 2px; width: 6px; height: 6px; }',
        '#mqtt-wire-sidebar .mqtt-wire-sb-muted { color: var(--red-ui-secondary-text-color, #777); }',
        '#mqtt-wire-sidebar .mqtt-wire-sb-heading { margin-top: 6px; font-weight: bold; }',
        '#mqtt-wire-sidebar ul { list-style: none; margin: 0 0 0 12px; padding: 0; }',
        '#mqtt-wire-sidebar .mqtt-wire-sb-level { cursor: pointer; font-family: monospace; }',
        '#mqtt-wire-sidebar .mqtt-wire-sb-payload { font-family: monospace; word-break: break-all; margin-left: 6px; }',
        '#mqtt-wire-sidebar .mqtt-wire-sb-badge { font-size: 0.85em; border: 1px solid var(--red-ui-secondary-border-color, #ccc); border-radius: 2px; padding: 0 3px; margin-left: 4px; }',
        '#mqtt-wire-sidebar .mqtt-wire-sb-filter { font-family: monospace; }'
    ].join('\n');
    var FILL = { red: '#c00', green: '#5a8', yellow: '#F9DF31', blue: '#53A3F3', grey: '#d3d3d3' };

    var collapsed = {};
    var content = null;

    function t(key, values) {
        return window.RED._(NS + key, values);
    }

    function addStyle() {
        if (!document.getElementById(STYLE_ID)) {
            $('<style></style>').attr('id', STYLE_ID).text(CSS).appendTo('head');
        }
    }

    function payloadText(p) {
        if (!p) { return ''; }
        if (p.kind === 'binary') {
            return t('binary', { hex: p.hex + (p.truncated ? '…' : ''), size: p.size });
        }
        var text = p.text.length > PAYLOAD_CHARS ? p.text.slice(0, PAYLOAD_CHARS) + '…' : p.text + (p.truncated ? '…' : '');
        return JSON.stringify(text) + (p.truncated ? ' ' + t('bytes', { size: p.size }) : '');
    }

    function reveal(id) {
        if (window.RED.view && typeof window.RED.view.reveal === 'function') {
            window.RED.view.reveal(id);
        }
    }

    function stateRow(b) {
        var row = $('<div class="mqtt-wire-sb-state"></div>').attr('data-state', b.state);
        var dot = $('<span class="mqtt-wire-sb-dot"></span>').css('background', FILL[b.status.fill] || '#999').css('border-color', FILL[b.status.fill] || '#999');
        if (b.status.shape === 'ring') { dot.addClass('ring'); }
        // The runtime's status carries catalogue keys (nodes/lib/status-text.ts): in words, in the editor's language.
        var words = window.MqttWireStatus ? window.MqttWireStatus.render(b.status.text) : null;
        return row.append(dot).append($('<span></span>').text(words || b.status.text || b.state));
    }

    /** A node as the workspace labels it (an unnamed mqtt-in shows its topic), else its id. */
    function holderLabel(id) {
        var node = window.RED.nodes.node(id);
        return node && window.RED.utils && typeof window.RED.utils.getNodeLabel === 'function' ? window.RED.utils.getNodeLabel(node, id) : id;
    }

    function subscriptionList(b) {
        var box = $('<div class="mqtt-wire-sb-subscriptions"></div>');
        $('<div class="mqtt-wire-sb-heading"></div>').text(t('subscriptions')).appendTo(box);
        if (b.subscriptions.length === 0) {
            return box.append($('<div class="mqtt-wire-sb-muted"></div>').text(t('no-subscriptions')));
        }
        var list = $('<ul></ul>').appendTo(box);
        b.subscriptions.forEach(function (s) {
            var item = $('<li class="mqtt-wire-sb-subscription"></li>').attr('data-filter', s.filter).appendTo(list);
            $('<span class="mqtt-wire-sb-filter"></span>').text(s.filter).appendTo(item);
            $('<span class="mqtt-wire-sb-badge"></span>').text(t('qos', { qos: s.qos })).appendTo(item);
            if (!s.subscribed) { $('<span class="mqtt-wire-sb-muted"></span>').text(' ' + t('not-subscribed')).appendTo(item); }
            var holders = $('<div class="mqtt-wire-sb-muted"></div>').text(t('held-by') + ' ').appendTo(item);
            s.holders.forEach(function (h, i) {
                if (i > 0) { holders.append(', '); }
                $('<a href="#" class="mqtt-wire-sb-holder"></a>').attr('data-node-id', h.id).text(h.name || holderLabel(h.id))
                    .on('click', function (e) { e.preventDefault(); reveal(h.id); })
                    .appendTo(holders);
            });
        });
        return box;
    }

    /** `path`: the levels above, as a key of what is collapsed. */
    function topicTree(path, nodes) {
        var list = $('<ul></ul>');
        nodes.forEach(function (n) {
            var key = path + '\u0000' + n.level;
            var item = $('<li></li>').appendTo(list);
            var line = $('<div></div>').appendTo(item);
            var hasChildren = n.children.length > 0;
            var label = $('<span class="mqtt-wire-sb-level"></span>').text((hasChildren ? (collapsed[key] ? '▸ ' : '▾ ') : '') + (n.level === '' ? '∅' : n.level)).appendTo(line);
            if (n.last) {
                item.addClass('mqtt-wire-sb-topic').attr('data-topic', n.topic);
                line.attr('title', n.topic + ' - ' + new Date(n.last.at).toLocaleTimeString() + (n.last.direction === 'out' ? ' - ' + t('out') : ''));
                $('<span class="mqtt-wire-sb-payload"></span>').text(payloadText(n.last.payload)).appendTo(line);
                $('<span class="mqtt-wire-sb-badge mqtt-wire-sb-qos"></span>').text(t('qos', { qos: n.last.qos })).appendTo(line);
                if (n.last.retain) { $('<span class="mqtt-wire-sb-badge mqtt-wire-sb-retained"></span>').text(t('retained')).appendTo(line); }
            }
            if (hasChildren) {
                label.on('click', function () {
                    collapsed[key] = !collapsed[key];
                    draw();
                });
                if (!collapsed[key]) { topicTree(key, n.children).appendTo(item); }
            }
        });
        return list;
    }

    function trafficPart(b) {
        var box = $('<div></div>');
        if (!b.monitor) {
            return box.append($('<div class="mqtt-wire-sb-monitor-off mqtt-wire-sb-muted"></div>').text(t('monitor-off')));
        }
        var tr = b.traffic;
        $('<div class="mqtt-wire-sb-rates"></div>').text(t('rates', { in: round(tr.rates.in), out: round(tr.rates.out) })).appendTo(box);
        $('<div class="mqtt-wire-sb-muted"></div>').text(t('totals', { in: tr.totals.in, out: tr.totals.out })).appendTo(box);
        $('<div class="mqtt-wire-sb-heading"></div>').text(t('topics', { count: tr.topicCount, max: tr.limits.maxTopics })).appendTo(box);
        var topics = $('<div class="mqtt-wire-sb-topics"></div>').appendTo(box);
        if (tr.topicCount === 0) {
            topics.append($('<div class="mqtt-wire-sb-muted"></div>').text(t('no-topics')));
        } else {
            topics.append(topicTree(b.id, tr.tree));
        }
        if (tr.evicted > 0) { $('<div class="mqtt-wire-sb-muted"></div>').text(t('evicted', { count: tr.evicted })).appendTo(box); }
        return box;
    }

    function round(n) {
        return n >= 10 ? Math.round(n) : Math.round(n * 10) / 10;
    }

    function brokerBox(b) {
        var box = $('<div class="mqtt-wire-sb-broker"></div>').attr('data-broker-id', b.id);
        $('<div class="mqtt-wire-sb-title"></div>').text(b.name || b.address || b.id).appendTo(box);
        stateRow(b).appendTo(box);
        if (b.address) { $('<div class="mqtt-wire-sb-address"></div>').text(t('address', { address: b.address })).appendTo(box); }
        $('<div class="mqtt-wire-sb-since mqtt-wire-sb-muted"></div>')
            .text(b.connectedSince ? t('since', { time: new Date(b.connectedSince).toLocaleString() }) : t('not-connected'))
            .appendTo(box);
        subscriptionList(b).appendTo(box);
        trafficPart(b).appendTo(box);
        return box;
    }

    var last = null;

    function draw() {
        if (!content || !last) { return; }
        var top = content.scrollTop();
        content.empty();
        if (last.error) {
            $('<div id="mqtt-wire-sidebar-error" class="mqtt-wire-sb-muted"></div>').text(t('error', { reason: last.error })).appendTo(content);
        } else if (last.brokers.length === 0) {
            $('<div id="mqtt-wire-sidebar-empty" class="mqtt-wire-sb-muted"></div>').text(t('empty')).appendTo(content);
        } else {
            last.brokers.forEach(function (b) { brokerBox(b).appendTo(content); });
        }
        content.scrollTop(top);
    }

    var pending = false;
    function poll(force) {
        if (!content || pending || (!force && !content.is(':visible'))) { return; }
        pending = true;
        $.ajax({ url: 'mqtt-wire/sidebar', dataType: 'json', cache: false })
            .done(function (data) { last = { brokers: data.brokers || [] }; })
            .fail(function (xhr) { last = { error: xhr.status ? xhr.status + ' ' + (xhr.statusText || '') : 'no answer' }; })
            .always(function () { pending = false; draw(); });
    }

    function addTab() {
        if (content) { return; }
        addStyle();
        content = $('<div id="mqtt-wire-sidebar"></div>');
        window.RED.sidebar.addTab({
            id: 'mqtt-wire',
            label: t('label'),
            name: t('name'),
            iconClass: 'fa fa-exchange',
            content: content,
            enableOnEdit: true,
            onchange: function () { poll(true); }
        });
        setInterval(poll, POLL_MS);
    }

    /** The topics seen that fit what is typed: those it matches as a filter (with + or #), or that contain it. */
    function fitting(topics, value) {
        var typed = String(value || '');
        var lower = typed.toLowerCase();
        var topicLib = window.MqttWireTopic;
        return topics.filter(function (topic) {
            if (typed === '') { return true; }
            if (/[+#]/.test(typed) && topicLib && typeof topicLib.topicMatches === 'function' && topicLib.checkTopicFilter(typed) === null) {
                return topicLib.topicMatches(typed, topic);
            }
            return topic.toLowerCase().indexOf(lower) !== -1;
        }).slice(0, COMPLETIONS);
    }

    /**
     * Offers the topics the chosen broker-config has seen as completions in a topic field, with the
     * editor's autoComplete widget (Node-RED 3.1 and later); without it the field stays as it is.
     */
    function completeTopics(input, brokerOf) {
        if (!input || !input.length || typeof $.fn.autoComplete !== 'function') { return; }
        // The ids of the running broker-configs that watch their topics, asked once per dialog: a
        // broker-config that is not deployed yet has no topics, and asking for them would be a 404.
        var watching = null;
        function watchingBrokers() {
            if (!watching) {
                watching = $.ajax({ url: 'mqtt-wire/sidebar', dataType: 'json', cache: false }).then(function (data) {
                    return (data.brokers || []).filter(function (b) { return b.monitor; }).map(function (b) { return b.id; });
                });
            }
            return watching;
        }
        input.autoComplete({
            minLength: 0,
            search: function (value, done) {
                var id = brokerOf();
                if (!id || id === '_ADD_') { done([]); return; }
                watchingBrokers().then(function (ids) {
                    if (ids.indexOf(id) === -1) { done([]); return; }
                    $.ajax({ url: 'mqtt-wire/sidebar/' + encodeURIComponent(id) + '/topics', dataType: 'json', cache: false })
                        .done(function (data) {
                            // As { value, label }: Node-RED 3.1's autoComplete shows nothing for plain strings.
                            done(fitting(data.topics || [], value).map(function (topic) { return { value: topic, label: topic }; }));
                        })
                        .fail(function () { done([]); });
                }, function () { done([]); });
            }
        });
    }

    window.MqttWireSidebar = { addTab: addTab, completeTopics: completeTopics, fitting: fitting, payloadText: payloadText };
})(window);
