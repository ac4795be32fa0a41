// The walker's per-table work, kept out of walk.ts's control flow: the hot loop over one table's
// descriptors (with the uniform-table check), and output-address extraction from u32 halves.

import type { DescriptorFormat } from './granule';
import type { LeafStore } from './leafstore';

const TWO32 = 4294967296;

/** Masks to pull an address out of a descriptor's halves for one size shift. */
export interface OaMasks {
  readonly lo: number;
  readonly hi: number;
  readonly form: 0 | 1 | 2; // pa48, lpa ([15:12] -> [51:48]), lpa2 ([9:8] -> [51:50])
}

export function oaMasks(fmt: DescriptorFormat, shift: number): OaMasks {
  const top = fmt.oa === 'lpa2' ? 49 : 47;
  const lo = shift >= 32 ? 0 : (0xffffffff << shift) >>> 0;
  const hiLow = Math.max(shift - 32, 0);
  const hi = ((2 ** (top - 32 + 1) - 1) & ~(2 ** hiLow - 1)) >>> 0;
  return { lo, hi, form: fmt.oa === 'lpa' ? 1 : fmt.oa === 'lpa2' ? 2 : 0 };
}

export function oaOf(m: OaMasks, lo: number, hi: number): number {
  let a = (hi & m.hi) * TWO32 + ((lo & m.lo) >>> 0);
  if (m.form === 1) a += ((lo >>> 12) & 15) * 2 ** 48;
  else if (m.form === 2) a += ((lo >>> 8) & 3) * 2 ** 50;
  return a;
}

/** What scanTable leaves besides its return value (one object per walk, reused). */
/** Entries of the largest table (64 KiB granule): ScanOut.starts holds a quarter of them. */
export const MAX_TABLE_ENTRIES = 8192;

export interface ScanOut {
  /** The OR of the high words of the table's leaves. */
  hiOr: number;
  /** A level-3 table's entry count when it is uniform (TablePages.uniform), else 0. */
  uniform: number;
  /** A level-3 table's run starts when it is not uniform and has few runs (TablePages.runs). */
  runs: Uint16Array | undefined;
  /**
   * Scratch for the run starts of the table being scanned: a quarter of the largest table's entries
   * (a 64 KiB table has 8192). A typed array, not a list: pushing to a list emptied at every table
   * reallocated it a few times a table.
   */
  readonly starts: Uint16Array;
}

/**
 * The hot loop of a level-3 table (the bulk of a walk): every non-zero entry is a leaf, appended to
 * the store as a reference (table number and index; fields are decoded when a leaf is looked at). In
 * the same pass, the table's runs: an entry continues the one before it when that one is non-zero and
 * it is that one with `stride` added to its low word (a carry out of it misses the u32: a new run)
 * and the same high word. One run over every entry is a uniform table. Returns the non-zero count;
 * leaves the OR of the leaves' high words in `out.hiOr`. Its own small function, free of closures
 * and allocation: V8 optimizes it after a few tables, in a fraction of the time a larger one takes.
 */
export function scanLeafTable(
  data: Uint32Array,
  n: number,
  tref: number,
  store: LeafStore,
  out: ScanOut,
  stride: number,
): number {
  const refs = store.refs;
  const start = store.length;
  let len = start;
  let hiOr = 0;
  out.uniform = 0;
  out.runs = undefined;
  // A small integer (a page size): a span read from the walk's table of spans is a double, and an
  // addition with a double makes a heap number of every entry's sum until V8 optimizes this loop.
  const step = stride | 0;
  const starts = out.starts;
  // Only a table with few runs keeps them (below): past a quarter of its entries the starts are
  // counted, not stored (a table of scattered pages would otherwise store and drop one a leaf).
  const keep = Math.min(n >> 2, starts.length);
  let runCount = 0;
  let zero = false;
  let prevLo = 0;
  let prevHi = 0;
  let prev = false;
  for (let i = 0; i < n; i++) {
    const lo = data[2 * i];
    const hi = data[2 * i + 1];
    if ((lo | hi) === 0) {
      zero = true;
      prev = false;
      continue;
    }
    if (!prev || hi !== prevHi || lo !== prevLo + step) {
      if (runCount < keep) starts[runCount] = i;
      runCount++;
    }
    prev = true;
    prevLo = lo;
    prevHi = hi;
    refs[len++] = tref | i;
    hiOr |= hi;
  }
  store.length = len;
  out.hiOr = hiOr;
  if (!zero && runCount === 1 && n > 1) out.uniform = n;
  // Runs a consumer can take in few steps: at least 4 entries each on average.
  else if (runCount > 0 && runCount * 4 <= len - start) out.runs = starts.slice(0, runCount);
  return len - start;
}

/**
 * A table of levels 0-2: leaves (blocks) appended as scanLeafTable appends them, indices of table
 * descriptors pushed to `tablesAt` for the caller. Returns the non-zero count; leaves the OR of the
 * leaves' high words in `out.hiOr`.
 */
export function scanTable(
  data: Uint32Array,
  n: number,
  tref: number,
  store: LeafStore,
  tablesAt: number[],
  out: ScanOut,
): number {
  const refs = store.refs;
  let len = store.length;
  let nonZero = 0;
  let hiOr = 0;
  out.uniform = 0;
  out.runs = undefined;
  for (let i = 0; i < n; i++) {
    const lo = data[2 * i];
    const hi = data[2 * i + 1];
    if ((lo | hi) === 0) continue;
    nonZero++;
    if ((lo & 3) === 3) {
      tablesAt.push(i);
      continue;
    }
    refs[len++] = tref | i;
    hiOr |= hi;
  }
  store.length = len;
  out.hiOr = hiOr;
  return nonZero;
}

/** The descriptor words of a table (little-endian tables, as with SCTLR.EE = 0). */
export function asU32(b: Uint8Array): Uint32Array {
  if (b.byteOffset % 4 === 0) return new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
  return new Uint32Array(b.slice().buffer, 0, b.length >> 2);
}
