// Columnar storage for a walk's leaves: one typed array per field, no object per leaf. A 260k-leaf
// kernel walk then costs a few column writes per descriptor; Leaf objects are made only for the
// leaves somebody looks at (`leaf(i)`), and the hot consumers (classify, coalesce) read columns.

import { Leaf, type LeafContext } from './leaf';

/** meta packing: level + 1 (3 bits), state (2 bits), limits (5 bits), sizeShift (6 bits), ctx (8 bits). */
const LEVEL_BITS = 0;
const STATE_BITS = 3;
const LIMIT_BITS = 5;
const SHIFT_BITS = 10;
const CTX_BITS = 16;

export class LeafStore {
  length = 0;
  va: Float64Array;
  pa: Float64Array;
  descAddr: Float64Array;
  lo: Uint32Array;
  hi: Uint32Array;
  meta: Uint32Array;

  constructor(
    readonly contexts: LeafContext[],
    capacity = 1024,
  ) {
    this.va = new Float64Array(capacity);
    this.pa = new Float64Array(capacity);
    this.descAddr = new Float64Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.hi = new Uint32Array(capacity);
    this.meta = new Uint32Array(capacity);
  }

  /** Makes room for `n` more entries (one allocation instead of repeated doubling). */
  reserve(n: number): void {
    if (this.length + n > this.va.length) this.grow(Math.max(this.va.length * 2, this.length + n));
  }

  private grow(cap = this.va.length * 2): void {
    const g = <T extends Float64Array | Uint32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.va = g(this.va, (n) => new Float64Array(n));
    this.pa = g(this.pa, (n) => new Float64Array(n));
    this.descAddr = g(this.descAddr, (n) => new Float64Array(n));
    this.lo = g(this.lo, (n) => new Uint32Array(n));
    this.hi = g(this.hi, (n) => new Uint32Array(n));
    this.meta = g(this.meta, (n) => new Uint32Array(n));
  }

  push(
    ctx: number,
    level: number,
    va: number,
    shift: number,
    pa: number,
    lo: number,
    hi: number,
    descAddr: number,
    limits: number,
    state: number,
  ): void {
    if (this.length === this.va.length) this.grow();
    const i = this.length++;
    this.va[i] = va;
    this.pa[i] = pa;
    this.descAddr[i] = descAddr;
    this.lo[i] = lo;
    this.hi[i] = hi;
    this.meta[i] =
      ((level + 1) << LEVEL_BITS) |
      (state << STATE_BITS) |
      (limits << LIMIT_BITS) |
      (shift << SHIFT_BITS) |
      (ctx << CTX_BITS);
  }

  level(i: number): number {
    return (this.meta[i] & 7) - 1;
  }
  state(i: number): number {
    return (this.meta[i] >>> STATE_BITS) & 3;
  }
  limits(i: number): number {
    return (this.meta[i] >>> LIMIT_BITS) & 0x1f;
  }
  shift(i: number): number {
    return (this.meta[i] >>> SHIFT_BITS) & 0x3f;
  }
  ctxIndex(i: number): number {
    return this.meta[i] >>> CTX_BITS;
  }
  context(i: number): LeafContext {
    return this.contexts[this.meta[i] >>> CTX_BITS];
  }

  /** A Leaf object for entry i (a new object each call). */
  leaf(i: number): Leaf {
    const m = this.meta[i];
    return new Leaf(
      this.contexts[m >>> CTX_BITS],
      (m & 7) - 1,
      this.va[i],
      (m >>> SHIFT_BITS) & 0x3f,
      this.pa[i],
      this.lo[i],
      this.hi[i],
      this.descAddr[i],
      (m >>> LIMIT_BITS) & 0x1f,
      (m >>> STATE_BITS) & 3,
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
   */
  mergeRuns(starts: readonly number[]): LeafStore {
    const runs = starts
      .map((s, k) => [s, k + 1 < starts.length ? starts[k + 1] : this.length])
      .filter(([s, e]) => e > s);
    if (runs.length <= 1) return this;
    const out = new LeafStore(this.contexts, Math.max(1, this.length));
    const pos = runs.map(([s]) => s);
    const end = runs.map(([, e]) => e);
    const va = this.va;
    let n = 0;
    // Runs interleave coarsely (a block between two tables' worth of pages), so copy whole stretches:
    // take the run with the lowest head and copy it up to the next-lowest head of the others.
    while (n < this.length) {
      let best = -1;
      let bestVa = Infinity;
      let second = Infinity;
      for (let r = 0; r < pos.length; r++) {
        if (pos[r] >= end[r]) continue;
        const v = va[pos[r]];
        if (v < bestVa) {
          second = bestVa;
          bestVa = v;
          best = r;
        } else if (v < second) second = v;
      }
      const from = pos[best];
      let to = from + 1;
      const stop = end[best];
      while (to < stop && va[to] < second) to++;
      out.va.set(va.subarray(from, to), n);
      out.pa.set(this.pa.subarray(from, to), n);
      out.descAddr.set(this.descAddr.subarray(from, to), n);
      out.lo.set(this.lo.subarray(from, to), n);
      out.hi.set(this.hi.subarray(from, to), n);
      out.meta.set(this.meta.subarray(from, to), n);
      n += to - from;
      pos[best] = to;
    }
    out.length = this.length;
    return out;
  }
}
