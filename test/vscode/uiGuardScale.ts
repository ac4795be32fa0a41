// #14 item 10 in the browser: the MMIO Guard panel at scale, as a keyboard user and a reader meet it.
// The 1 GiB region is a strip with its size in words, not a 430-pixel block; a grid takes focus with
// Tab, the arrow keys move a page cursor that the readout under the grid describes (aria-live, the
// canvas's aria-describedby), + zooms, Enter reveals the page's PTE; the diff is grouped and
// collapsible; the guard-call log has no empty "from" column; one page is "1 page".

import type { Locator } from 'playwright-core';
import { poll } from './browser';
import type { UiContext } from './uiFreshChecks';

const text = async (l: Locator): Promise<string> => (await l.innerText()).replace(/\s+/g, ' ').trim();

/** The grids: a 1 GiB region drawn small, and the keyboard cursor on virtio-mmio. */
export async function gridByKeyboard(c: UiContext, pteRow: (text: string) => Locator): Promise<string> {
  const said: string[] = [];
  // The high PCIe ECAM window: 262,144 pages, all lazy — a strip, its size in words.
  const ecam = c.guard.locator('.region', { hasText: '262,144 pages' }).first();
  const strip = await ecam.locator('canvas').boundingBox();
  if (!strip || strip.height > 40) throw new Error(`the 1 GiB region's grid is ${strip?.height} px tall`);
  said.push(`1 GiB region: ${Math.round(strip.height)} px strip, "${await text(ecam.locator('.window'))}"`);

  const region = c.guard.locator('.region', { hasText: 'virtio' }).first();
  const canvas = region.locator('canvas');
  const readout = region.locator('.readout');
  // Keyboard only: from the region's Fit button, Tab reaches the grid.
  await region.locator('.zoom button', { hasText: 'Fit' }).focus();
  await c.page.keyboard.press('Tab');
  const focused = await canvas.evaluate((e: unknown) => {
    const el = e as { ownerDocument: { activeElement: unknown } };
    return el.ownerDocument.activeElement === e;
  });
  if (!focused) throw new Error('Tab from Fit did not reach the grid');
  const describedBy = await canvas.getAttribute('aria-describedby');
  if (!describedBy || (await readout.getAttribute('id')) !== describedBy)
    throw new Error(`aria-describedby ${describedBy} is not the readout`);
  if ((await readout.getAttribute('aria-live')) !== 'polite') throw new Error('the readout is not live');
  const first = await poll(
    'the cursor on focus',
    async () => {
      const t = await text(readout);
      return /page 1 of 512/.test(t) ? t : undefined;
    },
    5_000,
    100,
  );
  await c.page.keyboard.press('ArrowRight');
  await c.page.keyboard.press('ArrowRight');
  const third = await text(readout);
  if (!/^0x0a002000: untouched \(lazy\), page 3 of 512 \(virtio-mmio\)/.test(third))
    throw new Error(`after →→: ${third}`);
  await c.page.keyboard.press('ArrowDown');
  const below = await text(readout);
  const row = Number(/page (\d+) of/.exec(below)?.[1] ?? 0);
  if (row <= 3) throw new Error(`↓ did not move a row: ${below}`);
  said.push(`cursor: "${first}" → →→ "${third}" → ↓ page ${row}`);
  await c.page.keyboard.press('+');
  const zoomed = await text(region.locator('.window'));
  if (!/pages \d+–\d+ of 512 · zoom 4×/.test(zoomed)) throw new Error(`after +: ${zoomed}`);
  await c.shot('21-grid-keyboard-zoom');
  // Enter reveals the cursor page's PTE (the virtio window is one lazy 2 MiB block: its L2 entry).
  await c.page.keyboard.press('Enter');
  const selected = pteRow('0x000a000000');
  await selected.waitFor({ timeout: 20_000 });
  said.push(`+ → "${zoomed}"; Enter → ${(await text(selected)).slice(0, 60)}`);
  // Back to the whole region, as the next steps expect.
  await canvas.focus();
  await c.page.keyboard.press('0');
  const fit = await text(region.locator('.window'));
  if (fit !== 'all 512 pages') throw new Error(`after 0: ${fit}`);
  return said.join('; ');
}

/** The diff in groups (by region and kind), collapsible; the log without an empty column; "1 page". */
export async function groupedDiffAndLog(c: UiContext): Promise<string> {
  const groups = c.guard.locator('#diff details');
  const n = await groups.count();
  if (n < 2) throw new Error(`${n} diff groups`);
  const titles = await c.guard.locator('#diff details > summary').allInnerTexts();
  const guard = titles.find((t) => /^pl031 rtc · untouched \(lazy\) → guard-mapped · 1 page$/.test(t.trim()));
  if (!guard) throw new Error(`groups: ${titles.join(' | ')}`);
  // A group opens and closes from its summary.
  const g = groups.filter({ hasText: 'TTBR0_EL1' }).first();
  const wasOpen = await g.evaluate((d: unknown) => (d as { open: boolean }).open);
  await g.locator('summary').click();
  const nowOpen = await g.evaluate((d: unknown) => (d as { open: boolean }).open);
  if (nowOpen === wasOpen) throw new Error('the summary did not toggle its group');
  if (!nowOpen) await g.locator('summary').click();
  await g.locator('li').first().waitFor({ state: 'visible', timeout: 5_000 });
  await c.guard.locator('#diff').scrollIntoViewIfNeeded();
  await c.shot('22-diff-grouped');
  const heads = await c.guard.locator('#timeline th').allInnerTexts();
  if (heads.includes('from')) throw new Error(`log columns: ${heads.join(', ')}`);
  const h3 = await text(c.guard.locator('.region h3', { hasText: 'pl031' }).first());
  if (!/· 1 page( ·|$)/.test(h3)) throw new Error(`region heading: ${h3}`);
  return `${n} groups: ${titles.map((t) => t.trim()).join(' | ')}; log columns ${heads.join(' ')}; ${h3}`;
}
