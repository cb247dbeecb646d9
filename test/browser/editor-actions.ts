/**
 * What a user does in the Node-RED editor, with the mouse and the keyboard, for the browser tests:
 * place a node from the palette, open it, wire two nodes, deploy, open a sidebar tab, change the
 * editor's language. Each waits for what the editor shows, never for a fixed time. The selectors hold
 * for Node-RED 3.1, 4.1 and 5.0.
 */
import { Locator, Page } from 'playwright-core';
import { READ_TIMEOUT_MS, dragWithMouse, readText, until } from './editor-session';

const CHART = '#red-ui-workspace-chart';
const NODE = `${CHART} g.red-ui-flow-node-group`;

/** Opens the editor and waits until its palette holds this package's nodes. */
export async function openEditor(page: Page, url: string): Promise<void> {
    await page.goto(url + '/');
    await page.locator('.red-ui-palette-node[data-palette-type="mqtt-out"]').waitFor({ timeout: 45000 });
    await page.locator(CHART).waitFor();
}

/** A node on the workspace, by its id (the id attribute of its SVG group). */
export function canvasNode(page: Page, id: string): Locator {
    return page.locator(`${NODE}[id="${id}"]`);
}

async function canvasNodeIds(page: Page): Promise<string[]> {
    return page.locator(NODE).evaluateAll((groups) => groups.map((g) => g.id));
}

/**
 * Drags the palette node of `type` onto the workspace, (dx, dy) from its top left corner, and returns
 * the id of the node that appeared there.
 */
export async function placeFromPalette(page: Page, type: string, dx: number, dy: number): Promise<string> {
    const before = new Set(await canvasNodeIds(page));
    const chart = await page.locator(CHART).boundingBox();
    if (!chart) throw new Error('the workspace is not shown');
    await dragWithMouse(page, page.locator(`.red-ui-palette-node[data-palette-type="${type}"]`), chart.x + dx, chart.y + dy);
    const added = await until(`a new ${type} node on the workspace`, async () => (await canvasNodeIds(page)).filter((id) => !before.has(id)), (ids) => ids.length === 1);
    return added[0];
}

/**
 * Waits until the dialog (tray) that is opening has slid in and the editor has put the focus into it:
 * keys typed before then would go where the editor moves the focus.
 */
export async function waitForDialog(page: Page): Promise<void> {
    await page.waitForFunction(`(() => {
        const trays = document.querySelectorAll('#red-ui-editor-stack .red-ui-tray');
        const top = trays[trays.length - 1];
        return !!top && top.contains(document.activeElement) && document.activeElement !== top;
    })()`);
}

/** Double-clicks a node on the workspace and waits for its edit dialog. */
export async function openNode(page: Page, id: string): Promise<void> {
    await canvasNode(page, id).locator('.red-ui-flow-node').first().dblclick();
    await page.locator('#node-dialog-ok').waitFor();
    await waitForDialog(page);
}

/** Presses Done in the node's edit dialog and waits for the dialog to close. */
export async function closeNodeDialog(page: Page): Promise<void> {
    await page.locator('#node-dialog-ok').click();
    await page.locator('#node-dialog-ok').waitFor({ state: 'detached' });
}

/** Draws a wire with the mouse from the output port of `from` to the input port of `to`. */
export async function wire(page: Page, from: string, to: string): Promise<void> {
    const wiresBefore = await page.locator(`${CHART} .red-ui-flow-link`).count();
    const output = canvasNode(page, from).locator('.red-ui-flow-port-output .red-ui-flow-port').first();
    const input = canvasNode(page, to).locator('.red-ui-flow-port-input .red-ui-flow-port').first();
    const target = await input.boundingBox();
    if (!target) throw new Error(`the input port of ${to} is not shown`);
    await dragWithMouse(page, output, target.x + target.width / 2, target.y + target.height / 2);
    await until('one more wire on the workspace', () => page.locator(`${CHART} .red-ui-flow-link`).count(), (n) => n === wiresBefore + 1);
}

/** Presses Deploy and waits for the editor to say that the flows are deployed. */
export async function deploy(page: Page): Promise<string> {
    await page.locator('#red-ui-header-button-deploy').click();
    const notice = page.locator('.red-ui-notification').filter({ hasText: /deployed|部署/i }).last();
    return readText(notice, /./, 'the deploy notification');
}

/** The status text under a node on the workspace, once it matches `expected`. */
export function readStatus(page: Page, id: string, expected: string | RegExp, timeoutMs = READ_TIMEOUT_MS): Promise<string> {
    return readText(canvasNode(page, id).locator('.red-ui-flow-node-status-label'), expected, `the status under node ${id}`, timeoutMs);
}

/**
 * Shows a sidebar tab as a user does: Node-RED 5 has a button per tab (a click on the shown one hides
 * it); Node-RED 3.1 and 4 a tab bar with a button per tab, or its menu when the buttons do not fit.
 */
export async function showSidebarTab(page: Page, id: string): Promise<void> {
    const tabButton = page.locator(`button[data-tab-id="${id}"]`);
    if ((await tabButton.count()) > 0) {
        const selected = async (): Promise<boolean> => /\bselected\b/.test((await tabButton.getAttribute('class')) ?? '');
        if (!(await selected())) await tabButton.click();
        await until(`the sidebar tab ${id} to be shown`, selected, (shown) => shown);
        return;
    }
    const tab = page.locator(`#red-ui-tab-${id}`);
    const linkButton = page.locator(`#red-ui-tab-${id}-link-button`);
    if (await linkButton.isVisible()) {
        await linkButton.click();
    } else {
        await page.locator('#red-ui-sidebar .red-ui-tab-link-button-menu').click();
        await page.locator(`#red-ui-tabs-menu-option-${id}`).click();
    }
    await until(`the sidebar tab ${id} to be shown`, async () => (await tab.getAttribute('class')) ?? '', (c) => /\bactive\b/.test(c));
}

/** Chooses the editor's language in User Settings > View, as a user does, and reloads the editor. */
export async function chooseLanguage(page: Page, url: string, language: string): Promise<void> {
    await page.locator('#red-ui-header-button-sidemenu').click();
    await page.locator('#menu-item-user-settings').click();
    await waitForDialog(page);
    const select = page.locator('#user-settings-editor-language');
    await select.selectOption(language);
    await page.locator('#node-dialog-ok').click();
    await page.locator('#user-settings-editor-language').waitFor({ state: 'detached' });
    await openEditor(page, url);
}
