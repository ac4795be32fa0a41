// Coalesces leaves contiguous in input and output address with identical attributes into regions
// (the gdb-pt-dump view): 259k kernel pages become a few hundred lines.

import { type Leaf, S_VALID } from './leaf';
import { LeafStore, REF_INDEX_BITS, REF_INDEX_MASK, runRest, stateOf, uniformRest } from './leafstore';
import type { BaseRegister } from './regime';

export interface Region {
  readonly base: BaseRegister;
  readonly va: bigint;
  readonly pa: bigint;
  /** Bytes covered. */
  readonly size: bigint;
  /** Leaves merged. */
  readonly count: number;
  /** The first leaf: its attributes, permissions and memory type are the region's. */
  readonly first: Leaf;
}

// Attribute bits compared: [11:0] except bit 1 (block vs page), [63:50] except Contiguous (52).
const LO_ATTR = 0xffd;
const HI_ATTR = 0xffec0000 | 0;

/**
 * Leaves must be in walk order (by root, then input address); valid and invalid leaves never merge.
 * Takes Leaf objects or, faster, a walk's columnar store (one Leaf made per region).
 */
export function coalesce(leaves: readonly Leaf[] | LeafStore): Region[] {
  return leaves instanceof LeafStore ? coalesceStore(leaves) : coalesceLeaves(leaves);
}

function coalesceLeaves(leaves: readonly Leaf[]): Region[] {
  const out: Region[] = [];
  let cur: Leaf | undefined;
  let vaEnd = 0;
  let paEnd = 0;
  let count = 0;
  const flush = (): void => {
    if (!cur) return;
    out.push({ base: cur.base, va: cur.va, pa: cur.pa, size: BigInt(vaEnd - cur.vaNum), count, first: cur });
  };
  for (const l of leaves) {
    if (
      cur &&
      l.ctx === cur.ctx &&
      l.state === cur.state &&
      l.vaNum === vaEnd &&
      l.paNum === paEnd &&
      l.limits === cur.limits &&
      (l.lo & LO_ATTR) === (cur.lo & LO_ATTR) &&
      (l.hi & HI_ATTR) === (cur.hi & HI_ATTR)
    ) {
      const s = l.size;
      vaEnd += s;
      paEnd += s;
      count++;
      continue;
    }
    flush();
    cur = l;
    vaEnd = l.vaNum + l.size;
    paEnd = l.paNum + l.size;
    count = 1;
  }
  flush();
  return out;
}

const SIZES = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);

// Table meta without the level and size bits: ctx and limits must match to merge (state is compared
// separately, it comes from the descriptor).
const TMETA_KEY = ~(7 | (0x3f << 10)) & 0xffffff;

/**
 * The regions of coalesceStore's loop: each region's first leaf, end and count. Made after the loop,
 * which then calls nothing but uniformRest: a short process (the CLI) otherwise waited at exit for V8
 * to finish optimizing the loop with the Leaf constructor and its getters inlined into it.
 */
function regions(st: LeafStore, firsts: number[], ends: number[], counts: number[]): Region[] {
  return firsts.map((first, k) => {
    const l = st.leaf(first);
    return { base: l.base, va: l.va, pa: l.pa, size: BigInt(ends[k] - l.vaNum), count: counts[k], first: l };
  });
}

// Reads the table pages through the store's references, switching table only when the reference
// does. No closure over the loop state: V8 would keep vaEnd/paEnd in a context and box every write.
function coalesceStore(st: LeafStore): Region[] {
  const firsts: number[] = [];
  const ends: number[] = [];
  const counts: number[] = [];
  const { refs, pages } = st;
  const n = st.length;
  // Doubles start as doubles (0.5, overwritten before use) so V8 keeps them unboxed.
  let first = -1;
  let vaEnd = 0.5;
  let paEnd = 0.5;
  let count = 0;
  let key = 0;
  let keyLo = 0;
  let keyHi = 0;
  let cur = -1;
  let data = pages.data[0];
  let vaBase = 0.5;
  let size = 0.5;
  let tmeta = 0;
  let tkey = 0;
  let last = false;
  let blockState = 0;
  let oaLoM = 0;
  let oaHiM = 0;
  let form = 0;
  // Leaves of a uniform table, or of a run of a table's (TablePages.runs), still to take in one
  // step once its first leaf is placed.
  let skip = 0;
  let runs: Uint16Array | undefined;
  let runAt = 0;
  let entries = 0;
  for (let i = 0; i < n; i++) {
    if (skip > 0) {
      // Each of them would extend the region entry 0 ended: same attributes, contiguous VA and PA.
      vaEnd += skip * size;
      paEnd += skip * size;
      count += skip;
      i += skip - 1;
      skip = 0;
      continue;
    }
    const r = refs[i];
    const t = r >>> REF_INDEX_BITS;
    if (t !== cur) {
      skip = uniformRest(refs, n, i, pages.uniform[t]);
      cur = t;
      data = pages.data[t];
      vaBase = pages.va[t];
      tmeta = pages.meta[t];
      size = SIZES[(tmeta >>> 10) & 0x3f];
      tkey = tmeta & TMETA_KEY;
      last = (tmeta & 7) === 4;
      blockState = stateOf(1, tmeta);
      oaLoM = pages.oaLo[t];
      oaHiM = pages.oaHi[t];
      form = pages.oaForm[t];
      runs = pages.runs[t];
      runAt = 0;
      entries = data.length >> 1;
    }
    const k = r & REF_INDEX_MASK;
    if (runs !== undefined) {
      while (runAt < runs.length && runs[runAt] < k) runAt++;
      if (runAt < runs.length && runs[runAt] === k)
        skip = runRest(refs, n, i, runAt + 1 < runs.length ? runs[runAt + 1] : entries);
    }
    const lo = data[2 * k];
    const hi = data[2 * k + 1];
    const va = vaBase + k * size;
    let pa = (hi & oaHiM) * 4294967296 + ((lo & oaLoM) >>> 0);
    if (form === 1) pa += ((lo >>> 12) & 15) * 2 ** 48;
    else if (form === 2) pa += ((lo >>> 8) & 3) * 2 ** 50;
    // stateOf, inlined: S_INVALID (1) without bit 0, else S_VALID (0) or S_RESERVED (2) by table.
    const mkey = tkey | (((lo & 1) === 0 ? 1 : last ? ((lo & 2) !== 0 ? 0 : 2) : blockState) << 3);
    if (
      first >= 0 &&
      va === vaEnd &&
      pa === paEnd &&
      mkey === key &&
      (lo & LO_ATTR) === keyLo &&
      (hi & HI_ATTR) === keyHi
    ) {
      vaEnd += size;
      paEnd += size;
      count++;
      continue;
    }
    if (first >= 0) {
      firsts.push(first);
      ends.push(vaEnd);
      counts.push(count);
    }
    first = i;
    vaEnd = va + size;
    paEnd = pa + size;
    count = 1;
    key = mkey;
    keyLo = lo & LO_ATTR;
    keyHi = hi & HI_ATTR;
  }
  if (first >= 0) {
    firsts.push(first);
    ends.push(vaEnd);
    counts.push(count);
  }
  return regions(st, firsts, ends, counts);
}

/** Valid regions only (what the CPU can reach). */
export function validRegions(leaves: readonly Leaf[]): Region[] {
  return coalesce(leaves.filter((l) => l.state === S_VALID));
}
