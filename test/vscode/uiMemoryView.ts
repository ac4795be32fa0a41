// #14 item 9 in the browser: the Memory view as a person uses it, in its own session at the first lazy
// fault. Opened from the Debug Console (`mem el1_entry`), from a register in the Variables view, from
// the Page Tables tree (the page an entry maps; the table it lives in, the descriptor outlined); the
// bytes shown are checked against QEMU's own monitor (`xp`), unreadable memory shows `??` with the
// reason, a step that maps the page marks the descriptor's changed byte, and the keyboard scrolls.

import type { Frame, Locator, Page } from 'playwright-core';
import { paletteRow, poll } from './browser';
import { contrastInThemes } from './uiContrast';
import type { UiContext } from './uiFreshChecks';

const text = async (l: Locator): Promise<string> => (await l.innerText()).replace(/\s+/g, ' ').trim();

interface Cell {
  text: string;
  cls: string;
  title: string;
}
interface Row {
  addr: string;
  cells: Cell[];
}

/** The Memory view's frame (the MMIO Guard panel may be open too: found by its content). */
function memoryFrame(page: Page): Promise<Frame> {
  return poll(
    'the Memory view',
    async () => {
      for (const f of page.frames()) {
        if (f.isDetached()) continue;
        if (await f.locator('#memory-app .row').count()) return f;
      }
      return undefined;
    },
    20_000,
  );
}

async function rows(f: Frame): Promise<Row[]> {
  return f.locator('#dump .row').evaluateAll((els: unknown[]) =>
    els.map((e) => {
      type El = {
        textContent: string | null;
        className: string;
        getAttribute(n: string): string | null;
        querySelector(s: string): El | null;
        querySelectorAll(s: string): ArrayLike<El>;
      };
      const row = e as El;
      return {
        addr: row.querySelector('.addr')?.textContent ?? '',
        cells: Array.from(row.querySelectorAll('.cell')).map((c) => ({
          text: c.textContent ?? '',
          cls: c.className,
          title: c.getAttribute('title') ?? '',
        })),
      };
    }),
  );
}

/** Polls the view until `pred` holds of its rows (reads are asynchronous). */
async function rowsWhen(page: Page, what: string, pred: (r: Row[]) => boolean, ms = 20_000): Promise<Row[]> {
  return poll(
    what,
    async () => {
      const r = await rows(await memoryFrame(page));
      return pred(r) ? r : undefined;
    },
    ms,
  );
}

/**
 * F1 + title + Enter, as browser.ts's runCommand, tried again when something takes the focus away
 * and closes the palette meanwhile (the editor VS Code focuses on a stop that has just happened).
 */
async function runCommand(page: Page, title: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await (await paletteRow(page, title)).waitFor({ timeout: 5_000 });
      await page.keyboard.press('Enter');
      await page.locator('.quick-input-widget').waitFor({ state: 'hidden', timeout: 5_000 });
      return;
    } catch (e) {
      if (attempt >= 3) throw e;
      await page.keyboard.press('Escape');
    }
  }
}

/** Moves focus from a webview back to the workbench (F1 does not reach it from inside a webview). */
async function leaveWebview(page: Page): Promise<void> {
  await page.locator('.part.editor .monaco-editor .view-lines').first().click();
}

async function replInput(page: Page): Promise<void> {
  await leaveWebview(page);
  await runCommand(page, 'Debug Console: Focus on Debug Console View');
  const input = page.locator('.repl-input-wrapper .monaco-editor textarea').first();
  await input.waitFor({ timeout: 10_000 });
  await input.focus();
}

async function consoleLine(page: Page, expression: string, expect: RegExp): Promise<string> {
  await replInput(page);
  // Cleared first (the panel's Clear Console button), so the answer found is this command's, not an
  // earlier one of the same address.
  await page.locator('.part.panel .action-label[aria-label="Clear Console"]').first().click();
  await page
    .locator('.repl .monaco-list-row', { hasText: expect })
    .first()
    .waitFor({ state: 'detached', timeout: 5_000 });
  await replInput(page);
  await page.keyboard.type(expression);
  await page.keyboard.press('Enter');
  const row = page.locator('.repl .monaco-list-row', { hasText: expect }).last();
  await row.waitFor({ timeout: 15_000 });
  return text(row);
}

/** QEMU's own view of physical memory: `monitor xp /Ngx ADDR`, as 16-digit giant words. */
async function xpWords(page: Page, address: bigint, n: number): Promise<string[]> {
  const a = address.toString(16);
  const line = await consoleLine(page, `monitor xp /${n}gx 0x${a}`, new RegExp(`0*${a}: 0x[0-9a-f]{16}`));
  const words = [...line.matchAll(/\b0x([0-9a-f]{16})\b/g)].map((m) => m[1]);
  if (words.length < n) throw new Error(`xp gave ${words.length} words: ${line}`);
  return words.slice(0, n);
}

async function setGroup(page: Page, bits: '8-bit' | '64-bit'): Promise<void> {
  const f = await memoryFrame(page);
  await f.locator('#group').selectOption({ label: bits });
}

/** The 64-bit groups of the first `n` rows, once they are read. */
async function words(page: Page, top: bigint, n: number): Promise<string[]> {
  const digits = top.toString(16);
  const r = await rowsWhen(
    page,
    `rows from 0x${digits} read`,
    (rs) =>
      rs.length >= n &&
      rs[0].addr.replace(/^0x0*/, '') === digits &&
      rs
        .slice(0, n)
        .every((x) => x.cells.length === 2 && x.cells.every((c) => /^[0-9a-f?]{16}$/.test(c.text))),
  );
  return r.slice(0, n).flatMap((x) => x.cells.map((c) => c.text));
}

/** Right-clicks `row` and picks `item`; returns how many right-clicks it took. */
async function contextMenu(page: Page, row: Locator, item: string): Promise<number> {
  // Tried again when the menu opens without the item: a view that re-renders under the pointer (the
  // Variables view after a stop's refresh) can hand the menu a stale element, as a person would see
  // and right-click again.
  for (let attempt = 1; ; attempt++) {
    // Away from any row first: a tree row's hover tooltip would cover the one below it.
    await page.mouse.move(0, 0);
    await row.scrollIntoViewIfNeeded();
    await row.click({ button: 'right' });
    const entry = page.locator('.monaco-menu .action-item', { hasText: item }).first();
    try {
      await entry.waitFor({ timeout: 5_000 });
    } catch (e) {
      const offered = await page.locator('.monaco-menu .action-item').allInnerTexts();
      await page.keyboard.press('Escape');
      if (attempt >= 3) throw new Error(`the menu offers ${offered.join(' | ')}, not ${item}`, { cause: e });
      await page.waitForTimeout(1_000);
      continue;
    }
    await entry.hover();
    await entry.click();
    return attempt;
  }
}

/** Reveal PTE for Address… from the Command Palette; the tree row it selects. */
async function revealPte(c: UiContext, address: string): Promise<Locator> {
  await leaveWebview(c.page);
  await runCommand(c.page, 'pvmfw MMU: Reveal PTE for Address…');
  // The address box replaces the palette in the same widget: wait for its title, then type.
  await c.page
    .locator('.quick-input-widget .quick-input-title', { hasText: 'Reveal PTE for Address' })
    .waitFor({ timeout: 10_000 });
  const input = c.page.locator('.quick-input-widget input');
  await input.fill(address);
  await poll(
    'the typed address',
    async () => ((await input.inputValue()) === address ? true : undefined),
    5_000,
  );
  await c.page.keyboard.press('Enter');
  await c.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  // The row of that address (padded to the regime's width), once selected.
  const row = c
    .pane('Page Tables')
    .locator('.monaco-list-row.selected', { hasText: new RegExp(`0x0*${address.replace(/^0x/, '')}\\b`) })
    .first();
  await row.waitFor({ timeout: 20_000 });
  return row;
}

const same = (a: string[], b: string[], what: string): void => {
  if (a.join(' ') !== b.join(' '))
    throw new Error(`${what}: the view shows ${a.join(' ')}, QEMU's xp ${b.join(' ')}`);
};

export async function memoryViewSession(c: UiContext, qemus: () => string[]): Promise<string> {
  const { page } = c;
  const said: string[] = [];
  await runCommand(page, 'View: Show Run and Debug');
  const bpHeader = page.locator('.pane-header[aria-label^="Breakpoints"]').first();
  if ((await bpHeader.getAttribute('aria-expanded')) === 'false') await bpHeader.click();
  const box = c
    .pane('Breakpoints')
    .locator('.monaco-list-row', { hasText: 'Lazy MMIO fault' })
    .locator('input');
  await page.locator('.start-debug-action-item .codicon-debug-start').click();
  await page.locator('.debug-toolbar').waitFor({ timeout: 30_000 });
  await page.locator('.pane-header[aria-label^="Call Stack"]', { hasText: /Paused on entry/i }).waitFor({
    timeout: 60_000,
  });
  await box.first().waitFor({ timeout: 20_000 });
  if (!(await box.first().isChecked())) {
    await box.first().click();
    await page.waitForTimeout(1000);
  }
  await page.locator('.debug-toolbar .codicon-debug-continue').click();
  const header = page.locator('.pane-header[aria-label^="Call Stack"]', { hasText: /Lazy MMIO fault at 0x/ });
  await header.waitFor({ timeout: 60_000 });
  const far = /Lazy MMIO fault at (0x[0-9a-f]+)/.exec(await text(header))?.[1] ?? '';

  // 1. The Debug Console: `mem el1_entry`, virtual; the bytes are QEMU's.
  await consoleLine(page, 'mem el1_entry', /Memory view: 0x40218000/);
  await memoryFrame(page);
  await setGroup(page, '64-bit');
  const code = await words(page, 0x40218000n, 2);
  same(code, await xpWords(page, 0x40218000n, 4), 'mem el1_entry');
  const f1 = await memoryFrame(page);
  if ((await f1.locator('#space').inputValue()) !== 'virtual')
    throw new Error('mem el1_entry is not virtual');
  said.push(`console: mem el1_entry = ${code.slice(0, 2).join(' ')} (as xp)`);
  await c.shot('memory-01-console');

  // 2. The Variables view: the Fault scope (first and open at a fault) has ELR, the faulting code.
  const vars = page.locator('.pane-header[aria-label^="Variables"]').first();
  if ((await vars.getAttribute('aria-expanded')) === 'false') await vars.click();
  const elr = c
    .pane('Variables')
    .locator('.monaco-list-row', { hasText: /^\s*ELR\s*=\s*0x/ })
    .first();
  await elr.waitFor({ timeout: 20_000 });
  const elrValue = BigInt(/0x[0-9a-f]+/.exec(await text(elr))?.[0] ?? '-1');
  const clicks = await contextMenu(page, elr, 'Open Memory View…');
  const elrRow = elrValue - (elrValue % 16n);
  const handler = await words(page, elrRow, 1);
  same(handler, await xpWords(page, elrRow, 2), 'variable ELR');
  const origin = await text((await memoryFrame(page)).locator('#origin'));
  if (!/variable ELR/.test(origin)) throw new Error(`origin: ${origin}`);
  said.push(
    `variable ELR 0x${elrValue.toString(16)}: ${handler.join(' ')}${clicks > 1 ? ` (menu opened ${clicks} times)` : ''}`,
  );
  // Room for the Page Tables tree, as a person makes it.
  for (const title of ['Variables', 'Watch', 'Breakpoints']) {
    const h = page.locator(`.pane-header[aria-label^="${title}"]`).first();
    if ((await h.getAttribute('aria-expanded')) === 'true') await h.click();
  }
  const tables = page.locator('.pane-header[aria-label^="Page Tables"]').first();
  if ((await tables.getAttribute('aria-expanded')) === 'false') await tables.click();

  // 3. A PTE: the page it maps (physical), the same bytes as through the VA.
  const codeEntry = await revealPte(c, '0x40218000');
  await contextMenu(page, codeEntry, 'Open Memory of the Page It Maps');
  const mapped = await words(page, 0x40218000n, 2);
  same(mapped, code, 'the page el1_entry’s PTE maps');
  if ((await (await memoryFrame(page)).locator('#space').inputValue()) !== 'physical')
    throw new Error('the page it maps is not shown physical');
  said.push('PTE page it maps: p:0x40218000, same bytes');

  // 4. Unreadable: the lazy page (not mapped yet: the adapter's walk says why) and an unmapped VA.
  const lazy = await revealPte(c, far);
  await contextMenu(page, lazy, 'Open Memory of the Page It Maps');
  const lazyReason = await poll(
    'the lazy page’s reason',
    async () => {
      const t = await text((await memoryFrame(page)).locator('#unreadable'));
      return /is a pvmfw lazy MMIO page/.test(t) ? t : undefined;
    },
    20_000,
  );
  const f4 = await memoryFrame(page);
  await f4.locator('#space').selectOption('virtual');
  await f4.locator('#address').fill('0x7f00000000');
  await f4.locator('#address').press('Enter');
  const fault = await poll(
    'the unmapped VA’s reason',
    async () => {
      const t = await text((await memoryFrame(page)).locator('#unreadable'));
      return /no valid translation/.test(t) ? t : undefined;
    },
    20_000,
  );
  const unreadable = await rows(await memoryFrame(page));
  if (!unreadable[0].cells.every((x) => x.text === '????????????????'))
    throw new Error(`unmapped VA shows ${unreadable[0].cells.map((x) => x.text).join(' ')}`);
  await c.shot('memory-02-unreadable');
  said.push(`?? ${lazyReason.slice(0, 90)}… | ${fault.slice(0, 70)}…`);
  // The address box takes a symbol (the adapter evaluates it) and refuses a console command.
  const fs = await memoryFrame(page);
  await fs.locator('#address').fill('el1_entry + 0x10');
  await fs.locator('#address').press('Enter');
  const bySymbol = await words(page, 0x40218010n, 1);
  same(bySymbol, code.slice(2, 4), 'el1_entry + 0x10 in the address box');
  await fs.locator('#address').fill('monitor info registers');
  await fs.locator('#address').press('Enter');
  await fs
    .locator('#error', { hasText: 'takes an address, a symbol or a register' })
    .waitFor({ timeout: 10_000 });
  said.push('address box: el1_entry + 0x10 shown, a console command refused');

  // 5. The table the lazy entry lives in: the descriptor outlined; step until the handler maps it.
  await contextMenu(page, await revealPte(c, far), 'Open Memory of the Table It Lives In');
  const outlined = async (): Promise<Cell | undefined> =>
    (await rows(await memoryFrame(page))).flatMap((r) => r.cells).find((x) => /\bhighlight\b/.test(x.cls));
  const descriptor = await poll(
    'the outlined descriptor',
    async () => {
      const d = await outlined();
      return d && /^[0-9a-f]{16}$/.test(d.text) ? d : undefined;
    },
    20_000,
  );
  const descAddress = BigInt(/p:(0x[0-9a-f]+)/.exec(descriptor.title)?.[1] ?? '-1');
  same([descriptor.text], await xpWords(page, descAddress, 1), 'the outlined descriptor');
  const status = async (): Promise<number> =>
    Number(/stop (\d+)/.exec(await text((await memoryFrame(page)).locator('#status')))?.[1] ?? -1);
  let steps = 0;
  let changed: Cell | undefined;
  for (; steps < 40 && !changed; steps++) {
    const n = await status();
    await page.locator('.debug-toolbar .codicon-debug-step-over').click();
    await poll(
      'the next stop in the Memory view',
      async () => ((await status()) > n ? true : undefined),
      30_000,
      100,
    );
    const d = await poll(
      'the descriptor read at the new stop',
      async () => {
        const x = await outlined();
        return x && /^[0-9a-f]{16}$/.test(x.text) ? x : undefined;
      },
      20_000,
      100,
    );
    if (/\bchanged\b/.test(d.cls)) changed = d;
  }
  if (!changed) throw new Error(`after ${steps} steps the descriptor ${descriptor.text} did not change`);
  same([changed.text], await xpWords(page, descAddress, 1), 'the changed descriptor');
  const summary = await text((await memoryFrame(page)).locator('#changed'));
  if (!/changed since stop \d+/.test(summary)) throw new Error(`changed line: ${summary}`);
  await c.shot('memory-03-changed');
  said.push(
    `step ${steps}: descriptor ${descriptor.text} → ${changed.text} outlined and marked (${summary})`,
  );
  // Every text colour of the view (changed and outlined bytes, ?? included) meets WCAG AA per theme.
  said.push(await contrastInThemes(c, 'memory-contrast', await memoryFrame(page), 'the Memory view'));

  // 6. Keyboard: Page Down, Arrow Up, Home scroll the rows.
  const f6 = await memoryFrame(page);
  await f6.locator('#dump').click();
  const top0 = BigInt((await rows(f6))[0].addr);
  const count = (await rows(f6)).length;
  await page.keyboard.press('PageDown');
  await page.keyboard.press('ArrowUp');
  const top1 = BigInt((await rowsWhen(page, 'Page Down', (r) => BigInt(r[0].addr) !== top0))[0].addr);
  if (top1 - top0 !== BigInt((count - 2) * 16))
    throw new Error(`Page Down + Up: ${top0} → ${top1} (${count} rows)`);
  await page.keyboard.press('Home');
  const top2 = BigInt((await rowsWhen(page, 'Home', (r) => BigInt(r[0].addr) % 0x1000n === 0n))[0].addr);
  await c.shot('memory-04-keyboard');
  said.push(`keys: 0x${top0.toString(16)} → 0x${top1.toString(16)} → Home 0x${top2.toString(16)}`);

  // Close the view and end the session.
  const tab = page.locator('.tab[aria-label^="Memory"]').first();
  await tab.hover();
  await tab.locator('.codicon-close').click();
  await page.locator('.debug-toolbar .codicon-debug-stop').click();
  await page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 30_000 });
  await poll('QEMU to exit', () => Promise.resolve(qemus().length ? undefined : true), 10_000);
  return said.join(' | ');
}
