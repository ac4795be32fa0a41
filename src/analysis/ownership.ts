// Who owns the memory of a pKVM machine, from the host's stage 2 (VTTBR_EL2 under the pkvm-host-s2
// profile) and the hypervisor's own tables (TTBR0_EL2 under pkvm-hyp): pages by owner and page state,
// with their ranges. One pass over each walk's leaves, in input-address order.
import { S_VALID } from '../aarch64/leaf';
import type { LeafStore } from '../aarch64/leafstore';
import { pkvmOwnerId, pkvmPageState, PKVM_OWNERS } from '../profiles/pkvm';
import type { OwnershipClass, OwnershipResponseBody } from '../shared/protocol';
import type { StopPicture } from './picture';
import { hex } from './pte';

export type { OwnershipClass };
/** The ownership of a pKVM stop: the adapter's `ownership` response and the CLI's `guard`. */
export type OwnershipSummary = OwnershipResponseBody;

const MAX_RANGES = 16;

function classify(store: LeafStore, name: (i: number) => string): OwnershipClass[] {
  const byName = new Map<string, { pages: number; ranges: { start: number; end: number }[] }>();
  for (let i = 0; i < store.length; i++) {
    const n = name(i);
    const start = store.vaOf(i);
    const size = 2 ** store.shift(i);
    let c = byName.get(n);
    if (!c) byName.set(n, (c = { pages: 0, ranges: [] }));
    c.pages += size / 4096;
    const last = c.ranges[c.ranges.length - 1];
    if (last && last.end === start) last.end += size;
    else c.ranges.push({ start, end: start + size });
  }
  return [...byName.entries()].map(([n, c]) => ({
    name: n,
    pages: c.pages,
    ranges: c.ranges.slice(0, MAX_RANGES).map((r) => ({ start: hex(r.start), end: hex(r.end) })),
    moreRanges: Math.max(0, c.ranges.length - MAX_RANGES),
  }));
}

/** The ownership of a pKVM stop; empty when neither pKVM profile applies. */
export function ownershipSummary(p: StopPicture): OwnershipSummary {
  const out: { hostStage2?: OwnershipClass[]; hyp?: OwnershipClass[] } = {};
  if (p.stage2 && p.profiles.stage2.profile === 'pkvm-host-s2') {
    const st = p.stage2.result.store;
    out.hostStage2 = classify(st, (i) => {
      const l = st.leaf(i);
      if (l.state === S_VALID) return `host: ${pkvmPageState(l)}`;
      const id = pkvmOwnerId(l);
      return `${PKVM_OWNERS[id] ?? `owner id ${id}`} (invalid in the host's stage 2)`;
    });
  }
  if (p.el2 && p.profiles.el2.profile === 'pkvm-hyp') {
    const st = p.el2.result.store;
    out.hyp = classify(st, (i) => {
      const l = st.leaf(i);
      return l.state === S_VALID ? `hyp: ${pkvmPageState(l)}` : 'hyp: invalid with bits';
    });
  }
  return out;
}

/** Text lines: one per class, pages and the first ranges. */
export function ownershipLines(o: OwnershipSummary): string[] {
  const lines: string[] = [];
  const part = (title: string, cs: OwnershipClass[] | undefined) => {
    if (!cs) return;
    lines.push(title);
    for (const c of cs) {
      const r = c.ranges.map((x) => `${x.start}-${x.end}`).join(', ');
      lines.push(
        `  ${c.name}: ${c.pages} pages in ${c.ranges.length + c.moreRanges} ranges: ${r}${c.moreRanges ? `, … ${c.moreRanges} more` : ''}`,
      );
    }
  };
  part('pKVM ownership, host stage 2 (by IPA = PA):', o.hostStage2);
  part('pKVM hypervisor EL2 tables (by hyp VA):', o.hyp);
  return lines;
}
