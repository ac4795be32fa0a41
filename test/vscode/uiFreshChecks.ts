// Issue #14's steps of the UI scenario, as a person plays them in the browser: the console page shown
// guard-mapped (untracked) in Page Tables, the status bar and MMIO Guard; the Debug Console's `x`
// dump, `translate --write` and completions; Copy Descriptor saying what it copied; Export Snapshot
// offering Open / Reveal in Explorer; Restart and Stop + Start starting clean; a Stop without a red line.

import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameLocator, Locator, Page } from 'playwright-core';
import { poll, runCommand } from './browser';
import { REPO } from './codeServer';

export interface UiContext {
  page: Page;
  guard: FrameLocator;
  shot(name: string): Promise<void>;
  pane(title: string): Locator;
}

const text = async (l: Locator): Promise<string> => (await l.innerText()).replace(/\s+/g, ' ').trim();

/** The number before `label` in a summary line (`guard-mapped 1`, `guard-mapped, untracked 1`). */
export function countOf(summary: string, label: string): number {
  const m = new RegExp(`${label.replace(/[()]/g, '\\$&')} (\\d+)`).exec(summary);
  return Number(m?.[1] ?? 0);
}

/** At the first lazy fault: the console page is guard-mapped though no tracked region holds it. */
export async function consolePageShown(c: UiContext): Promise<string> {
  // Addresses in the tree are padded to the regime's width: 10 digits for pvmfw's 39-bit VAs.
  // Its entry (L3[0]) is the first of the fault entry's L3 table (L3[16]): arrow up to it, as a person
  // would, and the tree scrolls along.
  const selected = c.pane('Page Tables').locator('.monaco-list-row.selected').first();
  const index = Number(/L3\[(\d+)\]/.exec(await selected.innerText())?.[1] ?? 0);
  await selected.click();
  await c.page.mouse.move(0, 0);
  for (let k = 0; k < index; k++) await c.page.keyboard.press('ArrowUp');
  const row = c
    .pane('Page Tables')
    .locator('.monaco-list-row', { hasText: 'guard-mapped, untracked' })
    .filter({ hasText: '0x0009000000' })
    .first();
  await row.waitFor({ timeout: 20_000 });
  await row.scrollIntoViewIfNeeded();
  const label = await text(row);
  // The status bar counts it with the tracked pages: none of those is guard-mapped yet.
  const status = c.page.locator('.statusbar-item', { hasText: '1 guard-mapped' }).first();
  await status.waitFor({ timeout: 10_000 });
  await c.shot('10-console-page-untracked');
  return `${label} | status bar: ${await text(status)}`;
}

/** MMIO Guard lists the console page in its own section and counts it in the summary. */
export async function consolePageInPanel(c: UiContext): Promise<string> {
  const summary = await c.guard.locator('#summary').innerText();
  if (countOf(summary, 'guard-mapped, untracked') !== 1) throw new Error(`summary: ${summary}`);
  const section = await c.guard.locator('#untracked').innerText();
  if (!/0x09000000 \(1 page\): guard-mapped, untracked/.test(section)) throw new Error(`section: ${section}`);
  return section.split('\n').slice(0, 2).join(' ');
}

async function replInput(c: UiContext): Promise<Locator> {
  await runCommand(c.page, 'Debug Console: Focus on Debug Console View');
  const input = c.page.locator('.repl-input-wrapper .monaco-editor textarea').first();
  await input.waitFor({ timeout: 10_000 });
  await input.focus();
  return input;
}

async function evaluate(c: UiContext, expression: string, expect: RegExp): Promise<string> {
  await replInput(c);
  await c.page.keyboard.type(expression);
  await c.page.keyboard.press('Enter');
  const row = c.page.locator('.repl .monaco-list-row', { hasText: expect }).last();
  await row.waitFor({ timeout: 15_000 });
  return text(row);
}

/** The Debug Console: `x/2gx`, `translate --write`, and Ctrl+Space completing a command. */
export async function consoleCommands(c: UiContext): Promise<string> {
  const dump = await evaluate(c, 'x/2gx el1_entry', /0x40218000 <el1_entry>: 0x[0-9a-f]{16} 0x[0-9a-f]{16}/);
  const write = await evaluate(c, 'translate el1_entry --write', /write\) → fault: Permission fault/);
  await replInput(c);
  await c.page.keyboard.type('transl');
  await c.page.keyboard.press('Control+Space');
  const suggestion = c.page.locator('.suggest-widget .monaco-list-row', { hasText: 'translate' }).first();
  await suggestion.waitFor({ timeout: 10_000 });
  const offered = await text(suggestion);
  await c.shot('11-debug-console');
  await c.page.keyboard.press('Escape');
  await c.page.keyboard.press('Control+A');
  await c.page.keyboard.press('Backspace');
  await runCommand(c.page, 'View: Hide Panel');
  return `${dump} | ${write.split(' (')[0]}… | completion: ${offered}`;
}

/** Copy Descriptor from a tree row's context menu: the status bar says what went to the clipboard. */
export async function copyDescriptor(c: UiContext, address: string): Promise<string> {
  const row = c
    .pane('Page Tables')
    .locator('.monaco-list-row', { hasText: address })
    .filter({ hasText: 'page' })
    .first();
  await row.click({ button: 'right' });
  const item = c.page.locator('.monaco-menu .action-item', { hasText: 'Copy Descriptor' }).first();
  await item.waitFor({ timeout: 10_000 });
  await item.hover();
  await item.click();
  const said = c.page.locator('.statusbar-item', {
    hasText: /Copied 0x[0-9a-f]+: TTBR0_EL1 L3\[\d+\] descriptor/,
  });
  await said.first().waitFor({ timeout: 10_000 });
  await c.shot('12-copy-descriptor');
  return text(said.first());
}

/**
 * Export Snapshot… from the Command Palette into the workspace, then the notification's "Reveal in
 * Explorer" selects the file in the Explorer. The file is removed afterwards (the workspace is the
 * repository's demo/ folder).
 */
export async function exportAndReveal(c: UiContext): Promise<string> {
  await c.page.keyboard.press('F1');
  const input = c.page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill('>pvmfw MMU: Export Snapshot…');
  await c.page
    .locator('.quick-input-list .monaco-list-row', { hasText: 'Export Snapshot…' })
    .first()
    .waitFor();
  await c.page.keyboard.press('Enter');
  // The save dialog (code-server's simple dialog) proposes demo/<session>-stopN.pvmfw-snapshot.
  const path = await poll(
    'the save dialog',
    async () => {
      const v = await input.inputValue().catch(() => '');
      return v.endsWith('.pvmfw-snapshot') ? v : undefined;
    },
    20_000,
  );
  const file = join(REPO, 'demo', path.split('/').pop() ?? '');
  try {
    await c.page.keyboard.press('Enter');
    const toast = c.page.locator('.notifications-toasts .notification-list-item', {
      hasText: 'Snapshot saved to',
    });
    await toast.first().waitFor({ timeout: 30_000 });
    const buttons = await toast.first().locator('.monaco-button').allInnerTexts();
    if (!buttons.includes('Open') || !buttons.includes('Reveal in Explorer'))
      throw new Error(`buttons: ${buttons.join(', ')}`);
    await c.shot('13-export-notification');
    await toast.first().locator('.monaco-button', { hasText: 'Reveal in Explorer' }).click();
    const name = file.split('/').pop() ?? '';
    const selected = c.page.locator('.explorer-folders-view .monaco-list-row.selected', { hasText: name });
    await selected.waitFor({ timeout: 15_000 });
    await c.shot('14-export-revealed');
    return `${buttons.join(' / ')}; revealed ${name}`;
  } finally {
    if (existsSync(file)) rmSync(file);
    await runCommand(c.page, 'View: Show Run and Debug');
  }
}

/** The MMIO Guard diff of a first stop: no previous stop named, nothing changed. */
async function cleanPanel(c: UiContext, reason: string): Promise<string> {
  const meta = await poll(
    `MMIO Guard showing stop 1 (${reason})`,
    async () => {
      const m = await c.guard
        .locator('.meta')
        .first()
        .innerText()
        .catch(() => '');
      return new RegExp(`stop 1 \\(${reason}\\)`).test(m) ? m : undefined;
    },
    30_000,
    100,
  );
  const title = await c.guard.locator('#diff h2').innerText();
  if (title !== 'Since the previous stop') throw new Error(`diff title: ${title}`);
  const diff = await c.guard.locator('#diff li').allInnerTexts();
  if (diff.join('|') !== 'No change.') throw new Error(`diff: ${diff.join(' | ')}`);
  return `${meta.split(' · ').slice(0, 2).join(' · ')}; ${title}: ${diff.join('')}`;
}

/** Restart from the debug toolbar: the Call Stack forgets the fault, MMIO Guard starts at stop 1. */
export async function restartClean(c: UiContext): Promise<string> {
  await c.page.locator('.debug-toolbar .codicon-debug-restart').click();
  const header = c.page.locator('.pane-header[aria-label^="Call Stack"]', { hasText: /Restarted/ });
  await header.waitFor({ timeout: 60_000 });
  const said = await text(header);
  if (/Lazy MMIO fault/.test(said)) throw new Error(`Call Stack: ${said}`);
  const panel = await cleanPanel(c, 'entry');
  await c.shot('15-restarted');
  // Continue to the lazy fault again: stop 2 of the restarted machine, compared with its stop 1.
  await c.page.locator('.debug-toolbar .codicon-debug-continue').click();
  await c.page
    .locator('.pane-header[aria-label^="Call Stack"]', { hasText: /Lazy MMIO fault at 0x/ })
    .waitFor({
      timeout: 60_000,
    });
  const title = await poll(
    'MMIO Guard at stop 2',
    async () => {
      const t = await c.guard
        .locator('#diff h2')
        .innerText()
        .catch(() => '');
      return t === 'Since the previous stop (1)' ? t : undefined;
    },
    30_000,
    100,
  );
  return `Call Stack: ${said}; ${panel}; then ${title}`;
}

/**
 * At the lazy fault (after Restart): "Break When This Entry Is Written" from the fault entry's context
 * menu, Continue, and the Call Stack says which entry the store changes and how.
 */
export async function watchEntry(c: UiContext): Promise<string> {
  const row = c.pane('Page Tables').locator('.monaco-list-row.selected').first();
  await row.waitFor({ timeout: 20_000 });
  await row.click({ button: 'right' });
  const item = c.page
    .locator('.monaco-menu .action-item', { hasText: 'Break When This Entry Is Written' })
    .first();
  await item.waitFor({ timeout: 10_000 });
  await item.hover();
  await item.click();
  const toast = c.page.locator('.notifications-toasts .notification-list-item', {
    hasText: 'watching TTBR0_EL1',
  });
  await toast.first().waitFor({ timeout: 15_000 });
  const said = await text(toast.first());
  await c.page.locator('.debug-toolbar .codicon-debug-continue').click();
  const header = c.page.locator('.pane-header[aria-label^="Call Stack"]', { hasText: /PTE write/ });
  await header.waitFor({ timeout: 60_000 });
  await c.shot('18-pte-write');
  const label = await text(header);
  if (!/lazy → page/.test(label)) throw new Error(`Call Stack: ${label}`);
  return `${said.slice(0, 90)}… | ${label}`;
}

/**
 * After Stop: no red "terminating on signal 15" line in the Debug Console. VS Code sometimes drops
 * output that arrives while a session terminates, so the line may be absent; when it is shown it must
 * not be an error (test/dap/consoleAndRestart.test.ts checks the category the adapter sends).
 */
export async function stopWithoutRedLine(c: UiContext): Promise<string> {
  await runCommand(c.page, 'Debug Console: Focus on Debug Console View');
  const row = c.page.locator('.repl .monaco-list-row', { hasText: 'terminating on signal 15' }).last();
  const shown = await row.waitFor({ timeout: 5_000 }).then(
    () => true,
    () => false,
  );
  const red = await c.page
    .locator('.repl .monaco-list-row .value.error', { hasText: 'terminating on signal' })
    .allInnerTexts();
  if (red.length) throw new Error(`red lines: ${red.join(' | ')}`);
  const said = shown
    ? `${await text(row)} (${(await row.locator('.value').first().getAttribute('class')) ?? ''})`
    : 'the goodbye line was not shown (output after terminate), and no red line';
  await c.shot('16-stop-console');
  await runCommand(c.page, 'View: Hide Panel');
  return said;
}

/** Start again after Stop: the new session's first stop, compared with nothing of the old one. */
export async function startAgainClean(c: UiContext, qemus: () => string[]): Promise<string> {
  await runCommand(c.page, 'View: Show Run and Debug');
  await c.page.locator('.start-debug-action-item .codicon-debug-start').click();
  await c.page.locator('.debug-toolbar').waitFor({ timeout: 30_000 });
  await c.page.locator('.pane-header[aria-label^="Call Stack"]', { hasText: /Paused on entry/i }).waitFor({
    timeout: 60_000,
  });
  const panel = await cleanPanel(c, 'entry');
  await c.shot('17-started-again');
  await c.page.locator('.debug-toolbar .codicon-debug-stop').click();
  await c.page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 30_000 });
  await poll('QEMU to exit', () => Promise.resolve(qemus().length ? undefined : true), 10_000);
  return panel;
}
