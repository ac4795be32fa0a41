// A walk's leaves, decoded on demand from the table pages themselves. Per leaf the store keeps one
// u32 reference (table number << 13 | entry index); per table it keeps the page as read plus the few
// facts every entry of it shares (input address of entry 0, level, inherited limits, root, OA masks).
// Storing ~36 bytes of columns per leaf cost ~8 ns per leaf against ~0.6 ns to just read the bytes;
// a reference is one 4-byte write. Fields are computed when a leaf is looked at (`vaOf(i)`,
// `loOf(i)`, `leaf(i)`), and the hot consumers (classify, coalesce) walk the references table by
// table with `forEachTable`-style loops over `refs` (see `tableOf`).
//
// There are no per-leaf columns: one Float64Array of W3's 2.1 M input addresses is 16.8 MB, which a
// binary search once built and the adapter then kept for the stop (#15's peak memory).

import { Leaf, type LeafContext, S_INVALID, S_RESERVED, S_VALID } from './leaf';

/** meta packing: level + 1 (3 bits), state (2 bits), limits (5 bits), sizeShift (6 bits), ctx (8 bits). */
const STATE_BITS = 3;
const LIMIT_BITS = 5;
const SHIFT_BITS = 10;
const CTX_BITS = 16;
/** In a table's meta only: blocks are allowed at its level (bit 0 set, bit 1 clear = a block). */
const BLOCK_OK = 1 << 24;
const META_MASK = 0xffffff;

/** Entry index bits of a reference: 8192 entries (a 64 KiB granule table) at most. */
export const REF_INDEX_BITS = 13;
export const REF_INDEX_MASK = (1 << REF_INDEX_BITS) - 1;
/** Tables a store can reference (the walker caps its table count below this). */
export const MAX_STORE_TABLES = 2 ** (32 - REF_INDEX_BITS);

const TWO32 = 4294967296;
const SIZES = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);

/** The table pages a store's references point into, shared by a store and its merged copy. */
export class TablePages {
  count = 0;
  /** Descriptor words (little-endian lo, hi pairs) of each table, as read. */
  readonly data: Uint32Array[] = [];
  /** Input address mapped by entry 0. */
  va: Float64Array = new Float64Array(256);
  /** Physical address of the table (entry i's descriptor is at pa + 8 i). */
  pa: Float64Array = new Float64Array(256);
  /** Leaf meta without the state (level + 1, limits, size shift, ctx), plus BLOCK_OK. */
  meta: Uint32Array = new Uint32Array(256);
  /** Output-address masks for a leaf of this table: low word, high word, 52-bit form (0, lpa, lpa2). */
  oaLo: Uint32Array = new Uint32Array(256);
  oaHi: Uint32Array = new Uint32Array(256);
  oaForm: Uint8Array = new Uint8Array(256);
  /**
   * Entry count of a uniform table, else 0. Uniform: every entry is a non-zero leaf and entry i is
   * entry 0 with i * 2^shift added to its low word (same high word), so the table's leaves share
   * state and attributes and are contiguous in input and output address. Consumers may take such a
   * table as one stretch instead of entry by entry (set by the walker; 0 is always safe).
   */
  uniform: Uint16Array = new Uint16Array(256);
  /**
   * A level-3 table's runs when it is not uniform but its entries fall in few runs: the entry index
   * each run starts at (ascending). A run is entries each of which is the one before it with the
   * granule added to its low word and the same high word (the uniform rule, entry to entry), so a
   * run's leaves share attributes and are contiguous in input and output address; a zero entry ends
   * a run. Undefined otherwise (set by the walker; undefined is always safe).
   */
  readonly runs: (Uint16Array | undefined)[] = [];

  /** Registers a table page; returns its number for references. */
  add(
    data: Uint32Array,
    va: number,
    pa: number,
    ctx: number,
    level: number,
    shift: number,
    limits: number,
    blockOk: boolean,
    oaLo: number,
    oaHi: number,
    oaForm: number,
  ): number {
    if (this.count === MAX_STORE_TABLES) throw new RangeError(`more than ${MAX_STORE_TABLES} tables`);
    if (this.count === this.va.length) this.grow();
    const t = this.count++;
    this.data.push(data);
    this.va[t] = va;
    this.pa[t] = pa;
    this.meta[t] =
      ((level + 1) |
        (limits << LIMIT_BITS) |
        (shift << SHIFT_BITS) |
        (ctx << CTX_BITS) |
        (blockOk ? BLOCK_OK : 0)) >>>
      0;
    this.oaLo[t] = oaLo;
    this.oaHi[t] = oaHi;
    this.oaForm[t] = oaForm;
    this.uniform[t] = 0;
    this.runs[t] = undefined;
    return t;
  }

  private grow(): void {
    const n = this.va.length * 2;
    const f = (a: Float64Array): Float64Array => {
      const b = new Float64Array(n);
      b.set(a);
      return b;
    };
    const u = (a: Uint32Array): Uint32Array => {
      const b = new Uint32Array(n);
      b.set(a);
      return b;
    };
    this.va = f(this.va);
    this.pa = f(this.pa);
    this.meta = u(this.meta);
    this.oaLo = u(this.oaLo);
    this.oaHi = u(this.oaHi);
    const form = new Uint8Array(n);
    form.set(this.oaForm);
    this.oaForm = form;
    const uni = new Uint16Array(n);
    uni.set(this.uniform);
    this.uniform = uni;
  }
}

/** Leaf state of a descriptor's low word in a table whose meta is `tmeta`. */
export function stateOf(lo: number, tmeta: number): number {
  if ((lo & 1) === 0) return S_INVALID;
  if ((tmeta & 7) === 4) return (lo & 2) !== 0 ? S_VALID : S_RESERVED;
  return (tmeta & BLOCK_OK) !== 0 ? S_VALID : S_RESERVED;
}

/** Output address named by a leaf descriptor of table `t`. */
export function oaOf(pages: TablePages, t: number, lo: number, hi: number): number {
  let a = (hi & pages.oaHi[t]) * TWO32 + ((lo & pages.oaLo[t]) >>> 0);
  const form = pages.oaForm[t];
  if (form === 1) a += ((lo >>> 12) & 15) * 2 ** 48;
  else if (form === 2) a += ((lo >>> 8) & 3) * 2 ** 50;
  return a;
}

/**
 * When leaf i is entry 0 of a uniform table of u entries whose references fill i .. i + u - 1 (a
 * table's references stay in index order, so the last one being entry u - 1 proves it): u - 1, the
 * leaves after entry 0 a consumer may take in one step. Else 0.
 */
export function uniformRest(refs: Uint32Array, n: number, i: number, u: number): number {
  const r = refs[i];
  return u > 1 && (r & REF_INDEX_MASK) === 0 && i + u <= n && refs[i + u - 1] === r + u - 1 ? u - 1 : 0;
}

/**
 * When leaf i starts one of its table's runs (TablePages.runs: `runs[j]` is its entry index) that
 * reaches `end` (the next run's start, or the table's size): the leaves after it in that run whose
 * references follow it (a table's references are in index order; a zero entry leaves a gap and ends
 * the run there), which a consumer may take in one step. Else 0.
 */
export function runRest(refs: Uint32Array, n: number, i: number, end: number): number {
  const r = refs[i];
  // References of one table increase by at least one: those equal to r + j form a prefix.
  let lo = 0;
  let hi = Math.min(end - (r & REF_INDEX_MASK), n - i) - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (refs[i + mid] === r + mid) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export class LeafStore {
  length = 0;
  /** Per leaf: table number << REF_INDEX_BITS | entry index, in walk order. */
  refs: Uint32Array;

  constructor(
    readonly contexts: LeafContext[],
    capacity = 1024,
    readonly pages: TablePages = new TablePages(),
  ) {
    this.refs = new Uint32Array(capacity);
  }

  /** Makes room for `n` more entries (one allocation instead of repeated doubling). */
  reserve(n: number): void {
    if (this.length + n > this.refs.length) this.grow(Math.max(this.refs.length * 2, this.length + n));
  }

  private grow(cap = this.refs.length * 2): void {
    const b = new Uint32Array(cap);
    b.set(this.refs.subarray(0, this.length));
    this.refs = b;
  }

  /** Appends a leaf: entry `index` of table `table`. */
  push(table: number, index: number): void {
    if (this.length === this.refs.length) this.grow();
    this.refs[this.length++] = ((table << REF_INDEX_BITS) | index) >>> 0;
  }

  /** The table number of leaf i. */
  tableOf(i: number): number {
    return this.refs[i] >>> REF_INDEX_BITS;
  }
  /** The entry index of leaf i in its table. */
  indexOf(i: number): number {
    return this.refs[i] & REF_INDEX_MASK;
  }
  loOf(i: number): number {
    const r = this.refs[i];
    return this.pages.data[r >>> REF_INDEX_BITS][2 * (r & REF_INDEX_MASK)];
  }
  hiOf(i: number): number {
    const r = this.refs[i];
    return this.pages.data[r >>> REF_INDEX_BITS][2 * (r & REF_INDEX_MASK) + 1];
  }
  /** Input address of leaf i's first byte (exact double). */
  vaOf(i: number): number {
    const r = this.refs[i];
    const t = r >>> REF_INDEX_BITS;
    return this.pages.va[t] + (r & REF_INDEX_MASK) * SIZES[(this.pages.meta[t] >>> SHIFT_BITS) & 0x3f];
  }
  paOf(i: number): number {
    const r = this.refs[i];
    const t = r >>> REF_INDEX_BITS;
    const d = this.pages.data[t];
    const k = 2 * (r & REF_INDEX_MASK);
    return oaOf(this.pages, t, d[k], d[k + 1]);
  }
  descAddrOf(i: number): number {
    const r = this.refs[i];
    return this.pages.pa[r >>> REF_INDEX_BITS] + (r & REF_INDEX_MASK) * 8;
  }
  /** The packed meta of leaf i (layout above: level + 1, state, limits, size shift, ctx). */
  metaOf(i: number): number {
    const r = this.refs[i];
    const t = r >>> REF_INDEX_BITS;
    const tm = this.pages.meta[t];
    const lo = this.pages.data[t][2 * (r & REF_INDEX_MASK)];
    return ((tm & META_MASK) | (stateOf(lo, tm) << STATE_BITS)) >>> 0;
  }

  level(i: number): number {
    return (this.pages.meta[this.tableOf(i)] & 7) - 1;
  }
  state(i: number): number {
    return stateOf(this.loOf(i), this.pages.meta[this.tableOf(i)]);
  }
  limits(i: number): number {
    return (this.pages.meta[this.tableOf(i)] >>> LIMIT_BITS) & 0x1f;
  }
  shift(i: number): number {
    return (this.pages.meta[this.tableOf(i)] >>> SHIFT_BITS) & 0x3f;
  }
  ctxIndex(i: number): number {
    return (this.pages.meta[this.tableOf(i)] >>> CTX_BITS) & 0xff;
  }
  context(i: number): LeafContext {
    return this.contexts[this.ctxIndex(i)];
  }

  /** A Leaf object for entry i (a new object each call). */
  leaf(i: number): Leaf {
    const r = this.refs[i];
    const t = r >>> REF_INDEX_BITS;
    const k = r & REF_INDEX_MASK;
    const p = this.pages;
    const tm = p.meta[t];
    const shift = (tm >>> SHIFT_BITS) & 0x3f;
    const lo = p.data[t][2 * k];
    const hi = p.data[t][2 * k + 1];
    return new Leaf(
      this.contexts[(tm >>> CTX_BITS) & 0xff],
      (tm & 7) - 1,
      p.va[t] + k * SIZES[shift],
      shift,
      oaOf(p, t, lo, hi),
      lo,
      hi,
      p.pa[t] + k * 8,
      (tm >>> LIMIT_BITS) & 0x1f,
      stateOf(lo, tm),
    );
  }

  /** Every entry as Leaf objects. */
  toLeaves(): Leaf[] {
    const out = new Array<Leaf>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.leaf(i);
    return out;
  }

  /**
   * Merges runs that are each sorted by VA (the walker's breadth-first rounds) into one VA-ordered
   * store. `starts` are the run boundaries (ascending, first 0).
   *
   * When the runs before the last are small (a kernel's blocks before its level-3 pages) the merge is
   * made in place, in this store: they are copied out and merged with the last run from the front,
   * whose writes never overtake its reads. Otherwise into a new store (the in-place merge saves W3
   * 8.4 MB a stop). Stretches are found by bisection: a kernel's merge is a few dozen look-ups.
   */
  mergeRuns(starts: readonly number[]): LeafStore {
    const runs = starts
      .map((s, k) => [s, k + 1 < starts.length ? starts[k + 1] : this.length])
      .filter(([s, e]) => e > s);
    if (runs.length <= 1) return this;
    const lastStart = runs[runs.length - 1][0];
    const inPlace = lastStart <= this.length >> 2;
    const early = inPlace ? this.refs.slice(0, lastStart) : this.refs;
    const out = inPlace ? this : new LeafStore(this.contexts, Math.max(1, this.length), this.pages);
    const src = runs.map(([s, e], k) => ({ refs: k < runs.length - 1 ? early : this.refs, pos: s, end: e }));
    let n = 0;
    // Runs interleave coarsely (a block between two tables' worth of pages), so copy whole stretches:
    // take the run with the lowest head and copy it up to the next-lowest head of the others.
    while (n < this.length) {
      let best = -1;
      let bestVa = Infinity;
      let second = Infinity;
      for (let r = 0; r < src.length; r++) {
        if (src[r].pos >= src[r].end) continue;
        const v = this.vaOfRef(src[r].refs[src[r].pos]);
        if (v < bestVa) {
          second = bestVa;
          bestVa = v;
          best = r;
        } else if (v < second) second = v;
      }
      const s = src[best];
      const from = s.pos;
      const to = this.stretchEnd(s.refs, from, s.end, second);
      if (s.refs === out.refs) out.refs.copyWithin(n, from, to);
      else out.refs.set(s.refs.subarray(from, to), n);
      n += to - from;
      s.pos = to;
    }
    // A round reserves room for every entry of its tables: give back what sparse tables left unused.
    if (inPlace && this.refs.length - this.length > (this.length >> 2) + 1024)
      this.refs = this.refs.slice(0, this.length);
    out.length = this.length;
    return out;
  }

  /** Input address of the leaf a reference names. */
  private vaOfRef(r: number): number {
    const t = r >>> REF_INDEX_BITS;
    return this.pages.va[t] + (r & REF_INDEX_MASK) * SIZES[(this.pages.meta[t] >>> SHIFT_BITS) & 0x3f];
  }

  /**
   * The end of the stretch of `refs` from `from` (before `stop`) whose input addresses are below
   * `limit`: at least one reference, found by bisection (a run is sorted by input address), so a
   * merge costs a few look-ups a stretch whatever the stretch's length.
   */
  private stretchEnd(refs: Uint32Array, from: number, stop: number, limit: number): number {
    let lo = from + 1;
    let hi = stop;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.vaOfRef(refs[mid]) < limit) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
