// #14's tests, "keyboard-only use of the tree": Page Tables driven without the mouse. The Command
// Palette focuses the view; Home, the arrow keys and → (expand) move through regimes and entries; the
// keyboard's context-menu key (Shift+F10) opens the entry's menu, the arrow keys reach Copy Descriptor
// and Enter runs it: the status bar says what was copied, the entry the keys reached.

import type { Locator } from 'playwright-core';
import { poll, runCommand } from './browser';
import type { UiContext } from './uiFreshChecks';

const text = async (l: Locator): Promise<string> => (await l.innerText()).replace(/\s+/g, ' ').trim();

/** The tree row that has keyboard focus (monaco marks it `focused`). */
async function focusedRow(c: UiContext): Promise<{ row: Locator; label: string }> {
  const row = c.pane('Page Tables').locator('.monaco-list-row.focused').first();
  await row.waitFor({ timeout: 10_000 });
  return { row, label: await text(row) };
}

/** Presses `key` until the focused row's text matches `want` (at most `max` presses). */
async function pressUntil(c: UiContext, key: string, want: RegExp, max: number): Promise<string> {
  for (let k = 0; k <= max; k++) {
    const { label } = await focusedRow(c);
    if (want.test(label)) return label;
    await c.page.keyboard.press(key);
  }
  throw new Error(`${max} × ${key} never focused a row matching ${want}`);
}

export async function treeByKeyboard(c: UiContext): Promise<string> {
  const said: string[] = [];
  await runCommand(c.page, 'Focus on Page Tables View');
  await c.page.keyboard.press('Home');
  const first = await focusedRow(c);
  if (!/TTBR0_EL1/.test(first.label)) throw new Error(`Home focused "${first.label}", not the first regime`);
  said.push(`Home: "${first.label.slice(0, 40)}"`);

  // Down to the first translation-table entry, then → expands it if it is a table.
  const entry = await pressUntil(c, 'ArrowDown', /^L[0-3]\[\d+\]/, 40);
  const level = Number(/^L([0-3])/.exec(entry)?.[1]);
  const { row } = await focusedRow(c);
  if ((await row.getAttribute('aria-expanded')) === 'false') {
    await c.page.keyboard.press('ArrowRight');
    await poll(
      'the entry expanded by →',
      async () => ((await row.getAttribute('aria-expanded')) === 'true' ? true : undefined),
      10_000,
    );
    said.push(`→ expanded ${entry.split(' ')[0]}`);
  }
  // Into its children (or on to the next entry): a deeper level's entry.
  const child = await pressUntil(c, 'ArrowDown', new RegExp(`^L[${level + 1}-3]\\[\\d+\\]`), 40);
  const name = /^L[0-3]\[\d+\]/.exec(child)?.[0] ?? '?';
  said.push(`↓ to ${name}`);

  // The context-menu key, then the menu by arrows and Enter.
  await c.page.keyboard.press('Shift+F10');
  const menu = c.page.locator('.monaco-menu').first();
  await menu.waitFor({ timeout: 10_000 });
  let reached = false;
  for (let k = 0; k < 12 && !reached; k++) {
    await c.page.keyboard.press('ArrowDown');
    const focused = c.page.locator('.monaco-menu .action-item.focused').first();
    reached = (await focused.count()) > 0 && /Copy Descriptor/.test(await text(focused));
  }
  if (!reached) throw new Error('the arrow keys never reached Copy Descriptor in the context menu');
  await c.page.keyboard.press('Enter');
  const copied = c.page.locator('.statusbar-item', { hasText: `TTBR0_EL1 ${name} descriptor` }).first();
  await copied.waitFor({ timeout: 10_000 });
  await c.shot('24-tree-keyboard-copy');
  said.push(`Shift+F10, ↓…, Enter: "${await text(copied)}"`);
  return said.join('; ');
}
