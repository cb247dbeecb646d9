'use strict';
// Second half of `npm run build`: tsc has compiled nodes/ to dist/; Node-RED also needs each node's
// editor .html beside its .js, the message catalogues and icons, and the editor needs the topic and
// broker-settings rules and the helpers the node definitions share (nodes/editor/), all served from
// resources/.
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

// The editor checks topics and broker settings with the very modules the runtime uses, compiled from
// nodes/lib/ and requiring nothing. Each is wrapped so that in the browser it defines a global on
// window; Node-RED serves it at /resources/node-red-contrib-mqtt-wire/<name>.js.
const servedModules = [
    { name: 'topic', global: 'MqttWireTopic' },
    { name: 'broker-settings', global: 'MqttWireBrokerSettings' },
    { name: 'status-text', global: 'MqttWireStatusText' },
];
fs.mkdirSync(path.join(root, 'resources'), { recursive: true });
const compiledModule = (name) => fs.readFileSync(path.join(dist, 'lib', `${name}.js`), 'utf8').replace(/^\/\/# sourceMappingURL=.*$/m, '');
const REQUIRE = /\brequire\(([^)]*)\)/g;
for (const { name, global } of servedModules) {
    const compiled = compiledModule(name);
    // A served module may require modules of nodes/lib/ that require nothing themselves: each is built
    // into the same file (broker-settings.ts uses aliyun-settings.ts).
    const inlined = [];
    for (const [, argument] of compiled.matchAll(REQUIRE)) {
        const dependency = /^"\.\/([a-z0-9-]+)"$/.exec(argument);
        const dependencyCode = dependency && compiledModule(dependency[1]);
        if (!dependency || /\brequire\(/.test(dependencyCode)) {
            throw new Error(`nodes/lib/${name}.ts must import only modules of nodes/lib/ that import nothing: the editor loads it without a bundler`);
        }
        if (!inlined.some((d) => d.file === dependency[1])) inlined.push({ file: dependency[1], code: dependencyCode });
    }
    const wrapped =
        `/* Built by scripts/copy-assets.js from dist/lib/${name}.js (source: nodes/lib/${name}.ts). Do not edit. */\n` +
        '(function (root) {\n' +
        (inlined.length === 0
            ? ''
            : 'var builtIn = {};\n' +
              inlined.map((d) => `builtIn['./${d.file}'] = (function () {\nvar module = { exports: {} }; var exports = module.exports;\n${d.code}\nreturn module.exports;\n})();\n`).join('') +
              "var require = function (id) { if (builtIn[id]) { return builtIn[id]; } throw new Error('not built in: ' + id); };\n") +
        'var module = { exports: {} }; var exports = module.exports;\n' +
        compiled +
        `\nroot.${global} = module.exports;\n` +
        "})(typeof window !== 'undefined' ? window : globalThis);\n";
    fs.writeFileSync(path.join(root, 'resources', `${name}.js`), wrapped);
}

// The editor helpers shared by the node definitions (nodes/editor/*: plain browser scripts, no build
// step), served at /resources/node-red-contrib-mqtt-wire/<file> beside topic.js.
const editorSrc = path.join(src, 'editor');
for (const file of fs.readdirSync(editorSrc)) {
    if (fs.statSync(path.join(editorSrc, file)).isFile()) {
        fs.copyFileSync(path.join(editorSrc, file), path.join(root, 'resources', file));
    }
}
