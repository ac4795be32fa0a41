// Page-state diff between two stops, region by region. Pure (no DOM), shared by the webview and its
// unit test. Regions arrive run-length encoded; a 1 GiB region is 262,144 pages, so states expand into
// one byte per page only for the comparison.

import {
  PAGE_GUARD_STATES,
  type GuardRegion,
  type PageGuardState,
  type PageRun,
} from '../src/shared/protocol';

export const PAGE_SIZE = 4096;

export const STATES: readonly PageGuardState[] = PAGE_GUARD_STATES;

/** Compact copy of a region's page states, kept in the webview state between stops. */
export interface RegionSnapshot {
  start: string;
  pageCount: number;
  runs: PageRun[];
}

export interface PageChange {
  address: bigint;
  before: PageGuardState | undefined;
  after: PageGuardState;
}

/** One byte per page: index into STATES, 255 = not covered by any run. */
export function expand(region: RegionSnapshot): Uint8Array {
  const out = new Uint8Array(region.pageCount).fill(255);
  const base = BigInt(region.start);
  for (const run of region.runs) {
    const first = Number((BigInt(run.start) - base) / BigInt(PAGE_SIZE));
    const code = STATES.indexOf(run.state);
    const from = Math.max(0, first);
    const to = Math.min(region.pageCount, first + run.pages);
    if (to > from) out.fill(code, from, to);
  }
  return out;
}

export function snapshotOf(r: GuardRegion): RegionSnapshot {
  return { start: r.start, pageCount: r.pageCount, runs: r.runs };
}

/**
 * Pages whose state differs between `before` (the previous stop, matched by start address) and
 * `after`; a region absent before counts every page as changed. Stops counting at `limit` entries
 * but still returns the full count.
 */
export function diffRegions(
  before: readonly RegionSnapshot[],
  after: readonly RegionSnapshot[],
  limit = 200,
): { changes: PageChange[]; count: number } {
  const changes: PageChange[] = [];
  let count = 0;
  const previous = new Map(before.map((r) => [BigInt(r.start), r]));
  for (const r of after) {
    const base = BigInt(r.start);
    const now = expand(r);
    const prevRegion = previous.get(base);
    const then = prevRegion && prevRegion.pageCount === r.pageCount ? expand(prevRegion) : undefined;
    if (!then) continue; // first sight of the region: nothing to compare with
    for (let i = 0; i < now.length; i++) {
      if (now[i] === then[i]) continue;
      count++;
      if (changes.length < limit && now[i] !== 255) {
        changes.push({
          address: base + BigInt(i) * BigInt(PAGE_SIZE),
          before: then[i] === 255 ? undefined : STATES[then[i]],
          after: STATES[now[i]],
        });
      }
    }
  }
  return { changes, count };
}

/** Set of changed page indexes of one region, for the grid's markers. */
export function changedIndexes(before: RegionSnapshot | undefined, after: RegionSnapshot): Set<number> {
  const out = new Set<number>();
  if (!before || before.pageCount !== after.pageCount || before.start !== after.start) return out;
  const a = expand(before);
  const b = expand(after);
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) out.add(i);
  return out;
}

/** What diffTransitions() needs of a guard transition (src/shared/webviewMessages GuardPageTransition). */
export interface TransitionRun {
  start: string;
  pages: number;
}

/**
 * Page indexes of `region` inside the transitions' runs: the grid's changed markers when the stop is
 * compared with an earlier snapshot (the runs come from the analysis core's diffStops).
 */
export function transitionIndexes(
  region: RegionSnapshot,
  transitions: readonly TransitionRun[],
): Set<number> {
  const out = new Set<number>();
  const base = BigInt(region.start);
  for (const t of transitions) {
    const first = Number((BigInt(t.start) - base) / BigInt(PAGE_SIZE));
    const from = Math.max(0, first);
    const to = Math.min(region.pageCount, first + t.pages);
    for (let i = from; i < to; i++) out.add(i);
  }
  return out;
}

/** A run of pages whose state moved the same way between two stops (media/panelModel PageRunChange). */
export interface StateRunChange {
  regionStart: bigint;
  start: bigint;
  pages: number;
  before: PageGuardState | undefined;
  after: PageGuardState;
}

/**
 * The pages of `after` whose state differs from `before` (regions matched by start and size), as
 * runs of neighbouring pages that moved the same way: what the diff lists, one line per run.
 * Stops listing at `limit` runs but still counts every changed page.
 */
export function diffRuns(
  before: readonly RegionSnapshot[],
  after: readonly RegionSnapshot[],
  limit = 10_000,
): { runs: StateRunChange[]; count: number } {
  const runs: StateRunChange[] = [];
  let count = 0;
  const previous = new Map(before.map((r) => [BigInt(r.start), r]));
  for (const r of after) {
    const base = BigInt(r.start);
    const prevRegion = previous.get(base);
    if (!prevRegion || prevRegion.pageCount !== r.pageCount) continue;
    const now = expand(r);
    const then = expand(prevRegion);
    let i = 0;
    while (i < now.length) {
      if (now[i] === then[i]) {
        i++;
        continue;
      }
      let j = i + 1;
      while (j < now.length && now[j] === now[i] && then[j] === then[i]) j++;
      count += j - i;
      if (runs.length < limit && now[i] !== 255)
        runs.push({
          regionStart: base,
          start: base + BigInt(i) * BigInt(PAGE_SIZE),
          pages: j - i,
          before: then[i] === 255 ? undefined : STATES[then[i]],
          after: STATES[now[i]],
        });
      i = j;
    }
  }
  return { runs, count };
}
