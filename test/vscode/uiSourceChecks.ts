// Issue #14 item 8 as a person plays it in the browser: Quick Open finds the firmware's C sources in
// the demo workspace, el1_entry.S opens as AArch64 assembly (status bar, highlighted tokens), a click
// in its gutter sets a breakpoint, and the session stops there.

import type { Locator, Page } from 'playwright-core';
import { poll } from './browser';
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
  await page.keyboard.press('Enter');
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
 * status bar with its mnemonic, registers and symbols in different colours; a click in the gutter
 * beside `bl el1_main` sets a breakpoint.
 */
export async function assemblyBreakpoint(c: UiContext): Promise<string> {
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
  await clickGutter(c.page, /bl\s+el1_main/);
  const glyph = c.page.locator('.editor-group-container .monaco-editor .codicon-debug-breakpoint');
  await glyph.first().waitFor({ timeout: 10_000 });
  await c.shot('19-asm-breakpoint');
  const bps = await c
    .pane('Breakpoints')
    .locator('.monaco-list-row', { hasText: 'el1_entry.S' })
    .allInnerTexts();
  return `Quick Open: ${memory}; el1_entry.S in ${await text(mode)}, ${classes.size} token colours; breakpoint: ${bps.join(' ').replace(/\s+/g, ' ') || 'in the gutter'}`;
}

/** After the entry stop: Continue stops at the `.S` breakpoint; then the breakpoint is removed. */
export async function stopAtAssemblyBreakpoint(c: UiContext): Promise<string> {
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
  // A second click in the gutter removes it, so the scenario goes on to the lazy fault.
  await clickGutter(c.page, /bl\s+el1_main/);
  // The line keeps the stop's arrow, without the breakpoint under it.
  await poll(
    'the breakpoint glyph to go',
    async () => ((await breakpoint.count()) === 0 && (await arrow.count()) > 0 ? true : undefined),
    10_000,
  );
  return `${await text(header)} at ${top}`;
}
