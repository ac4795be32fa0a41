// Issue #14 item 8 as a person plays it in the browser: Quick Open finds the firmware's C sources in
// the demo workspace, el1_entry.S opens as AArch64 assembly (status bar, highlighted tokens), a click
// in its gutter sets a breakpoint, and the session stops there.

import type { Locator, Page } from 'playwright-core';
import { poll, runCommand } from './browser';
import type { UiContext } from './uiFreshChecks';

const text = async (l: Locator): Promise<string> => (await l.innerText()).replace(/\s+/g, ' ').trim();

async function quickOpen(page: Page, name: string): Promise<string> {
  await page.keyboard.press('Control+P');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(name);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first();
  await row.waitFor({ timeout: 20_000 });
  const said = await text(row);
  // Click the match: Enter may still take the first row of the list before it filtered.
  await row.click();
  await page.locator('.tab.active', { hasText: name }).waitFor({ timeout: 10_000 });
  return said;
}

/** The editor line (a Monaco view line) whose text matches `re`. */
function editorLine(page: Page, re: RegExp): Locator {
  return page
    .locator('.editor-group-container .monaco-editor .view-lines .view-line', { hasText: re })
    .first();
}

/** Clicks the editor's glyph margin beside the line matching `re`, where a person sets a breakpoint. */
async function clickGutter(page: Page, re: RegExp): Promise<void> {
  const box = await editorLine(page, re).boundingBox();
  const margin = await page
    .locator('.editor-group-container .monaco-editor .glyph-margin')
    .first()
    .boundingBox();
  if (!box || !margin) throw new Error('no editor line or glyph margin');
  await page.mouse.click(margin.x + margin.width / 2, box.y + box.height / 2);
}

/**
 * Before the session: Quick Open memory.c, then el1_entry.S, which reads "AArch64 Assembly" in the
 * status bar with its mnemonic, registers and symbols in different colours.
 */
export async function openSources(c: UiContext): Promise<string> {
  const memory = await quickOpen(c.page, 'memory.c');
  await quickOpen(c.page, 'el1_entry.S');
  const mode = c.page.locator('.statusbar-item[id="status.editor.mode"]');
  await mode.filter({ hasText: 'AArch64 Assembly' }).waitFor({ timeout: 10_000 });
  // `ldr x0, =el1_exception_stack_top` (Monaco draws spaces as U+00A0, which \s matches): the grammar gives mnemonic, register and symbol their own
  // token classes (Monaco's mtkN: one per theme colour).
  const ldr = editorLine(c.page, /ldr\s+x0,\s*=el1_exception_stack_top/);
  await ldr.waitFor({ timeout: 10_000 });
  const classes = new Set(
    await ldr
      .locator('span span')
      .evaluateAll((spans: { className: string }[]) => spans.map((s) => s.className)),
  );
  if (classes.size < 3) throw new Error(`one colour for the whole line: ${[...classes].join(' ')}`);
  await c.shot('19-asm-source');
  return `Quick Open: ${memory}; el1_entry.S in ${await text(mode)}, ${classes.size} token colours`;
}

/**
 * With no session: a click in el1_entry.S's gutter beside `bl el1_main` sets a breakpoint; Start,
 * Continue from the entry stop, and the session stops there (then the breakpoint is removed from the
 * Breakpoints view and the session stopped).
 */
export async function assemblyBreakpointSession(c: UiContext, qemus: () => string[]): Promise<string> {
  await quickOpen(c.page, 'el1_entry.S');
  // The editor may still show the vector table of an earlier stop: back to the top of the file.
  await c.page.keyboard.press('Control+Home');
  await editorLine(c.page, /bl\s+el1_main/).waitFor({ timeout: 10_000 });
  await clickGutter(c.page, /bl\s+el1_main/);
  const glyph = c.page.locator('.editor-group-container .monaco-editor .codicon-debug-breakpoint');
  await glyph.first().waitFor({ timeout: 10_000 });
  await c.shot('19-asm-breakpoint');
  await runCommand(c.page, 'View: Show Run and Debug');
  await c.page.locator('.start-debug-action-item .codicon-debug-start').click();
  await c.page.locator('.debug-toolbar').waitFor({ timeout: 30_000 });
  await c.page
    .locator('.pane-header[aria-label^="Call Stack"]', { hasText: /Paused on entry/i })
    .waitFor({ timeout: 60_000 });
  const said = await stopAtAssemblyBreakpoint(c);
  await c.page.locator('.debug-toolbar .codicon-debug-stop').click();
  await c.page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 30_000 });
  await poll('QEMU to exit', () => Promise.resolve(qemus().length ? undefined : true), 10_000);
  return said;
}

/** After the entry stop: Continue stops at the `.S` breakpoint; then the breakpoint is removed. */
async function stopAtAssemblyBreakpoint(c: UiContext): Promise<string> {
  await c.page.locator('.debug-toolbar .codicon-debug-continue').click();
  const header = c.page.locator('.pane-header[aria-label^="Call Stack"]', {
    // VS Code labels a breakpoint stop "Breakpoint" (the entry stop: "Paused on entry").
    hasText: /Breakpoint/i,
  });
  await header.waitFor({ timeout: 60_000 });
  const top = await poll(
    'the Call Stack at el1_entry.S',
    async () => {
      const t = await text(c.pane('Call Stack').locator('.monaco-list-row').first());
      return /el1_entry\.S/.test(t) ? t : undefined;
    },
    20_000,
  );
  // The editor shows the stop's arrow and, under it, the breakpoint bound (the solid glyph, not
  // codicon-debug-breakpoint-unverified).
  const glyphs = c.page.locator('.editor-group-container .monaco-editor .glyph-margin-widgets');
  const arrow = glyphs.locator('[class*="codicon-debug-stackframe"]');
  const breakpoint = glyphs.locator('.codicon-debug-breakpoint');
  await arrow.first().waitFor({ timeout: 10_000 });
  await breakpoint.first().waitFor({ timeout: 10_000 });
  await c.shot('20-asm-breakpoint-hit');
  // Remove it from the Breakpoints view (the row's × on hover), so the scenario goes on to the
  // lazy fault and a Restart does not stop here again.
  const bps = c.pane('Breakpoints');
  const header2 = c.page.locator('.pane-header[aria-label^="Breakpoints"]').first();
  if ((await header2.getAttribute('aria-expanded')) === 'false') await header2.click();
  const row = bps.locator('.monaco-list-row', { hasText: 'el1_entry.S' }).first();
  await row.hover();
  await row.locator('.action-label[aria-label^="Remove Breakpoint"]').click();
  await row.waitFor({ state: 'detached', timeout: 10_000 });
  // The line keeps the stop's arrow, without the breakpoint under it.
  await poll(
    'the breakpoint glyph to go',
    async () => ((await breakpoint.count()) === 0 && (await arrow.count()) > 0 ? true : undefined),
    10_000,
  );
  return `${await text(header)} at ${top}`;
}
