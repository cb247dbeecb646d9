/**
 * A headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) on a real Node-RED
 * editor, for the browser tests: a fresh profile; every request that is not to 127.0.0.1 aborted and
 * recorded; the browser console and page errors collected, those of this package's scripts apart;
 * and steps that each leave a screenshot in test/screenshots/<node-red version>/ and, when one
 * fails, a screenshot and the console there too, with the console errors in the error message.
 *
 * Chromium is required: when it is missing the test fails (.ci/run installs the Debian package).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Browser, BrowserContext, Locator, Page, chromium } from 'playwright-core';
import { PACKAGE_NAME, PACKAGE_ROOT, defaultNodeRedPath } from '../support/node-red-process';

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** How long one step of a journey may take: a deploy, a broker test and a slow CI machine fit in it. */
const STEP_TIMEOUT_MS = 60000;
/** How long one wait for what the user reads may take. */
export const READ_TIMEOUT_MS = 20000;

/**
 * The settings a browser test's Node-RED runs with: those `npm start` writes (scripts/start.js) -
 * no welcome tour over the workspace, and no palette catalogue fetched from the internet.
 */
export const EDITOR_SETTINGS = { editorTheme: { tours: false, palette: { catalogues: [] } } };

export const NODE_RED_VERSION: string = JSON.parse(fs.readFileSync(path.join(defaultNodeRedPath(), 'package.json'), 'utf8')).version;
export const NODE_RED_MAJOR = Number(NODE_RED_VERSION.split('.')[0]);
export const SCREENSHOTS_ROOT = path.join(PACKAGE_ROOT, 'test', 'screenshots');

/** An error the browser reported: a console error (or one of our warnings), or an uncaught page error. */
export interface BrowserProblem {
    kind: 'console' | 'pageerror';
    text: string;
    where: string;
}

/** Whether a browser problem comes from this package: its scripts and catalogues, its admin routes. */
function fromThisPackage(p: BrowserProblem): boolean {
    return /node-red-contrib-mqtt-wire|\/mqtt-wire\/|MqttWire/.test(`${p.text}\n${p.where}`);
}

export class EditorSession {
    readonly browser: Browser;
    readonly context: BrowserContext;
    readonly page: Page;
    readonly dir: string;
    /** Requests (and WebSockets) the editor tried to send off the machine. */
    readonly offMachine: string[] = [];
    readonly problems: BrowserProblem[] = [];
    private readonly consoleLines: string[] = [];
    private stepNumber = 0;

    private constructor(browser: Browser, context: BrowserContext, page: Page, dir: string) {
        this.browser = browser;
        this.context = context;
        this.page = page;
        this.dir = dir;
    }

    /** Starts Chromium with a fresh profile; `name` is the screenshot folder of this test file. */
    static async start(name: string, options: { locale?: string } = {}): Promise<EditorSession> {
        if (!fs.existsSync(CHROMIUM)) {
            throw new Error(`Chromium is not installed at ${CHROMIUM}: apt-get install -y chromium fonts-wqy-microhei`);
        }
        const dir = path.join(SCREENSHOTS_ROOT, `node-red-${NODE_RED_VERSION}`, name);
        fs.rmSync(dir, { recursive: true, force: true });
        fs.mkdirSync(dir, { recursive: true });
        const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
        const context = await browser.newContext({
            viewport: { width: 1400, height: 900 },
            locale: options.locale ?? 'en-US',
            // Every request goes through the route below, none is answered by a service worker.
            serviceWorkers: 'block',
        });
        const page = await context.newPage();
        const session = new EditorSession(browser, context, page, dir);
        await context.route('**/*', (route) => {
            const url = new URL(route.request().url());
            if (url.hostname === '127.0.0.1') return route.continue();
            session.offMachine.push(`${route.request().method()} ${url.href}`);
            return route.abort('blockedbyclient');
        });
        page.on('websocket', (ws) => {
            if (new URL(ws.url()).hostname !== '127.0.0.1') session.offMachine.push(`WebSocket ${ws.url()}`);
        });
        page.on('console', (message) => {
            const location = message.location();
            const where = location.url ? `${location.url}:${location.lineNumber}` : '';
            session.consoleLines.push(`[${message.type()}] ${message.text()}${where ? `  (${where})` : ''}`);
            const problem: BrowserProblem = { kind: 'console', text: message.text(), where };
            if (message.type() === 'error' || (message.type() === 'warning' && fromThisPackage(problem))) {
                session.problems.push(problem);
            }
        });
        page.on('pageerror', (error) => {
            session.consoleLines.push(`[pageerror] ${error.stack ?? error.message}`);
            session.problems.push({ kind: 'pageerror', text: error.message, where: error.stack ?? '' });
        });
        page.setDefaultTimeout(READ_TIMEOUT_MS);
        return session;
    }

    /** The problems that come from this package's scripts: each one fails the test. */
    ourProblems(): BrowserProblem[] {
        return this.problems.filter(fromThisPackage);
    }

    /** The problems of Node-RED's own editor (or the browser), listed, not failed on. */
    otherProblems(): BrowserProblem[] {
        return this.problems.filter((p) => !fromThisPackage(p));
    }

    private consoleErrorsText(): string {
        if (this.problems.length === 0) return 'browser console errors: none';
        return `browser console errors:\n${this.problems.map((p) => `  ${p.kind}: ${p.text}${p.where ? `\n    at ${p.where.split('\n').join('\n    ')}` : ''}`).join('\n')}`;
    }

    /** Fails when the editor tried to reach another machine or one of our scripts reported an error. */
    assertClean(): void {
        if (this.offMachine.length > 0) {
            throw new Error(`the editor tried to reach ${this.offMachine.length} address(es) off this machine:\n  ${this.offMachine.join('\n  ')}`);
        }
        const ours = this.ourProblems();
        if (ours.length > 0) {
            throw new Error(`the browser reported errors from ${PACKAGE_NAME}:\n${ours.map((p) => `  ${p.kind}: ${p.text} (${p.where})`).join('\n')}`);
        }
    }

    private file(stem: string): string {
        return path.join(this.dir, `${String(this.stepNumber).padStart(2, '0')}-${stem.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`);
    }

    /**
     * One step of the journey: runs `body` within a generous time, then saves a screenshot of the page.
     * When it fails (or one of our scripts reported an error meanwhile), it saves a screenshot and the
     * browser console beside the others and throws with the step's name and the console errors.
     */
    async step<T>(name: string, body: () => Promise<T>): Promise<T> {
        this.stepNumber++;
        let timer: NodeJS.Timeout | undefined;
        try {
            const timeout = new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new Error(`the step took longer than ${STEP_TIMEOUT_MS} ms`)), STEP_TIMEOUT_MS);
            });
            const result = await Promise.race([body(), timeout]);
            this.assertClean();
            await this.page.screenshot({ path: `${this.file(name)}.png` });
            return result;
        } catch (err) {
            const stem = this.file(`${name}-failed`);
            await this.page.screenshot({ path: `${stem}.png` }).catch(() => undefined);
            fs.writeFileSync(`${stem}-console.txt`, this.consoleLines.join('\n') + '\n');
            const message = err instanceof Error ? err.message : String(err);
            const failure = new Error(`step "${name}" failed: ${message}\n${this.consoleErrorsText()}\nscreenshot and console: ${stem}.png, ${stem}-console.txt`);
            // The compiled target's Error has no options argument; the cause is kept all the same.
            Object.assign(failure, { cause: err });
            throw failure;
        } finally {
            clearTimeout(timer);
        }
    }

    /**
     * A screenshot of one part of the page, as `<name>.png` in this test's folder: `container` (a
     * dialog, the sidebar) across, from its top down to the bottom of `lastPart` inside it.
     */
    async shotOf(container: Locator, lastPart: Locator, name: string): Promise<string> {
        const box = await container.boundingBox();
        const end = await lastPart.boundingBox();
        if (!box || !end) throw new Error(`${name}: the part to take a screenshot of is not shown`);
        const file = path.join(this.dir, `${name}.png`);
        const height = Math.min(box.y + box.height, end.y + end.height + 12) - box.y;
        await this.page.screenshot({ path: file, clip: { x: box.x, y: box.y, width: box.width, height } });
        return file;
    }

    /** Where the screenshots are, and the errors of Node-RED's own editor (listed, not failed on). */
    summary(): string {
        const others = this.otherProblems();
        return `screenshots of Node-RED ${NODE_RED_VERSION}: ${this.dir}` + (others.length ? `; errors of Node-RED's own editor: ${others.map((p) => p.text).join(' | ')}` : '');
    }

    async close(): Promise<void> {
        fs.writeFileSync(path.join(this.dir, 'console.txt'), this.consoleLines.join('\n') + '\n');
        await this.browser.close();
    }
}

/**
 * Waits until `read()` gives a value `accepts` takes, and returns it; on timeout throws saying what
 * the user should have read (`what`) and what was there last.
 */
export async function until<T>(what: string, read: () => Promise<T>, accepts: (value: T) => boolean, timeoutMs = READ_TIMEOUT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: T | undefined;
    let lastError: unknown;
    for (;;) {
        try {
            last = await read();
            if (accepts(last)) return last;
        } catch (err) {
            lastError = err;
        }
        if (Date.now() > deadline) {
            const seen = last === undefined ? `nothing (${lastError instanceof Error ? lastError.message.split('\n')[0] : String(lastError)})` : last === null ? 'nothing shown' : JSON.stringify(last);
            throw new Error(`expected ${what}; read ${seen}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
    }
}

/** The text a user reads in an element: its rendered text, or the text of an SVG element (the workspace). */
function visibleText(target: Locator): Promise<string> {
    return target.evaluate((el) => {
        const shown = el as unknown as { innerText?: string; textContent: string | null };
        return (shown.innerText ?? shown.textContent ?? '').replace(/\s+/g, ' ').trim();
    });
}

/** The visible text of `target` once it is shown and matches `expected`. */
export async function readText(target: Locator, expected: string | RegExp, what: string, timeoutMs = READ_TIMEOUT_MS): Promise<string> {
    const matches = (text: string | null): boolean => text !== null && (typeof expected === 'string' ? text === expected : expected.test(text));
    const text = await until(`${what}: ${expected}`, async () => ((await target.isVisible()) ? visibleText(target) : null), matches, timeoutMs);
    return text ?? '';
}

/** Drags `source` and drops it at (x, y) of the page, with the mouse moving in steps as a hand does. */
export async function dragWithMouse(page: Page, source: Locator, x: number, y: number): Promise<void> {
    await source.scrollIntoViewIfNeeded();
    const box = await source.boundingBox();
    if (!box) throw new Error('the element to drag is not shown');
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + 10, box.y + box.height / 2 + 5, { steps: 3 });
    await page.mouse.move(x, y, { steps: 20 });
    await page.mouse.up();
}
