/*
 * The behaviour of the broker-config dialog (nodes/broker-config.html) beyond its fields: the birth,
 * close and will messages, one markup put in three times; the problem of each field written under it;
 * the Advanced section that is folded until needed; and the Test connection button, which asks the
 * runtime (nodes/broker-config-admin.ts) to try the settings the dialog holds.
 *
 * Plain browser script, no build step: scripts/copy-assets.js copies it to resources/, and Node-RED
 * serves it at resources/node-red-contrib-mqtt-wire/broker-config-dialog.js, as window.MqttWireBrokerDialog.
 */
(function (window) {
    'use strict';

    if (window.MqttWireBrokerDialog) {
        return;
    }

    var $ = window.jQuery;
    var KEYS = 'node-red-contrib-mqtt-wire/broker-config:broker-config.';

    function t(key, values) {
        return window.RED._(KEYS + key, values);
    }

    /** A place for one message in the dialog's template: <div data-mqtt-wire-lifecycle="<kind>" data-icon="<icon>"></div>. */
    var LIFECYCLE_SLOT = /<div data-mqtt-wire-lifecycle="(\w+)" data-icon="([\w-]+)"><\/div>/g;

    /**
     * The dialog's template `formText` with each place for a birth, close or will message filled with
     * `messageText`, the one markup of a message, its {kind} and {icon} written out.
     */
    function withLifecycleMessages(formText, messageText) {
        return formText.replace(LIFECYCLE_SLOT, function (slot, kind, icon) {
            return messageText.replace(/\{kind\}/g, kind).replace(/\{icon\}/g, icon);
        });
    }

    /**
     * Writes the birth, close and will messages into the template of the broker-config dialog, once, as
     * the node type is registered: the editor fills the fields of the template by their ids before
     * oneditprepare runs, so they must be in the template it builds the dialog from.
     */
    function putLifecycleMessages() {
        var form = $('script[data-template-name="broker-config"]');
        var message = $('script#mqtt-wire-lifecycle-message');
        if (form.length !== 1 || message.length !== 1) {
            throw new Error('node-red-contrib-mqtt-wire: the broker-config template or #mqtt-wire-lifecycle-message is missing');
        }
        form.text(withLifecycleMessages(form.text(), message.text()));
    }

    /**
     * Puts an empty problem line (id mqtt-wire-problem-<name>) into the row of each field
     * (#node-config-input-<name>) and returns a function that writes each field's problem, from
     * `problemOf(name)` (a text, or null), under it and returns the names that have one. A row holds its
     * problem line, so the line hides with the row.
     */
    function fieldProblems(names, problemOf) {
        var lines = {};
        names.forEach(function (name) {
            var input = $('#node-config-input-' + name);
            var row = input.closest('.form-row');
            if (!row.length) {
                return;
            }
            var line = $('<div class="mqtt-wire-field-problem" style="display: none;"></div>').attr('id', 'mqtt-wire-problem-' + name);
            var hint = row.children('.mqtt-wire-hint').first();
            if (hint.length) {
                line.insertBefore(hint);
            } else {
                line.appendTo(row);
            }
            lines[name] = line;
        });
        return function refresh() {
            var failing = [];
            Object.keys(lines).forEach(function (name) {
                var problem = problemOf(name);
                lines[name].text(problem || '').toggle(!!problem);
                if (problem) {
                    failing.push(name);
                }
            });
            return failing;
        };
    }

    /**
     * The Advanced section: folded, with the number of problems inside shown on its title; `unfold`
     * opens it (used when a field inside has a problem as the dialog opens).
     */
    function advancedSection() {
        var toggle = $('#mqtt-wire-advanced-toggle');
        var body = $('#mqtt-wire-advanced');
        var caret = $('#mqtt-wire-advanced-caret');
        function show(open) {
            body.toggle(open);
            caret.toggleClass('fa-caret-right', !open).toggleClass('fa-caret-down', open);
            toggle.attr('aria-expanded', String(open));
        }
        toggle.on('click', function () { show(!body.is(':visible')); });
        toggle.on('keydown', function (e) {
            if (e.key === 'Enter' || e.key === ' ') {
                e.preventDefault();
                show(!body.is(':visible'));
            }
        });
        show(false);
        return {
            unfold: function () { show(true); },
            /**
             * Shows on the title how many fields inside have a problem written under them, and returns
             * that number. A problem in a part the settings hide (MQTT 5 fields on 3.1.1) does not count.
             */
            problems: function () {
                var count = body.find('.mqtt-wire-field-problem').filter(function () {
                    var line = $(this);
                    var hidden = line.parentsUntil(body).filter(function () { return this.style.display === 'none'; });
                    return line.text() !== '' && hidden.length === 0;
                }).length;
                $('#mqtt-wire-advanced-problems').text(count ? t('advanced.problems', { count: count }) : '');
                return count;
            }
        };
    }

    /**
     * The Test connection button of `node`'s dialog. `dialogSettings()` gives { props, credentials } as
     * the dialog holds them; `embedded()` whether the mode is embedded (the button then checks the port).
     */
    function testConnection(node, dialogSettings, embedded) {
        var button = $('#mqtt-wire-test-connection');
        var result = $('#mqtt-wire-test-connection-result');
        var pending = null;

        function show(ok, text) {
            result.empty().removeClass('mqtt-wire-test-ok mqtt-wire-test-failed')
                .addClass(ok ? 'mqtt-wire-test-ok' : 'mqtt-wire-test-failed')
                .append($('<i class="fa"></i>').addClass(ok ? 'fa-check' : 'fa-times')).append(' ')
                .append($('<span></span>').text(text))
                .show();
        }

        function label() {
            var inEmbedded = embedded();
            $('#mqtt-wire-test-connection-label').text(t(inEmbedded ? 'test.button-embedded' : 'test.button'));
            $('#mqtt-wire-test-connection-hint').text(t(inEmbedded ? 'test.hint-embedded' : 'test.hint'));
        }

        button.on('click', function (e) {
            e.preventDefault();
            if (pending) {
                return;
            }
            var body = dialogSettings();
            button.prop('disabled', true);
            result.removeClass('mqtt-wire-test-ok mqtt-wire-test-failed').empty()
                .append($('<i class="fa fa-spinner fa-spin"></i>')).append(' ')
                .append($('<span></span>').text(t('test.running'))).show();
            pending = $.ajax({
                url: 'mqtt-wire/broker-config/' + encodeURIComponent(node.id) + '/test-connection',
                type: 'POST',
                contentType: 'application/json',
                data: JSON.stringify(body),
                dataType: 'json',
                timeout: 12000
            }).done(function (answer) {
                var text = window.MqttWireEditor.localizedProblem(KEYS, { code: answer.key, text: answer.text, params: answer.params });
                show(!!answer.ok, text);
            }).fail(function (xhr) {
                var answer = xhr.responseJSON;
                if (answer && answer.key) {
                    show(false, window.MqttWireEditor.localizedProblem(KEYS, { code: answer.key, text: answer.text, params: answer.params }));
                } else {
                    show(false, t(xhr.status === 401 || xhr.status === 403 ? 'test.forbidden' : 'test.no-answer'));
                }
            }).always(function () {
                pending = null;
                button.prop('disabled', false);
            });
        });

        label();
        return {
            /** Call when the mode changes: the button and its line say what it does in that mode; an old result goes. */
            modeChanged: function () {
                label();
                result.hide().empty();
            }
        };
    }

    window.MqttWireBrokerDialog = {
        withLifecycleMessages: withLifecycleMessages,
        putLifecycleMessages: putLifecycleMessages,
        fieldProblems: fieldProblems,
        advancedSection: advancedSection,
        testConnection: testConnection
    };
})(window);
