/**
 * A node status as the editor shows it: the editor's own status script (resources/status-text.js and
 * resources/mqtt-wire-status.js, as served) runs in a sandbox with a stand-in for the parts of the
 * editor's RED it uses, and i18next (the library and settings of Node-RED's editor) holds this
 * package's catalogues in the chosen language. A status message goes through the comms subscribers
 * as in the editor: Node-RED's own handler (translating a text that starts with a letter as a bare
 * key, as the editor does) stores it on the node, then the package's script renders it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vm from 'node:vm';
import type { NodeStatus } from './node-red';

const root = path.join(__dirname, '..', '..');
const PACKAGE = 'node-red-contrib-mqtt-wire';
const SETS = ['broker-config', 'mqtt-in', 'mqtt-out'];

type Subscriber = (topic: string, msg: NodeStatus) => void;

interface EditorNode {
    id: string;
    type: string;
    status?: NodeStatus;
    _: (key: string, options?: object) => string;
}

/** i18next as Node-RED's editor sets it up, with this package's catalogues in `lang` (en-US the fallback). */
function translator(lang: string): (key: string, options?: object) => string {
    const i18next = require('i18next');
    const instance = i18next.createInstance();
    const resources: Record<string, Record<string, unknown>> = {};
    for (const language of new Set([lang, 'en-US'])) {
        resources[language] = {};
        for (const set of SETS) {
            resources[language][`${PACKAGE}/${set}`] = JSON.parse(fs.readFileSync(path.join(root, 'nodes', 'locales', language, `${set}.json`), 'utf8'));
        }
    }
    instance.init({
        lng: lang,
        fallbackLng: ['en-US'],
        resources,
        ns: SETS.map((set) => `${PACKAGE}/${set}`),
        keySeparator: '.',
        nsSeparator: ':',
        returnObjects: true,
        interpolation: { unescapeSuffix: 'HTML', escapeValue: false, prefix: '__', suffix: '__' },
        showSupportNotice: false,
        // Synchronous init: i18next 21 (Node-RED 3 and 4) reads initImmediate, 25 initAsync.
        initImmediate: false,
        initAsync: false,
    });
    return (key, options) => {
        const value = instance.t(key, options);
        return typeof value === 'string' ? value : key;
    };
}

export interface EditorStatus {
    /** What the editor's canvas shows for the status `status` of node `id` of `type`. */
    show(id: string, type: string, status: NodeStatus): Promise<string | undefined>;
    /** A status text in words (the package's script alone), or null when it is not an encoded status. */
    render(text: unknown): string | null;
}

export function editorStatus(lang: string): EditorStatus {
    const t = translator(lang);
    const nodes = new Map<string, EditorNode>();
    const subscribers: Subscriber[] = [];
    const RED = {
        _: t,
        comms: { subscribe: (topic: string, fn: Subscriber) => topic === 'status/#' && subscribers.push(fn) },
        nodes: { node: (id: string) => nodes.get(id) },
        view: { redrawStatus: () => undefined },
    };
    const window: Record<string, unknown> = { RED };
    const context = vm.createContext({ window, Promise });
    for (const file of ['status-text.js', 'mqtt-wire-status.js']) {
        vm.runInContext(fs.readFileSync(path.join(root, 'resources', file), 'utf8'), context, { filename: file });
    }
    // Node-RED's own handler, subscribed after the node definitions' scripts have run.
    subscribers.push((topic, msg) => {
        const node = nodes.get(topic.split('/')[1]);
        if (!node) return;
        if (typeof msg.text === 'string' && /^[@a-zA-Z]/.test(msg.text)) msg.text = node._(msg.text, { defaultValue: msg.text });
        node.status = msg;
    });
    const script = window.MqttWireStatus as { render(text: unknown): string | null };
    return {
        render: (text) => script.render(text),
        async show(id, type, status) {
            if (!nodes.has(id)) {
                const ns = `${PACKAGE}/${type}`;
                nodes.set(id, { id, type, _: (key, options) => t(key.includes(':') ? key : `${ns}:${key}`, options) });
            }
            const msg = { text: status.text, fill: status.fill, shape: status.shape };
            for (const subscriber of subscribers) subscriber(`status/${id}`, msg);
            await new Promise((resolve) => setImmediate(resolve));
            return nodes.get(id)?.status?.text;
        },
    };
}

/** A status text in the words of `lang` (en-US by default); the text itself when it is not encoded. */
export function statusInWords(status: NodeStatus | undefined, lang = 'en-US'): string {
    return editorStatus(lang).render(status?.text) ?? String(status?.text ?? '');
}
