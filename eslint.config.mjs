// One linter configuration for the TypeScript, the plain scripts, and the editor script inside
// the nodes' .html files (eslint-plugin-html lints their <script type="text/javascript"> blocks).
import js from '@eslint/js';
import html from 'eslint-plugin-html';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
    { ignores: ['dist/', 'dist-test/', 'resources/', 'node_modules/', '.ci/.cache/', '.node-red-dev/', 'nodes/locales/'] },
    {
        files: ['**/*.ts'],
        extends: [js.configs.recommended, ...tseslint.configs.recommended],
        languageOptions: { globals: globals.node },
        rules: {
            // Node-RED's own API and MQTT.js's packets are untyped in places; an `any` there is deliberate.
            '@typescript-eslint/no-explicit-any': 'off',
            // CommonJS requires of the compiled nodes in tests and of Node-RED's test helper.
            '@typescript-eslint/no-require-imports': 'off',
            '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
            // A node's constructor names its `this` as `node`, as Node-RED's own nodes do.
            '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['node'] }],
        },
    },
    {
        files: ['bench/**/*.js', 'scripts/**/*.js', 'test/**/*.js'],
        extends: [js.configs.recommended],
        languageOptions: { sourceType: 'commonjs', globals: globals.node },
        rules: { 'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }] },
    },
    {
        files: ['nodes/**/*.html', 'nodes/editor/**/*.js'],
        plugins: { html },
        extends: [js.configs.recommended],
        languageOptions: {
            sourceType: 'script',
            globals: { ...globals.browser, RED: 'readonly', $: 'readonly', jQuery: 'readonly' },
        },
        rules: { 'no-unused-vars': ['error', { args: 'none', caughtErrors: 'none' }] },
    },
);
