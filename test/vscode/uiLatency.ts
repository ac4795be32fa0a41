// #14 item 16 in the browser: latency as a user feels it. At a stop in the demo firmware, F10 is
// pressed N times; for each press the page records when the key went down, when the MMIO Guard
// webview drew the new stop (its DOM changed to the next stop number, then the next animation frame)
// and when the Page Tables tree drew it (its header says the stop, and its rows settle). Every
// timestamp is Date.now() of its own context (page, webview, extension host): one clock on one machine.
// The figures are printed (p50, p90 and the breakdown); nothing asserts a time (the machines are
// shared and noisy). What is asserted: both views moved to each new stop, and the tree's rows are
// the new stop's (a full re-listing shows the same).

import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Locator } from 'playwright-core';
import { poll, runCommand } from './browser';
import { parseTimingLine, type HostBreakdown } from '../../src/ui/stopTiming';
import type { UiContext } from './uiFreshChecks';

/** One F10, as the page saw it (ms since the key went down). */
export interface PressTiming {
  stop: number;
  /** The webview's DOM showed the new stop, and the frame after it. */
  viewDom: number;
  viewPaint: number;
  /** The Page Tables header named the new stop, and its rows last changed (when they did). */
  treeHeader: number;
  treeRows?: number;
  /** Later of the two: the tree shows the stop. */
  tree: number;
}

interface PageProbe {
  key: number;
  /** Times of DOM changes in the Page Tables rows since the last reset. */
  tree: number[];
  /** The stop the Page Tables header should name next, and when it first did. */
  want: number;
  header?: number;
}
interface ViewProbe {
  from: number;
  dom?: number;
  paint?: number;
  stop?: number;
}
type Win = Record<string, unknown> & {
  addEventListener(t: string, f: (e: { key: string }) => void, capture: boolean): void;
  requestAnimationFrame(f: () => void): void;
  MutationObserver: new (f: () => void) => { observe(n: unknown, o: Record<string, boolean>): void };
  document: { querySelector(s: string): { textContent: string | null } | null };
};

/**
 * Installs the page's probes once: F10 key-down time, DOM changes of the Page Tables rows, and of its
 * header (whose description names the stop the rows show).
 */
async function pageProbe(c: UiContext): Promise<void> {
  const pane = c.pane('Page Tables');
  await pane.evaluate((node: unknown) => {
    const w = globalThis as unknown as Win;
    const el = node as { querySelector(s: string): { textContent: string | null } | null };
    const probe: PageProbe = { key: 0, tree: [], want: -1 };
    w.__pvmfwLatency = probe;
    w.addEventListener(
      'keydown',
      (e) => {
        if (e.key === 'F10') probe.key = Date.now();
      },
      true,
    );
    const watch = { subtree: true, childList: true, characterData: true };
    new w.MutationObserver(() => {
      probe.tree.push(Date.now());
    }).observe(el.querySelector('.pane-body'), watch);
    const header = el.querySelector('.pane-header');
    new w.MutationObserver(() => {
      if (probe.header === undefined && (header?.textContent ?? '').includes(`stop ${probe.want}`))
        probe.header = Date.now();
    }).observe(header, watch);
  });
}

/** Arms the webview's probe for the stop after `from`: first DOM change showing a later stop. */
async function viewProbe(app: Locator, from: number): Promise<void> {
  await app.evaluate((node: unknown, from: number) => {
    const w = globalThis as unknown as Win;
    const probe: ViewProbe = { from };
    w.__pvmfwLatency = probe;
    const observer = (w.__pvmfwObserver as { disconnect(): void } | undefined) ?? undefined;
    observer?.disconnect();
    const o = new w.MutationObserver(() => {
      if (probe.dom) return;
      const meta = w.document.querySelector('.meta')?.textContent ?? '';
      const stop = Number(/stop (\d+)/.exec(meta)?.[1] ?? -1);
      if (stop <= probe.from) return;
      probe.dom = Date.now();
      probe.stop = stop;
      w.requestAnimationFrame(() => {
        probe.paint = Date.now();
      });
    });
    w.__pvmfwObserver = o;
    o.observe(node, { subtree: true, childList: true, characterData: true });
  }, from);
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

export function percentiles(xs: number[]): string {
  if (!xs.length) return 'n/a';
  return `p50 ${pct(xs, 50)} ms, p90 ${pct(xs, 90)} ms (n=${xs.length}, min ${Math.min(...xs)}, max ${Math.max(...xs)})`;
}

/** The pvmfw MMU output channel as code-server logs it on disk (user-data/logs/…/N-pvmfw MMU.log). */
function outputChannelText(root: string): string {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/pvmfw MMU\.log$/.test(e.name)) found.push(p);
    }
  };
  walk(join(root, 'user-data', 'logs'));
  return found.map((f) => readFileSync(f, 'utf8')).join('\n');
}

const median = (xs: (number | undefined)[]): string => {
  const v = xs.filter((x): x is number => x !== undefined);
  return v.length ? `${pct(v, 50)}` : '–';
};

/**
 * Presses F10 `presses` times at the current stop (the MMIO Guard panel and Page Tables open) and
 * returns the per-press timings. Each press waits until both views show the new stop: the webview's
 * stop number and the Page Tables header ("stop N") must both move to the next stop, and the rows
 * must be what Refresh Page Tables (a full re-listing) then shows, or it throws. `root` is
 * code-server's work dir (the output channel's log, for the host's breakdown).
 */
export async function stepLatency(
  c: UiContext,
  root: string,
  log: (s: string) => void,
  presses = 15,
): Promise<{ timings: PressTiming[]; text: string }> {
  const app = c.guard.locator('#app');
  const stopOf = async (): Promise<number> =>
    Number(/stop (\d+)/.exec(await c.guard.locator('.meta').first().innerText())?.[1] ?? -1);
  const header = c.page.locator('.pane-header[aria-label^="Page Tables"]').first();
  const treeStop = async (): Promise<number> =>
    Number(/stop (\d+)/.exec(await header.innerText())?.[1] ?? -1);
  await pageProbe(c);
  // F10 goes to the workbench: focus the Call Stack (not the webview, which keeps its own keys). The
  // mouse rests on the side bar's title, where no hover follows the stops.
  const callStack = c.pane('Call Stack').locator('.monaco-list').first();
  await callStack.focus();
  const rowsText = async (): Promise<string> =>
    (await c.pane('Page Tables').locator('.monaco-list-row').allInnerTexts()).join('\n');
  // The rows on screen are the ones a full re-listing gives (Refresh Page Tables asks the adapter for
  // every open level again): the tree redrew what changed, and nothing is stale.
  const sameAsRelisted = async (what: string): Promise<void> => {
    const shown = await rowsText();
    await runCommand(c.page, 'pvmfw MMU: Refresh Page Tables');
    const again = await poll(
      'Page Tables to settle after Refresh',
      async () => {
        const a = await rowsText();
        await new Promise((r) => setTimeout(r, 300));
        const b = await rowsText();
        return a === b ? b : undefined;
      },
      20_000,
      0,
    );
    if (again !== shown)
      throw new Error(`${what}: Page Tables showed\n${shown}\nbut a full re-listing gives\n${again}`);
    await callStack.focus();
  };
  const title = await c.page.locator('.part.sidebar .composite.title').first().boundingBox();
  if (title) await c.page.mouse.move(title.x + title.width - 60, title.y + title.height / 2);
  const timings: PressTiming[] = [];
  const keys: number[] = [];
  for (let k = 0; k < presses; k++) {
    const from = await stopOf();
    await viewProbe(app, from);
    await c.page.evaluate((want: number) => {
      const p = (globalThis as unknown as Win).__pvmfwLatency as PageProbe;
      p.tree = [];
      p.key = 0;
      p.header = undefined;
      p.want = want;
    }, from + 1);
    await c.page.keyboard.press('F10');
    const view = await poll(
      `the webview to draw the stop after ${from}`,
      () =>
        app.evaluate(() => {
          const p = (globalThis as unknown as Win).__pvmfwLatency as ViewProbe;
          return p.paint !== undefined ? { ...p } : undefined;
        }),
      30_000,
      20,
    );
    if (view.stop !== from + 1) throw new Error(`F10 at stop ${from}: MMIO Guard shows stop ${view.stop}`);
    // The tree's header names the stop its rows show; then its rows settle (no change for 300 ms).
    await poll(
      `Page Tables to show stop ${from + 1}`,
      async () => ((await treeStop()) === from + 1 ? true : undefined),
      30_000,
      20,
    );
    let page: PageProbe;
    for (;;) {
      await new Promise((r) => setTimeout(r, 100));
      page = await c.page.evaluate(() => {
        const p = (globalThis as unknown as Win).__pvmfwLatency as PageProbe;
        return { ...p, tree: [...p.tree] };
      });
      if (Date.now() - Math.max(page.tree.at(-1) ?? 0, page.header ?? 0) > 300) break;
    }
    if (!page.header) throw new Error(`F10 to stop ${from + 1}: the Page Tables header did not name it`);
    keys.push(page.key);
    timings.push({
      stop: from + 1,
      viewDom: (view.dom ?? 0) - page.key,
      viewPaint: (view.paint ?? 0) - page.key,
      // The rows redraw only where an entry changed; the header names the stop they show.
      treeHeader: page.header - page.key,
      ...(page.tree.length ? { treeRows: (page.tree.at(-1) ?? 0) - page.key } : {}),
      tree: Math.max(page.tree.at(-1) ?? 0, page.header) - page.key,
    });
    await sameAsRelisted(`stop ${from + 1}`);
    // A pause before the next F10, as a person reads the stop: the re-listing's work is over.
    await new Promise((r) => setTimeout(r, 1000));
  }
  // F10 again and again without waiting for the views (a stop overtaken by the next): both settle on
  // the last stop, and the tree's rows are still that stop's.
  for (let k = 0; k < 6; k++) {
    await c.page.keyboard.press('F10');
    await new Promise((r) => setTimeout(r, 40 + 15 * k));
  }
  const last = await poll(
    'both views to settle after quick presses',
    async () => {
      const a = await stopOf();
      const b = await treeStop();
      await new Promise((r) => setTimeout(r, 500));
      return a === b && a === (await stopOf()) && b === (await treeStop()) ? a : undefined;
    },
    30_000,
    0,
  );
  await sameAsRelisted(`stop ${last} after quick presses`);
  // The host's side of each stop, from "Show Stop Latency" (written to the output channel's log).
  await new Promise((r) => setTimeout(r, 500));
  await runCommand(c.page, 'pvmfw MMU: Show Stop Latency');
  const lines = await poll(
    'the Show Stop Latency lines in the output channel log',
    () => {
      const all = outputChannelText(root)
        .split('\n')
        .map(parseTimingLine)
        .filter((b): b is HostBreakdown => b !== undefined);
      const mine = timings.map((t) => [...all].reverse().find((b) => b.stop === t.stop));
      return Promise.resolve(mine.every(Boolean) ? (mine as HostBreakdown[]) : undefined);
    },
    10_000,
  );
  const rows: string[] = [];
  timings.forEach((t, k) => {
    const b = lines[k];
    const keyToResume = b.t0 - keys[k];
    rows.push(
      `    F10 -> stop ${t.stop}: MMIO Guard ${t.viewPaint} ms, Page Tables ${t.tree} ms ` +
        `(header ${t.treeHeader}, rows ${t.treeRows ?? '–'}) = ` +
        `workbench ${keyToResume} + step ${b.resumeToStopped ?? '–'} + adapter ${b.adapter ?? '–'} + ` +
        `host ${b.host ?? '–'} + transit ${b.transit ?? '–'} + draw ${b.draw ?? '–'} + frame ${b.frame ?? '–'}; ` +
        `listings at +${b.listings ?? '–'}`,
    );
  });
  for (const r of rows) log(r);
  const both = timings.map((t) => Math.max(t.viewPaint, t.tree));
  const [l1] = loadavg();
  const text =
    `F10 -> both views drawn: ${percentiles(both)}; MMIO Guard ${percentiles(timings.map((t) => t.viewPaint))}; ` +
    `Page Tables ${percentiles(timings.map((t) => t.tree))}; ` +
    `median breakdown: workbench ${median(lines.map((b, k) => b.t0 - keys[k]))}, step ${median(lines.map((b) => b.resumeToStopped))}, ` +
    `adapter ${median(lines.map((b) => b.adapter))}, host ${median(lines.map((b) => b.host))}, ` +
    `transit ${median(lines.map((b) => b.transit))}, draw ${median(lines.map((b) => b.draw))}, ` +
    `frame ${median(lines.map((b) => b.frame))}, listings +${median(lines.map((b) => b.listings))}; ` +
    `load ${l1.toFixed(2)}; 6 quick presses: both views on stop ${last}, rows as re-listed`;
  return { timings, text };
}
