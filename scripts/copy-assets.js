'use strict';
// Second half of `npm run build`: tsc has compiled nodes/ to dist/; Node-RED also needs each node's
// editor .html beside its .js, the message catalogues and icons, and the editor needs the topic rules
// and the helpers the node definitions share (nodes/editor/), both served from resources/.
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const src = path.join(root, 'nodes');
const dist = path.join(root, 'dist');

for (const file of fs.readdirSync(src)) {
    if (file.endsWith('.html')) {
        fs.copyFileSync(path.join(src, file), path.join(dist, file));
    }
}
for (const dir of ['locales', 'icons']) {
    if (fs.existsSync(path.join(src, dir))) {
        fs.cpSync(path.join(src, dir), path.join(dist, dir), { recursive: true });
    }
}

// The editor validates topics with the very module the runtime uses: dist/lib/topic.js, compiled
// from nodes/lib/topic.ts, which requires nothing. Wrapped so that in the browser it defines
// window.MqttWireTopic; Node-RED serves it at /resources/node-red-contrib-mqtt-wire/topic.js.
const compiled = fs.readFileSync(path.join(dist, 'lib', 'topic.js'), 'utf8');
if (/\brequire\(/.test(compiled)) {
    throw new Error('nodes/lib/topic.ts must not import anything: the editor loads it without a bundler');
}
const wrapped =
    '/* Built by scripts/copy-assets.js from dist/lib/topic.js (source: nodes/lib/topic.ts). Do not edit. */\n' +
    '(function (root) {\n' +
    'var module = { exports: {} }; var exports = module.exports;\n' +
    compiled.replace(/^\/\/# sourceMappingURL=.*$/m, '') +
    '\nroot.MqttWireTopic = module.exports;\n' +
    "})(typeof window !== 'undefined' ? window : globalThis);\n";
fs.mkdirSync(path.join(root, 'resources'), { recursive: true });
fs.writeFileSync(path.join(root, 'resources', 'topic.js'), wrapped);

// The editor helpers shared by the node definitions (nodes/editor/*: plain browser scripts, no build
// step), served at /resources/node-red-contrib-mqtt-wire/<file> beside topic.js.
const editorSrc = path.join(src, 'editor');
for (const file of fs.readdirSync(editorSrc)) {
    if (fs.statSync(path.join(editorSrc, file)).isFile()) {
        fs.copyFileSync(path.join(editorSrc, file), path.join(root, 'resources', file));
    }
}
