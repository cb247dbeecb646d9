#!/usr/bin/env node
'use strict';
// The package's command: `npx node-red-contrib-mqtt-wire migrate flows.json` rewrites the core MQTT
// nodes of a flow file as this package's nodes (the rules are in dist/lib/migrate.js).
const fs = require('fs');
const path = require('path');

const USAGE = `Usage: node-red-contrib-mqtt-wire migrate <flows.json> [--in-place | --output <file>]

Rewrites Node-RED's core MQTT nodes (mqtt-broker, mqtt in, mqtt out) in a flow file as
broker-config, mqtt-in and mqtt-out, keeping ids, wiring and settings, and reports what it
could not carry over.

  (default)          write the result beside the input, as <name>.mqtt-wire.json, and copy
                     <name>_cred.json to <name>.mqtt-wire_cred.json when there is one
  --in-place         rewrite the input file, after copying it to <name>.json.backup
  --output <file>    write the result to <file>
  --help             show this text`;

/** Exit codes: 0 done, 1 the input could not be read or is not a flow, 2 a wrong command line. */
const EXIT_UNREADABLE = 1;
const EXIT_USAGE = 2;

function fail(message, code) {
    process.stderr.write(`${message}\n`);
    process.exit(code);
}

function parseArguments(args) {
    const options = { input: null, inPlace: false, output: null };
    if (args.includes('--help') || args.includes('-h')) {
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
    }
    if (args[0] !== 'migrate') fail(`${args[0] ? `Unknown command "${args[0]}".` : 'No command given.'}\n\n${USAGE}`, EXIT_USAGE);
    for (let i = 1; i < args.length; i++) {
        const arg = args[i];
        if (arg === '--in-place') options.inPlace = true;
        else if (arg === '--output' || arg === '-o') {
            if (!args[i + 1]) fail(`${arg} needs a file name.`, EXIT_USAGE);
            options.output = args[++i];
        } else if (arg.startsWith('-')) fail(`Unknown option "${arg}".\n\n${USAGE}`, EXIT_USAGE);
        else if (options.input) fail(`One flow file at a time ("${options.input}", then "${arg}").`, EXIT_USAGE);
        else options.input = arg;
    }
    if (!options.input) fail(`Which flow file?\n\n${USAGE}`, EXIT_USAGE);
    if (options.inPlace && options.output) fail('--in-place and --output exclude each other.', EXIT_USAGE);
    return options;
}

/** The name Node-RED gives the credentials file of a flow file: flows.json -> flows_cred.json. */
function credentialsFileOf(flowFile) {
    const ext = path.extname(flowFile);
    return path.join(path.dirname(flowFile), `${path.basename(flowFile, ext)}_cred${ext || '.json'}`);
}

function defaultOutputOf(flowFile) {
    const ext = path.extname(flowFile);
    return path.join(path.dirname(flowFile), `${path.basename(flowFile, ext)}.mqtt-wire${ext || '.json'}`);
}

/** A file name not taken yet: `wanted`, else `wanted.1`, `wanted.2`, ... */
function freeName(wanted) {
    let name = wanted;
    for (let n = 1; fs.existsSync(name); n++) name = `${wanted}.${n}`;
    return name;
}

/** Writes beside the target and renames, so a failed write never leaves half a flow file. */
function writeWhole(file, text) {
    const temporary = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, text);
    fs.renameSync(temporary, file);
}

function main() {
    const options = parseArguments(process.argv.slice(2));
    const { parseFlow, migrateFlow, formatReport } = require(path.join(__dirname, '..', 'dist', 'lib', 'migrate.js'));

    let text;
    try {
        text = fs.readFileSync(options.input, 'utf8');
    } catch (err) {
        fail(`Cannot read ${options.input}: ${err.message}`, EXIT_UNREADABLE);
    }
    let flow;
    try {
        flow = parseFlow(text);
    } catch (err) {
        fail(`${options.input} is not a flow file that can be migrated: ${err.message}`, EXIT_UNREADABLE);
    }

    const result = migrateFlow(flow);
    // Node-RED writes flows.json indented by four spaces (flowFilePretty) or on one line: keep the same.
    const pretty = /\n/.test(text.trim());
    const out = `${pretty ? JSON.stringify(result.flow, null, 4) : JSON.stringify(result.flow)}\n`;
    const lines = [formatReport(result), ''];

    if (result.migrated.length === 0) {
        lines.push(`${options.input} is left as it was; no file written.`);
    } else if (options.inPlace) {
        const backup = freeName(`${options.input}.backup`);
        fs.copyFileSync(options.input, backup);
        writeWhole(options.input, out);
        lines.push(`Rewrote ${options.input}; the original is in ${backup}.`);
    } else {
        const output = options.output || defaultOutputOf(options.input);
        writeWhole(output, out);
        lines.push(`Wrote ${output}; ${options.input} is left as it was.`);
        const credentials = credentialsFileOf(options.input);
        if (fs.existsSync(credentials)) {
            const copy = credentialsFileOf(output);
            if (path.resolve(copy) !== path.resolve(credentials)) {
                fs.copyFileSync(credentials, copy);
                lines.push(`Copied ${credentials} to ${copy}, the name Node-RED looks for beside ${path.basename(output)}.`);
            }
        }
    }
    process.stdout.write(`${lines.join('\n')}\n`);
}

try {
    main();
} catch (err) {
    fail(`Migration failed: ${err.message}`, EXIT_UNREADABLE);
}
