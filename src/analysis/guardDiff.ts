// How the MMIO-guard state of pages moved between two stops: per run of pages, the state before and
// after (lazy -> guardMapped when pvmfw's fault handler maps a page, guardMapped -> unmapped when
// mmio_unmap_all runs), and the tracked regions that appeared or went. Pure, over two guard reports
// (the GuardState of a picture, or the adapter's guardState response), so the CLI's `diff` and the
// adapter can show the same transitions.
import type { GuardRegion, Hex, PageGuardState, PageRun } from '../shared/protocol';
import { hex } from './pte';
import { formatAddress, formatChange, formatPageState, formatPages } from '../shared/format';

const PAGE = 4096;

/** What guardTransitions() reads of a stop's guard state. */
export interface GuardPages {
  readonly regions: readonly GuardRegion[];
  /** Guard-mapped pages outside the tracked regions. */
  readonly untracked: readonly PageRun[];
}

/** A page's state, or `untracked`: outside every tracked region and not guard-mapped. */
export type PageStateOrUntracked = PageGuardState | 'untracked';

export interface GuardTransition {
  /** First page of the run. */
  start: Hex;
  pages: number;
  from: PageStateOrUntracked;
  to: PageStateOrUntracked;
  /** Name of the tracked region holding the run (either stop's), when it has one. */
  region?: string;
}

interface Segment {
  start: number;
  end: number;
  state: PageGuardState;
  region?: string;
}

/** A stop's page states as sorted, disjoint segments: the tracked regions' runs, then the rest. */
function segments(g: GuardPages): Segment[] {
  const out: Segment[] = [];
  for (const r of g.regions)
    for (const run of r.runs) {
      const start = Number(BigInt(run.start));
      out.push({
        start,
        end: start + run.pages * PAGE,
        state: run.state,
        ...(r.name ? { region: r.name } : {}),
      });
    }
  for (const run of g.untracked) {
    const start = Number(BigInt(run.start));
    out.push({ start, end: start + run.pages * PAGE, state: run.state });
  }
  return out.sort((x, y) => x.start - y.start);
}

/** A cursor over sorted segments for increasing positions: the segment covering `p`, if any. */
function cursor(segs: readonly Segment[]): (p: number) => Segment | undefined {
  let i = 0;
  return (p) => {
    while (i < segs.length && segs[i].end <= p) i++;
    return i < segs.length && segs[i].start <= p ? segs[i] : undefined;
  };
}

/**
 * The runs of pages whose guard state differs between `before` and `after`, in address order,
 * adjacent pages with the same transition merged into one run. Linear in the number of runs, not
 * pages (a 1 GiB region is one run when it does not change).
 */
export function guardTransitions(before: GuardPages, after: GuardPages): GuardTransition[] {
  const a = segments(before);
  const b = segments(after);
  const cuts = [...new Set([...a, ...b].flatMap((s) => [s.start, s.end]))].sort((x, y) => x - y);
  const inA = cursor(a);
  const inB = cursor(b);
  const out: GuardTransition[] = [];
  let lastEnd = -1;
  for (let k = 0; k + 1 < cuts.length; k++) {
    const p = cuts[k];
    const q = cuts[k + 1];
    const sa = inA(p);
    const sb = inB(p);
    const from = sa?.state ?? 'untracked';
    const to = sb?.state ?? 'untracked';
    if (from === to) continue;
    const region = sb?.region ?? sa?.region;
    const pages = Math.round((q - p) / PAGE);
    const prev = out[out.length - 1];
    if (prev && lastEnd === p && prev.from === from && prev.to === to && prev.region === region)
      prev.pages += pages;
    else out.push({ start: hex(p), pages, from, to, ...(region ? { region } : {}) });
    lastEnd = q;
  }
  return out;
}

const regionKey = (r: GuardRegion) => `${r.start}-${r.end}`;

/** Tracked regions (by their bounds) present at one stop and not the other. */
export function regionChanges(
  before: GuardPages,
  after: GuardPages,
): { added: GuardRegion[]; removed: GuardRegion[] } {
  const had = new Set(before.regions.map(regionKey));
  const has = new Set(after.regions.map(regionKey));
  return {
    added: after.regions.filter((r) => !had.has(regionKey(r))),
    removed: before.regions.filter((r) => !has.has(regionKey(r))),
  };
}

/** `0x9010000 (1 page, pl031 rtc): lazy -> guardMapped`. */
export function transitionText(t: GuardTransition): string {
  const what = `${formatPages(t.pages)}${t.region ? `, ${t.region}` : ''}`;
  return `${formatAddress(t.start)} (${what}): ${formatChange(formatPageState(t.from), formatPageState(t.to))}`;
}
