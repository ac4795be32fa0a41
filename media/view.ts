// Builds the MMIO Guard page from one guard state: counters, the current fault, one canvas grid per
// region, the changes since the previous stop, the guard-call timeline and the anomalies. DOM text goes
// through textContent only: every string here comes from the debuggee.

import {
  PAGE_GUARD_STATE_LABEL,
  UNTRACKED_GUARD_LABEL,
  type GuardCall,
  type GuardStateResponseBody,
  type MmuChangedEventBody,
  type PageGuardState,
  type PageRun,
} from '../src/shared/protocol';
import type { GuardPageTransition, StopComparison } from '../src/shared/webviewMessages';
import { MAX_RENDERED_DIFF_LINES } from '../src/shared/webviewMessages';
import { formatAddress, formatChange, formatDescriptor, formatPageState } from '../src/shared/format';
import {
  changedIndexes,
  diffRuns,
  PAGE_SIZE,
  snapshotOf,
  transitionIndexes,
  type RegionSnapshot,
} from './diff';
import { PageGrid, type GridPalette, type GridView } from './grid';
import {
  countText,
  groupDiff,
  groupOpen,
  logColumns,
  longRuns,
  pagesText,
  plural,
  runLine,
  transitionsAsRuns,
  type DiffGroup,
} from './panelModel';

/** The same words as the tree, the status bar and the Debug Console (src/shared/protocol). */
export const STATE_LABEL: Readonly<Record<PageGuardState, string>> = PAGE_GUARD_STATE_LABEL;

const STATE_ORDER: readonly PageGuardState[] = [
  'lazy',
  'guardMappedPending',
  'guardMapped',
  'unmapped',
  'validUnguarded',
  'anomaly',
];

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
}

// Addresses, descriptors and state changes as every view writes them (src/shared/format).
const hex = (v: bigint): string => formatAddress(v);
/** A guard call's x1: the IPA of a MAP or UNMAP as every view writes addresses, else the raw value. */
const argText = (c: { fn: string; arg: string }): string =>
  c.fn === 'MAP' || c.fn === 'UNMAP' ? formatAddress(c.arg) : c.arg;

/** Reads the palette from CSS (which maps states to --vscode-* theme variables). */
export function readPalette(): GridPalette {
  const css = getComputedStyle(document.body);
  const v = (name: string, fallback: string): string => css.getPropertyValue(name).trim() || fallback;
  return {
    state: {
      lazy: v('--state-lazy', '#cca700'),
      guardMapped: v('--state-guard-mapped', '#388a34'),
      guardMappedPending: v('--state-pending', '#3794ff'),
      validUnguarded: v('--state-valid-unguarded', '#f14c4c'),
      unmapped: v('--state-unmapped', '#808080'),
      anomaly: v('--state-anomaly', '#f14c4c'),
    },
    empty: v('--grid-empty', '#2a2a2a'),
    changed: v('--grid-changed', '#ffffff'),
    fault: v('--grid-fault', '#f14c4c'),
    focus: v('--grid-focus', '#007fd4'),
  };
}

export function countsSummary(counts: Record<PageGuardState, number>): string {
  const total = STATE_ORDER.reduce((n, s) => n + (counts[s] ?? 0), 0);
  const parts = STATE_ORDER.filter((s) => counts[s]).map((s) => `${STATE_LABEL[s]} ${counts[s]}`);
  return `${pagesText(total)}: ${parts.join(' · ') || 'none'}`;
}

/** Pages guard-mapped outside every tracked region: what the summary line adds for them. */
export function untrackedSummary(untracked: readonly PageRun[]): string {
  const n = untracked.reduce((k, r) => k + r.pages, 0);
  return n ? ` · ${UNTRACKED_GUARD_LABEL} ${n}` : '';
}

/** The guard-mapped pages outside the tracked regions, one line per run (pvmfw's console). */
function untrackedSection(untracked: readonly PageRun[]): HTMLElement {
  const n = untracked.reduce((k, r) => k + r.pages, 0);
  const s = el(
    'section',
    { class: 'untracked', id: 'untracked' },
    el('h2', {}, `Guard-mapped outside the tracked regions (${n})`),
    el(
      'p',
      { class: 'meta' },
      'MMIO_GUARD_MAPped but in no tracked MMIO region: pvmfw maps its console this way at boot, not through mmio_regions.',
    ),
  );
  const ul = el('ul', {});
  for (const r of untracked)
    ul.append(
      el(
        'li',
        { class: 'state-guardMapped' },
        el('span', { class: 'swatch' }),
        `${hex(BigInt(r.start))} (${pagesText(r.pages)}): ${UNTRACKED_GUARD_LABEL}`,
      ),
    );
  s.append(ul);
  return s;
}

function counters(counts: Record<PageGuardState, number>, untracked: number): HTMLElement {
  const box = el('div', { class: 'counters' });
  for (const s of STATE_ORDER) {
    box.append(
      el(
        'span',
        { class: `counter state-${s}`, 'data-state': s },
        el('span', { class: 'swatch' }),
        `${STATE_LABEL[s]} `,
        el('b', {}, String(counts[s] ?? 0)),
      ),
    );
  }
  if (untracked)
    box.append(
      el(
        'span',
        { class: 'counter state-guardMapped', 'data-state': 'untracked' },
        el('span', { class: 'swatch' }),
        `${UNTRACKED_GUARD_LABEL} `,
        el('b', {}, String(untracked)),
      ),
    );
  return box;
}

export interface RenderInput {
  session: string;
  state: GuardStateResponseBody;
  change?: MmuChangedEventBody;
  /** Region states at the previous stop (from the webview state), for the diff. */
  previous: RegionSnapshot[];
  previousStopId?: number;
  /** The stop is compared with an earlier snapshot: its transitions replace the previous-stop diff. */
  comparison?: StopComparison;
  focus?: bigint;
  width: number;
  /** Zoom and cursor of each region's grid (by region start), kept by the webview across renders. */
  grids?: Readonly<Record<string, GridView>>;
  /** Diff groups the user opened or closed (by group id). */
  diffOpen?: Readonly<Record<string, boolean>>;
  /** Start of the region whose grid had keyboard focus: it gets it back after the redraw. */
  focusedRegion?: string;
}

/** What the page tells the webview besides picks: zoom/cursor moves and diff groups toggled. */
export interface RenderHooks {
  onPick(address: bigint): void;
  onGridView?(regionStart: string, view: GridView): void;
  onToggleGroup?(id: string, open: boolean): void;
}

export interface RenderOutput {
  changedPages: number;
  pages: number;
  summary: string;
  grids: PageGrid[];
  /** The diff section's heading and first lines, as drawn (reported to the host). */
  diffTitle: string;
  diffLines: string[];
}

const stateLabel = formatPageState;

/** `0x09010000 (1 page, pl031): untouched (lazy) → guard-mapped`. */
export function transitionLine(t: GuardPageTransition): string {
  const what = `${pagesText(t.pages)}${t.region ? `, ${t.region}` : ''}`;
  return `${hex(BigInt(t.start))} (${what}): ${formatChange(stateLabel(t.from), stateLabel(t.to))}`;
}

/** How many lines a diff group lists (the grid marks every page). */
const GROUP_ROWS = 200;

/** One region: its name and extent, counts, its long runs in words, the zoomable grid and its readout. */
function regionBox(
  r: GuardStateResponseBody['regions'][number],
  grid: PageGrid,
  changed: number,
  readout: HTMLElement,
): HTMLElement {
  // A region of one run says it all in its counts line; with several, the longest runs in words.
  const runs = longRuns(r.runs.length > 1 ? r.runs : [], 4);
  const runList = el('ul', { class: 'runs' });
  for (const line of runs.shown)
    runList.append(
      el('li', { class: `state-${line.state}` }, el('span', { class: 'swatch' }), runLine(line)),
    );
  if (runs.others)
    runList.append(
      el(
        'li',
        { class: 'more' },
        `… ${countText(runs.others)} shorter run${runs.others === 1 ? '' : 's'} (${pagesText(runs.otherPages)})`,
      ),
    );
  const button = (label: string, title: string, act: () => void): HTMLButtonElement => {
    const b = el('button', { type: 'button', title, 'aria-label': title }, label);
    b.addEventListener('click', act);
    return b;
  };
  const zoom = el(
    'div',
    { class: 'zoom' },
    button('−', 'Zoom out', () => grid.zoom(-1)),
    button('+', 'Zoom in', () => grid.zoom(1)),
    button('Fit', 'Show the whole region', () => grid.zoom(0, true)),
    grid.windowLabel,
  );
  return el(
    'div',
    { class: 'region', 'data-start': r.start },
    el(
      'h3',
      {},
      `${r.name ?? 'region'} ${hex(BigInt(r.start))}–${hex(BigInt(r.end) - 1n)} · ${pagesText(r.pageCount)}` +
        (changed ? ` · ${countText(changed)} changed` : ''),
    ),
    el('p', { class: 'region-counts' }, countsSummary(r.counts)),
    runList,
    zoom,
    grid.canvas,
    readout,
  );
}

/** The diff as collapsible groups (by region and kind); returns the lines as a reader gets them. */
function diffGroups(groups: readonly DiffGroup[], input: RenderInput, hooks: RenderHooks): HTMLElement {
  const list = el('ul', { class: 'groups' });
  for (const g of groups) {
    const details = el('details', { 'data-group': g.id });
    details.open = groupOpen(g, input.diffOpen?.[g.id]);
    // Setting `open` above queues a toggle event too: remember only what the user changes.
    let shown = details.open;
    details.addEventListener('toggle', () => {
      if (details.open === shown) return;
      shown = details.open;
      hooks.onToggleGroup?.(g.id, shown);
    });
    const cls = g.kind === 'guard' ? `state-${g.state}` : g.kind === 'pte' ? 'pte-change' : 'anomaly';
    details.append(
      el(
        'summary',
        { class: cls },
        ...(g.kind === 'guard' ? [el('span', { class: 'swatch' })] : []),
        g.title,
      ),
    );
    const ul = el('ul', {});
    for (const line of g.lines) ul.append(el('li', {}, line));
    if (g.more) ul.append(el('li', { class: 'placeholder' }, `… ${countText(g.more)} more`));
    details.append(ul);
    list.append(el('li', { class: `group group-${g.kind}` }, details));
  }
  return list;
}

export function render(root: HTMLElement, input: RenderInput, hooks: RenderHooks): RenderOutput {
  const { state, change, comparison } = input;
  const palette = readPalette();
  root.replaceChildren();

  const totals = {} as Record<PageGuardState, number>;
  for (const s of STATE_ORDER) totals[s] = state.regions.reduce((n, r) => n + (r.counts[s] ?? 0), 0);
  const untracked = state.untracked ?? [];
  const summary = countsSummary(totals) + untrackedSummary(untracked);

  const header = el(
    'header',
    {},
    el('h1', {}, 'MMIO Guard'),
    el(
      'p',
      { class: 'meta' },
      `${input.session} · stop ${state.stopId}${change ? ` (${change.reason}) at ${change.pc}` : ''} · ` +
        `${state.enrolled ? 'enrolled' : 'not enrolled'}` +
        (state.granule ? ` · granule ${state.granule / 1024} KiB` : ''),
    ),
    el('p', { class: 'summary', id: 'summary' }, summary),
    counters(
      totals,
      untracked.reduce((n, r) => n + r.pages, 0),
    ),
  );
  root.append(header);
  if (!state.available)
    root.append(
      el('p', { class: 'warning' }, `Guard state unavailable: ${state.reason ?? 'unknown reason'}`),
    );

  // The fault the vCPU is stopped in.
  const fault = state.fault ?? change?.fault;
  if (fault) {
    const f = el('section', { class: 'fault', id: 'fault' }, el('h2', {}, 'Current fault'));
    f.append(
      el(
        'p',
        { class: 'verdict' },
        el('b', {}, `FAR ${hex(BigInt(fault.far))}`),
        ` — ${fault.esr.ecName}${fault.esr.fscName ? `, ${fault.esr.fscName}` : ''}${fault.esr.wnr !== undefined ? (fault.esr.wnr ? ', write' : ', read') : ''}`,
      ),
      el('p', { class: `verdict-${fault.verdict.kind}` }, fault.verdict.summary),
      el(
        'p',
        { class: 'meta' },
        `ESR_EL1 ${fault.esr.raw} · ELR_EL1 ${hex(BigInt(fault.elr))}${fault.elrSymbol ? ` (${fault.elrSymbol})` : ''}`,
      ),
    );
    const fields = el('ul', { class: 'fields' });
    for (const line of fault.esr.fields) fields.append(el('li', {}, line));
    f.append(fields);
    const walk = el('ol', { class: 'walk' });
    for (const s of fault.walk) {
      walk.append(
        el(
          'li',
          {},
          `L${s.level} [${s.index}] @ ${hex(BigInt(s.descriptorAddress))} = ${s.descriptor ? formatDescriptor(s.descriptor) : '?'} ${s.kind ?? ''}${s.stop ? ` — ${s.stop}` : ''}`,
        ),
      );
    }
    f.append(walk);
    root.append(f);
  }

  // One grid per tracked region.
  const previousByStart = new Map(input.previous.map((r) => [BigInt(r.start), r]));
  const grids: PageGrid[] = [];
  const regions = el('section', { class: 'regions' }, el('h2', {}, `Regions (${state.regions.length})`));
  let pages = 0;
  let refocus: HTMLCanvasElement | undefined;
  for (const r of state.regions) {
    pages += r.pageCount;
    const snap = snapshotOf(r);
    const changed = comparison
      ? transitionIndexes(snap, comparison.transitions)
      : changedIndexes(previousByStart.get(BigInt(r.start)), snap);
    // The readout sits under its own grid: what the pointer or the cursor is on, read out politely.
    const readoutId = `readout-${r.start}`;
    const readout = el('p', { class: 'hover readout', id: readoutId, 'aria-live': 'polite' }, ' ');
    const grid = new PageGrid(
      snap,
      r.name,
      {
        onDescribe: (t) => (readout.textContent = t || ' '),
        onPick: (a) => hooks.onPick(a),
        onView: (v) => hooks.onGridView?.(r.start, v),
      },
      input.grids?.[r.start],
    );
    grid.canvas.setAttribute('role', 'application');
    grid.canvas.setAttribute('aria-roledescription', 'page grid');
    grid.canvas.setAttribute('aria-describedby', readoutId);
    const far = fault ? grid.indexOf(BigInt(fault.far) & ~BigInt(PAGE_SIZE - 1)) : undefined;
    const focus = input.focus !== undefined ? grid.indexOf(input.focus) : undefined;
    regions.append(regionBox(r, grid, changed.size, readout));
    grid.draw(snap, input.width, palette, { changed, fault: far, focus });
    if (input.focusedRegion === r.start) refocus = grid.canvas;
    grids.push(grid);
  }
  if (!state.regions.length)
    regions.append(el('p', { class: 'placeholder' }, 'No tracked MMIO regions yet.'));
  root.append(regions);
  if (untracked.length) root.append(untrackedSection(untracked));

  // What changed since the previous stop, or since the snapshot this stop is compared with: grouped
  // by region and kind, each group collapsible (long ones start closed).
  const current = state.regions.map(snapshotOf);
  const stateDiff = comparison
    ? {
        runs: transitionsAsRuns(comparison.transitions, state.regions),
        count: comparison.transitions.reduce((n, t) => n + t.pages, 0),
      }
    : (() => {
        const d = diffRuns(input.previous, current);
        const names = new Map(state.regions.map((r) => [BigInt(r.start), r.name]));
        return { runs: d.runs.map((x) => ({ ...x, region: names.get(x.regionStart) })), count: d.count };
      })();
  const groups = groupDiff(
    {
      pageRuns: stateDiff.runs,
      pteChanges: change?.changes ?? [],
      anomalies: change?.newAnomalies ?? [],
      regions: state.regions,
    },
    GROUP_ROWS,
  );
  const diffTitle = comparison
    ? `Since ${comparison.since} (Compare Snapshots)`
    : `Since the previous stop${input.previousStopId !== undefined ? ` (${input.previousStopId})` : ''}`;
  const d = el('section', { class: 'diff', id: 'diff' }, el('h2', {}, diffTitle));
  if (groups.length) d.append(diffGroups(groups, input, hooks));
  else d.append(el('ul', {}, el('li', { class: 'placeholder' }, 'No change.')));
  root.append(d);
  // Reported as a reader meets them: each group's title, then its lines.
  const diffLines = (groups.length ? groups.flatMap((g) => [g.title, ...g.lines]) : ['No change.'])
    .slice(0, MAX_RENDERED_DIFF_LINES)
    .map((l) => l.slice(0, 1000));

  root.append(timeline(state.log, new Set((change?.newGuardCalls ?? []).map((c) => c.seq))));

  if (state.anomalies.length) {
    const a = el(
      'section',
      { class: 'anomalies', id: 'anomalies' },
      el('h2', {}, `Anomalies (${state.anomalies.length})`),
    );
    const ul = el('ul', {});
    for (const an of state.anomalies)
      ul.append(el('li', { class: `severity-${an.severity}` }, `${an.code}: ${an.message}`));
    a.append(ul);
    root.append(a);
  }
  refocus?.focus({ preventScroll: true });
  return { changedPages: stateDiff.count, pages, summary, grids, diffTitle, diffLines };
}

const LOG_ROWS = 200;

/** The guard-call log as a strip (one tick per call, oldest left) and a table of the latest calls. */
function timeline(log: readonly GuardCall[], fresh: ReadonlySet<number>): HTMLElement {
  const s = el('section', { class: 'timeline', id: 'timeline' }, el('h2', {}, `Guard calls (${log.length})`));
  const strip = el('div', { class: 'strip', role: 'img', 'aria-label': plural(log.length, 'guard call') });
  for (const c of log) {
    const failed = c.result !== '0' && c.fn !== 'INFO';
    strip.append(
      el('span', {
        class: `tick fn-${c.fn}${failed ? ' failed' : ''}${fresh.has(c.seq) ? ' fresh' : ''}`,
        title: `#${c.seq} ${c.fn} ${argText(c)} → ${c.result}`,
      }),
    );
  }
  s.append(strip);
  // The caller's PC is a column only when the stub recorded one (the demo's does not).
  const columns = logColumns(log);
  const table = el('table', {}, el('tr', {}, ...columns.map((c) => el('th', {}, c))));
  for (const c of log.slice(-LOG_ROWS).reverse()) {
    const cells = [String(c.seq), `MMIO_GUARD_${c.fn}`, argText(c), c.result, c.symbol ?? c.pc ?? ''];
    table.append(
      el(
        'tr',
        { class: `fn-${c.fn}${fresh.has(c.seq) ? ' fresh' : ''}` },
        ...cells.slice(0, columns.length).map((t) => el('td', {}, t)),
      ),
    );
  }
  if (!log.length) s.append(el('p', { class: 'placeholder' }, 'No guard calls yet.'));
  else s.append(table);
  return s;
}
