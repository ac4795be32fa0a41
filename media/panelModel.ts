// What the MMIO Guard panel says about a region at scale (#14 item 10), as pure functions the webview
// draws from and the unit tests check: counts in words ("1 page", "262,144 pages"), a region's long
// runs summarized, the grid's zoom window and page cursor, and the diff grouped by region and kind.
// No DOM here.

import {
  formatAddress,
  formatChange,
  formatCount as countText,
  formatPageState,
  formatPages as pagesText,
  plural,
} from '../src/shared/format';
import type { Anomaly, PageGuardState, PageRun, PteChange, PteChangeKind } from '../src/shared/protocol';
import type { GuardPageTransition } from '../src/shared/webviewMessages';

export const PAGE_SIZE = 4096;

// Counts in words, as every view writes them (src/shared/format): `262,144 pages`, `1 page`.
export { countText, pagesText, plural };

// ---------------------------------------------------------------- long runs

export interface RunLine {
  start: bigint;
  /** Inclusive last byte. */
  last: bigint;
  pages: number;
  state: PageGuardState;
}

export interface RunSummary {
  /** The longest runs, in address order. */
  shown: RunLine[];
  /** Runs left out, and the pages they hold. */
  others: number;
  otherPages: number;
}

/** The `max` longest runs of a region (what a solid block of the grid hides), in address order. */
export function longRuns(runs: readonly PageRun[], max = 6): RunSummary {
  const lines = runs.map((r): RunLine => ({
    start: BigInt(r.start),
    last: BigInt(r.start) + BigInt(r.pages) * BigInt(PAGE_SIZE) - 1n,
    pages: r.pages,
    state: r.state,
  }));
  const longest = [...lines]
    .map((l, i) => ({ l, i }))
    .sort((a, b) => b.l.pages - a.l.pages || a.i - b.i)
    .slice(0, max)
    .sort((a, b) => a.i - b.i)
    .map((x) => x.l);
  const otherPages = lines.reduce((n, l) => n + l.pages, 0) - longest.reduce((n, l) => n + l.pages, 0);
  return { shown: longest, others: lines.length - longest.length, otherPages };
}

/** `0x0a000000–0x0a1fffff · 512 pages · untouched (lazy)`. */
export function runLine(r: RunLine): string {
  return `${formatAddress(r.start)}–${formatAddress(r.last)} · ${pagesText(r.pages)} · ${formatPageState(r.state)}`;
}

// ---------------------------------------------------------------- zoom window

/** The pages the grid draws: all of them at level 0, a quarter as many at each level in. */
export interface GridWindow {
  level: number;
  first: number;
  count: number;
}

export const ZOOM_FACTOR = 4;
/** The smallest window: 256 pages draw at the largest cell size in a narrow panel. */
export const MIN_WINDOW = 256;

/** The deepest zoom level of a region (0 when it fits in the smallest window). */
export function maxZoom(pageCount: number): number {
  let level = 0;
  while (Math.ceil(pageCount / ZOOM_FACTOR ** level) > MIN_WINDOW) level++;
  return level;
}

/** The window at `level` (clamped) centred on page `center`, inside the region. */
export function zoomWindow(pageCount: number, level: number, center: number): GridWindow {
  const l = Math.max(0, Math.min(maxZoom(pageCount), Math.round(level)));
  const count =
    l === 0 ? pageCount : Math.max(Math.min(pageCount, MIN_WINDOW), Math.ceil(pageCount / ZOOM_FACTOR ** l));
  const first = Math.max(0, Math.min(pageCount - count, Math.round(center) - Math.floor(count / 2)));
  return { level: l, first, count };
}

/** `pages 1–4,096 of 262,144 · zoom 64×` (1-based page numbers, as a reader counts). */
export function windowText(w: GridWindow, pageCount: number): string {
  const zoom = w.level ? ` · zoom ${countText(ZOOM_FACTOR ** w.level)}×` : '';
  return w.count === pageCount
    ? `all ${pagesText(pageCount)}${zoom}`
    : `pages ${countText(w.first + 1)}–${countText(w.first + w.count)} of ${countText(pageCount)}${zoom}`;
}

// ---------------------------------------------------------------- layout

export interface GridLayout {
  /** Cell size in CSS pixels. */
  cell: number;
  cols: number;
  rows: number;
  /** Pages per cell: 1, or more when the window has more pages than the grid has pixels. */
  ppc: number;
}

/** Room around the pages so the outline of an edge page (a one-page region) is not clipped. */
export const GRID_MARGIN = 4;
const MAX_CELL = 16;
/** Grid height for a region with something to see, and for one that is a single run (one colour). */
export const GRID_HEIGHT = 320;
export const UNIFORM_GRID_HEIGHT = 24;

/**
 * Cells for `pages` in `width` x `maxHeight` pixels: as large as fits (up to 16 px), down to one
 * pixel; past one pixel per page, each cell holds several pages (the grid shows the most notable).
 */
export function layoutFor(pages: number, width: number, maxHeight = GRID_HEIGHT): GridLayout {
  const w = Math.max(64, Math.floor(width));
  const usable = w - 2 * GRID_MARGIN;
  const n = Math.max(1, pages);
  const ppc = Math.max(1, Math.ceil(n / (usable * maxHeight)));
  const cells = Math.ceil(n / ppc);
  const cell = Math.max(1, Math.min(MAX_CELL, Math.floor(Math.sqrt((usable * maxHeight) / cells))));
  const cols = Math.max(1, Math.min(cells, Math.floor(usable / cell)));
  return { cell, cols, rows: Math.ceil(cells / cols), ppc };
}

/**
 * One state code per cell of `ppc` pages from `states[first, first + count)`: the highest-ranked
 * code among the cell's pages (`rank[code]`; 255 = no page tracked), so one guard-mapped page in a
 * lazy gigabyte still shows.
 */
export function cellStates(
  states: Uint8Array,
  first: number,
  count: number,
  ppc: number,
  rank: readonly number[],
): Uint8Array {
  const cells = Math.ceil(count / ppc);
  const out = new Uint8Array(cells).fill(255);
  for (let c = 0; c < cells; c++) {
    const from = first + c * ppc;
    const to = Math.min(first + count, from + ppc);
    let best = 255;
    let bestRank = -1;
    for (let i = from; i < to; i++) {
      const code = states[i];
      if (code === 255) continue;
      const r = rank[code] ?? 0;
      if (r > bestRank) {
        bestRank = r;
        best = code;
      }
    }
    out[c] = best;
  }
  return out;
}

// ---------------------------------------------------------------- page cursor

export const CURSOR_KEYS = [
  'ArrowLeft',
  'ArrowRight',
  'ArrowUp',
  'ArrowDown',
  'Home',
  'End',
  'PageUp',
  'PageDown',
] as const;
export type CursorKey = (typeof CURSOR_KEYS)[number];

export const isCursorKey = (k: string): k is CursorKey => (CURSOR_KEYS as readonly string[]).includes(k);

/**
 * The page the cursor moves to: left/right one cell, up/down one row of the grid (`cols` cells),
 * Page Up/Down a screenful (`rows` rows), Home/End the region's first/last page. Stays in the region.
 */
export function moveCursor(
  index: number,
  key: CursorKey,
  cols: number,
  rows: number,
  pageCount: number,
  /** Pages per cell: a step moves to the next cell. */
  unit = 1,
): number {
  const u = Math.max(1, unit);
  const step: Record<CursorKey, number> = {
    ArrowLeft: -u,
    ArrowRight: u,
    ArrowUp: -cols * u,
    ArrowDown: cols * u,
    PageUp: -cols * u * Math.max(1, rows),
    PageDown: cols * u * Math.max(1, rows),
    Home: -Infinity,
    End: Infinity,
  };
  const to = index + step[key];
  return Math.max(0, Math.min(pageCount - 1, Number.isFinite(to) ? to : to < 0 ? 0 : pageCount - 1));
}

/** The cursor's page as a screen reader reads it: `0x09010000: guard-mapped, page 17 of 4,096 (pl031 rtc)`. */
export function describePage(
  address: bigint,
  state: PageGuardState | undefined,
  index: number,
  pageCount: number,
  region?: string,
  marks: { changed?: boolean; fault?: boolean } = {},
): string {
  const extra = [marks.fault ? 'the fault page' : '', marks.changed ? 'changed since the previous stop' : '']
    .filter(Boolean)
    .join(', ');
  return (
    `${formatAddress(address)}: ${state ? formatPageState(state) : 'not tracked'}, page ${countText(index + 1)} of ${countText(pageCount)}` +
    (region ? ` (${region})` : '') +
    (extra ? `; ${extra}` : '')
  );
}

// ---------------------------------------------------------------- the diff, grouped

/** A run of pages of one region whose guard state moved between two stops. */
export interface PageRunChange {
  region?: string;
  regionStart: bigint;
  start: bigint;
  pages: number;
  before: PageGuardState | 'untracked' | undefined;
  after: PageGuardState | 'untracked';
}

export interface DiffGroup {
  /** Stable across stops, to keep a group open or closed as the user left it. */
  id: string;
  kind: 'guard' | 'pte' | 'anomaly';
  /** The state a guard group moved to (its swatch). */
  state?: PageGuardState | 'untracked';
  title: string;
  lines: string[];
  /** Lines left out of `lines` (the grid still marks their pages). */
  more: number;
}

const PTE_KIND_LABEL: Record<PteChangeKind, string> = {
  becameValid: 'became valid',
  becameInvalid: 'became invalid',
  split: 'blocks split into tables',
  merged: 'tables merged into blocks',
  modified: 'modified',
  added: 'added',
  removed: 'removed',
};

const stateWords = (s: PageGuardState | 'untracked' | undefined): string => (s ? formatPageState(s) : 'new');

/** `0x09010000 (1 page): untouched (lazy) → guard-mapped`. */
export function pageRunLine(c: Pick<PageRunChange, 'start' | 'pages' | 'before' | 'after'>): string {
  return `${formatAddress(c.start)} (${pagesText(c.pages)}): ${formatChange(stateWords(c.before), stateWords(c.after))}`;
}

/** Comparison transitions (Compare Snapshots) as page-run changes. */
export function transitionsAsRuns(
  transitions: readonly GuardPageTransition[],
  regions: readonly { name?: string; start: string; end: string }[],
): PageRunChange[] {
  return transitions.map((t) => {
    const start = BigInt(t.start);
    const r = regions.find((x) => BigInt(x.start) <= start && start < BigInt(x.end));
    return {
      region: t.region ?? r?.name,
      regionStart: r ? BigInt(r.start) : start,
      start,
      pages: t.pages,
      before: t.from,
      after: t.to,
    };
  });
}

export interface DiffInput {
  pageRuns: readonly PageRunChange[];
  pteChanges: readonly PteChange[];
  anomalies: readonly Anomaly[];
  /** Tracked regions, to name the region a table change's VA falls in. */
  regions: readonly { name?: string; start: string; end: string }[];
}

/**
 * The diff as groups: guard-state runs by region and transition, table changes by regime, kind and
 * region, then new anomalies. Each group lists at most `maxLines` lines and says how many it left out.
 */
export function groupDiff(input: DiffInput, maxLines = 50): DiffGroup[] {
  const groups = new Map<string, DiffGroup & { total: number }>();
  const add = (g: Omit<DiffGroup, 'lines' | 'more'>, line: string, weight = 1): void => {
    let e = groups.get(g.id);
    if (!e) groups.set(g.id, (e = { ...g, lines: [], more: 0, total: 0 }));
    e.total += weight;
    if (e.lines.length < maxLines) e.lines.push(line);
    else e.more++;
  };
  for (const c of input.pageRuns) {
    const where = c.region ?? formatAddress(c.regionStart);
    add(
      {
        id: `guard:${c.regionStart.toString(16)}:${c.before ?? 'new'}:${c.after}`,
        kind: 'guard',
        state: c.after,
        title: `${where} · ${formatChange(stateWords(c.before), stateWords(c.after))}`,
      },
      pageRunLine(c),
      c.pages,
    );
  }
  const regionOf = (va: bigint): string | undefined =>
    input.regions.find((r) => BigInt(r.start) <= va && va < BigInt(r.end))?.name ?? undefined;
  for (const c of input.pteChanges) {
    const inRegion = regionOf(BigInt(c.vaStart));
    add(
      {
        id: `pte:${c.regime}:${c.kind}:${inRegion ?? ''}`,
        kind: 'pte',
        title: `${c.regime} · ${PTE_KIND_LABEL[c.kind] ?? c.kind}${inRegion ? ` · ${inRegion}` : ''}`,
      },
      c.summary,
    );
  }
  for (const a of input.anomalies)
    add({ id: 'anomalies', kind: 'anomaly', title: 'New anomalies' }, `⚠ ${a.message}`);
  return [...groups.values()].map(({ total, ...g }) => ({
    ...g,
    title:
      g.kind === 'guard'
        ? `${g.title} · ${pagesText(total)}`
        : g.kind === 'pte'
          ? `${g.title} · ${plural(total, 'entry', 'entries')}`
          : `${g.title} (${countText(total)})`,
  }));
}

/** Small groups open by themselves; a long one (56 tables entries becoming valid) starts closed. */
export const OPEN_UP_TO_LINES = 5;

export function groupOpen(g: DiffGroup, remembered: boolean | undefined): boolean {
  return remembered ?? g.lines.length + g.more <= OPEN_UP_TO_LINES;
}

/** The guard-call log's columns: "from" only when some call says where it came from. */
export function logColumns(log: readonly { pc?: string; symbol?: string }[]): string[] {
  const cols = ['#', 'call', 'x1', 'x0'];
  return log.some((c) => c.symbol || c.pc) ? [...cols, 'from'] : cols;
}
