// The bounded translation-table walker. Breadth-first by level so each level's tables are read in a
// few large batches (the live client keeps them in flight). Leaves go to a columnar LeafStore; each
// breadth-first round emits them in input-address order (parents are scanned in VA order and queue
// their children in index order), so one k-way merge of the rounds gives the VA-ordered result.
//
// Bounded: a table pointing at one of its ancestors is a cycle (reported, not followed); tables
// outside RAM, beyond the PA size or unreadable are reported on the entry that points there and the
// walk goes on; at most `maxTables` tables are visited.

import { blockAllowed, type DescriptorFormat, levelShift, pageShift } from './granule';
import { type Leaf, type LeafContext, S_VALID, LIMIT_NS, joinHalves } from './leaf';
import { LeafStore, MAX_STORE_TABLES, REF_INDEX_BITS } from './leafstore';
import type { PhysRange, PhysReader } from './reader';
import type { BaseRegister, RegimeConfig, WalkRoot } from './regime';

export interface WalkOptions {
  /** Cap on tables visited (default 100000). */
  readonly maxTables?: number;
  /** Physical RAM ranges [start, end): table pointers outside are reported and not read. */
  readonly ram?: readonly { readonly start: bigint; readonly end: bigint }[];
  /** Only these roots (default: every enabled root of the regime). */
  readonly roots?: readonly BaseRegister[];
  /** Walk roots the registers disable (MMU off, EPDn) too. */
  readonly includeDisabled?: boolean;
  /** Called after each batch of table reads. */
  readonly onProgress?: (p: WalkProgress) => void;
}

export interface WalkProgress {
  readonly tablesRead: number;
  readonly tablesPending: number;
  readonly leaves: number;
}

export interface TableInfo {
  readonly base: BaseRegister;
  readonly level: number;
  readonly pa: bigint;
  /** Input address mapped by entry 0. */
  readonly vaStart: bigint;
  readonly entries: number;
  /** Descriptor that points at this table (absent for a root). */
  readonly parentDescAddr?: bigint;
  /** That descriptor's value. */
  readonly parentDesc?: bigint;
  /** Entries with any bit set (filled once read). */
  nonZero: number;
  /** False when the table could not be read. */
  read: boolean;
}

/**
 * A TableInfo kept as numbers; the BigInt views are made when read (a walk of 2k tables used to
 * build ~6 BigInts per table that nobody looked at).
 */
class TableRec implements TableInfo {
  nonZero = 0;
  read = false;
  constructor(
    readonly base: BaseRegister,
    readonly level: number,
    readonly paNum: number,
    readonly vaNum: number,
    readonly entries: number,
    /** -1 for a root. */
    readonly parentAddrNum: number,
    readonly parentLo: number,
    readonly parentHi: number,
  ) {}
  get pa(): bigint {
    return BigInt(this.paNum);
  }
  get vaStart(): bigint {
    return BigInt(this.vaNum);
  }
  get parentDescAddr(): bigint | undefined {
    return this.parentAddrNum < 0 ? undefined : BigInt(this.parentAddrNum);
  }
  get parentDesc(): bigint | undefined {
    return this.parentAddrNum < 0 ? undefined : joinHalves(this.parentLo, this.parentHi);
  }
}

export type DiagnosticKind = 'cycle' | 'outsideRam' | 'unreadable' | 'addressSize' | 'tableCap';

export interface WalkDiagnostic {
  readonly kind: DiagnosticKind;
  readonly base: BaseRegister;
  readonly level: number;
  /** Input address of the entry concerned. */
  readonly va: bigint;
  readonly descAddr?: bigint;
  readonly desc?: bigint;
  /** The address the entry points at (table or output address). */
  readonly target?: bigint;
  readonly message: string;
}

export interface WalkStats {
  tablesRead: number;
  tablesVisited: number;
  bytesRead: number;
  readCalls: number;
  entries: number;
  zeroEntries: number;
  leaves: number;
  ms: number;
}

export interface WalkResult {
  readonly regime: RegimeConfig;
  /** Every root of the regime, in regime order (disabled ones carry `reason` and are not walked). */
  readonly roots: readonly WalkRoot[];
  readonly tables: TableInfo[];
  /** Every non-zero non-table descriptor, ordered by root then input address (columnar). */
  readonly store: LeafStore;
  /** The same leaves as objects (made on first access; hot paths read `store`). */
  readonly leaves: Leaf[];
  readonly diagnostics: WalkDiagnostic[];
  readonly stats: WalkStats;
}

const TWO32 = 4294967296;

/** Masks to pull an address out of a descriptor's halves for one size shift. */
interface OaMasks {
  readonly lo: number;
  readonly hi: number;
  readonly form: 0 | 1 | 2; // pa48, lpa ([15:12] -> [51:48]), lpa2 ([9:8] -> [51:50])
}

function oaMasks(fmt: DescriptorFormat, shift: number): OaMasks {
  const top = fmt.oa === 'lpa2' ? 49 : 47;
  const lo = shift >= 32 ? 0 : (0xffffffff << shift) >>> 0;
  const hiLow = Math.max(shift - 32, 0);
  const hi = ((2 ** (top - 32 + 1) - 1) & ~(2 ** hiLow - 1)) >>> 0;
  return { lo, hi, form: fmt.oa === 'lpa' ? 1 : fmt.oa === 'lpa2' ? 2 : 0 };
}

function oaOf(m: OaMasks, lo: number, hi: number): number {
  let a = (hi & m.hi) * TWO32 + ((lo & m.lo) >>> 0);
  if (m.form === 1) a += ((lo >>> 12) & 15) * 2 ** 48;
  else if (m.form === 2) a += ((lo >>> 8) & 3) * 2 ** 50;
  return a;
}

interface Task {
  readonly root: number;
  readonly level: number;
  readonly pa: number;
  readonly vaBase: number;
  readonly entries: number;
  readonly limits: number;
  /** The task of the table that points here (cycle detection walks up this chain). */
  readonly parent: Task | undefined;
  readonly info: TableRec;
}

interface RootState {
  readonly root: WalkRoot;
  readonly ctx: LeafContext;
  /** Per level (index level + 1): OA masks for leaves and for next-table pointers. */
  readonly leafMasks: OaMasks[];
  readonly tableMask: OaMasks;
  readonly block: boolean[];
  readonly span: number[];
  readonly shift: number[];
  readonly stage1: boolean;
  readonly hpd: boolean;
  /** Entries of a next-level table. */
  readonly entriesPer: number;
  readonly task?: Task;
}

const big = (n: number): bigint => BigInt(n);

export async function walk(
  regime: RegimeConfig,
  reader: PhysReader,
  opts: WalkOptions = {},
): Promise<WalkResult> {
  const t0 = performance.now();
  const maxTables = Math.min(opts.maxTables ?? 100_000, MAX_STORE_TABLES);
  const ram = opts.ram?.map((r) => [Number(r.start), Number(r.end)] as const);
  const paLimit = 2 ** regime.paBits;
  const tables: TableInfo[] = [];
  const diagnostics: WalkDiagnostic[] = [];
  const stats: WalkStats = {
    tablesRead: 0,
    tablesVisited: 0,
    bytesRead: 0,
    readCalls: 0,
    entries: 0,
    zeroEntries: 0,
    leaves: 0,
    ms: 0,
  };
  const cache = new Map<number, Uint32Array | Error>();
  const requested = new Set<number>();
  const batch = Math.max(1, reader.maxBatch ?? 256);

  const states: RootState[] = [];
  let pending: Task[] = [];
  for (const root of regime.roots) {
    if (opts.roots && !opts.roots.includes(root.base)) continue;
    const ctx: LeafContext = {
      base: root.base,
      fmt: root.fmt,
      perm: regime.perm,
      wxn: regime.wxn,
      ha: regime.ha,
      fwb: regime.fwb,
      mair: regime.mair,
    };
    const leafMasks: OaMasks[] = [];
    const block: boolean[] = [];
    const span: number[] = [];
    const shift: number[] = [];
    for (let l = -1; l <= 3; l++) {
      const s = levelShift(root.fmt.granule, l);
      leafMasks.push(oaMasks(root.fmt, s));
      block.push(l === 3 || blockAllowed(root.fmt.granule, l, root.fmt.oa));
      span.push(2 ** s);
      shift.push(s);
    }
    const st: RootState = {
      root,
      ctx,
      leafMasks,
      tableMask: oaMasks(root.fmt, pageShift(root.fmt.granule)),
      block,
      span,
      shift,
      stage1: root.fmt.stage === 1,
      hpd: root.hpd,
      entriesPer: 2 ** (pageShift(root.fmt.granule) - 3),
    };
    if (!root.enabled && !opts.includeDisabled) {
      states.push(st);
      continue;
    }
    const pa = Number(root.root);
    const info = new TableRec(
      root.base,
      root.startLevel,
      pa,
      Number(root.vaStart),
      root.rootEntries,
      -1,
      0,
      0,
    );
    const task: Task = {
      root: states.length,
      level: root.startLevel,
      pa,
      vaBase: Number(root.vaStart),
      entries: root.rootEntries,
      limits: 0,
      parent: undefined,
      info,
    };
    states.push({ ...st, task });
    tables.push(info);
    pending.push(task);
    stats.tablesVisited++;
  }

  const store = new LeafStore(
    states.map((st) => st.ctx),
    4096,
  );
  const rounds: number[] = [];
  const tableScratch: number[] = [];
  while (pending.length > 0) {
    rounds.push(store.length);
    // One allocation per round: every entry of this round's tables could be a leaf.
    let roundEntries = 0;
    for (const t of pending) roundEntries += t.entries;
    store.reserve(roundEntries);
    const next: Task[] = [];
    // Read chunk k+1 while decoding chunk k: the stub produces replies while we scan.
    const chunks: Task[][] = [];
    for (let at = 0; at < pending.length; at += batch) chunks.push(pending.slice(at, at + batch));
    let inflight = fetch(chunks[0]);
    let done = 0;
    for (let k = 0; k < chunks.length; k++) {
      await inflight;
      if (k + 1 < chunks.length) inflight = fetch(chunks[k + 1]);
      for (const t of chunks[k]) scan(t, states[t.root], next);
      done += chunks[k].length;
      opts.onProgress?.({
        tablesRead: stats.tablesRead,
        tablesPending: pending.length - done + next.length,
        leaves: stats.leaves,
      });
    }
    pending = next;
  }

  /** Reads the tables of a chunk that are neither cached nor already requested. */
  async function fetch(chunk: readonly Task[]): Promise<void> {
    const want: Task[] = [];
    for (const t of chunk) {
      if (requested.has(t.pa)) continue;
      requested.add(t.pa);
      want.push(t);
    }
    if (want.length === 0) return;
    const ranges: PhysRange[] = want.map((t) => ({ address: big(t.pa), length: t.entries * 8 }));
    const got = await reader.read(ranges);
    stats.readCalls++;
    for (let i = 0; i < want.length; i++) {
      const g = got[i] ?? new Error('reader returned too few results');
      if (g instanceof Error) cache.set(want[i].pa, g);
      else {
        stats.tablesRead++;
        stats.bytesRead += g.length;
        cache.set(want[i].pa, asU32(g));
      }
    }
  }

  function scan(t: Task, st: RootState, next: Task[]): void {
    const data = cache.get(t.pa);
    if (!data || data instanceof Error) {
      diagnostics.push({
        kind: 'unreadable',
        base: st.root.base,
        level: t.level,
        va: big(t.vaBase),
        ...(t.info.parentDescAddr !== undefined ? { descAddr: t.info.parentDescAddr } : {}),
        target: big(t.pa),
        message: `level ${t.level} table at 0x${t.pa.toString(16)} unreadable${data ? `: ${data.message}` : ''}`,
      });
      return;
    }
    t.info.read = true;
    const li = t.level + 1;
    const n = Math.min(t.entries, data.length >> 1);
    store.reserve(n);
    const tablesAt = tableScratch;
    tablesAt.length = 0;
    const before = store.length;
    const lm = st.leafMasks[li];
    const tnum = store.pages.add(
      data,
      t.vaBase,
      t.pa,
      t.root,
      t.level,
      st.shift[li],
      t.limits,
      st.block[li],
      lm.lo,
      lm.hi,
      lm.form,
    );
    const nonZero = scanTable(data, n, t.level === 3, tnum << REF_INDEX_BITS, store, tablesAt);
    stats.leaves += store.length - before;
    // Checked here, off the hot loop and while the next chunk is in flight, so that classify and
    // coalesce (which run after the last read) can take a uniform table in one step.
    if (t.level === 3 && nonZero === n && n > 1) store.pages.uniform[tnum] = uniformRun(data, n, st.span[li]);
    // Table descriptors, in index order so the next round stays VA-sorted.
    for (const i of tablesAt)
      follow(t, st, data[2 * i], data[2 * i + 1], t.vaBase + i * st.span[li], t.pa + i * 8, next);
    // Valid leaves naming an output address beyond the PA size (an Address size fault on access):
    // the OR of the high words bounds every OA of the table, so most tables need no second look.
    const bound = lm.form !== 0 ? Infinity : ((scanHiOr & lm.hi) >>> 0) * TWO32 + TWO32 + st.span[li];
    for (let k = bound > paLimit ? before : store.length; k < store.length; k++) {
      const oa = store.paOf(k);
      if (store.state(k) !== S_VALID || oa + st.span[li] <= paLimit) continue;
      diagnostics.push({
        kind: 'addressSize',
        base: st.root.base,
        level: t.level,
        va: big(store.vaOf(k)),
        descAddr: big(store.descAddrOf(k)),
        desc: (big(store.hiOf(k)) << 32n) | big(store.loOf(k)),
        target: big(oa),
        message: `output address 0x${oa.toString(16)} beyond the ${regime.paBits}-bit PA size (Address size fault)`,
      });
    }
    t.info.nonZero = nonZero;
    stats.entries += n;
    stats.zeroEntries += n - nonZero;
  }

  function follow(
    t: Task,
    st: RootState,
    lo: number,
    hi: number,
    va: number,
    descAddr: number,
    next: Task[],
  ): void {
    const pa = oaOf(st.tableMask, lo, hi);
    const level = t.level + 1;
    let cycle = false;
    for (let a: Task | undefined = t; a !== undefined && !cycle; a = a.parent) cycle = a.pa === pa;
    if (cycle)
      return followDiag(
        t,
        st,
        lo,
        hi,
        va,
        descAddr,
        pa,
        'cycle',
        `table descriptor points at 0x${pa.toString(16)}, a table above it on this walk (cycle): not followed`,
      );
    if (pa >= paLimit)
      return followDiag(
        t,
        st,
        lo,
        hi,
        va,
        descAddr,
        pa,
        'addressSize',
        `next-level table 0x${pa.toString(16)} beyond the ${regime.paBits}-bit PA size (Address size fault)`,
      );
    const entriesPer = st.entriesPer;
    if (ram !== undefined) {
      let inside = false;
      for (const [s, e] of ram) inside ||= pa >= s && pa + entriesPer * 8 <= e;
      if (!inside)
        return followDiag(
          t,
          st,
          lo,
          hi,
          va,
          descAddr,
          pa,
          'outsideRam',
          `next-level table 0x${pa.toString(16)} is outside RAM: not read`,
        );
    }
    if (stats.tablesVisited >= maxTables)
      return followDiag(
        t,
        st,
        lo,
        hi,
        va,
        descAddr,
        pa,
        'tableCap',
        `table cap (${maxTables}) reached: level ${level} table 0x${pa.toString(16)} not walked`,
      );
    stats.tablesVisited++;
    // Hierarchical limits are OR-ed down the walk; HPD keeps only NSTable; stage 2 has none.
    const own = st.stage1 ? (hi >>> 27) & (st.hpd ? LIMIT_NS : 0x1f) : 0;
    const info = new TableRec(st.root.base, level, pa, va, entriesPer, descAddr, lo >>> 0, hi >>> 0);
    tables.push(info);
    next.push({
      root: t.root,
      level,
      pa,
      vaBase: va,
      entries: entriesPer,
      limits: t.limits | own,
      parent: t,
      info,
    });
  }

  /** A table descriptor the walk does not follow, reported on its entry. */
  function followDiag(
    t: Task,
    st: RootState,
    lo: number,
    hi: number,
    va: number,
    descAddr: number,
    pa: number,
    kind: DiagnosticKind,
    message: string,
  ): void {
    diagnostics.push({
      kind,
      base: st.root.base,
      level: t.level,
      va: big(va),
      descAddr: big(descAddr),
      desc: joinHalves(lo, hi),
      target: big(pa),
      message,
    });
  }

  const sorted = store.mergeRuns(rounds);
  stats.leaves = sorted.length;
  stats.ms = performance.now() - t0;
  let leaves: Leaf[] | undefined;
  return {
    regime,
    roots: states.map((s) => s.root),
    tables,
    store: sorted,
    get leaves(): Leaf[] {
      return (leaves ??= sorted.toLeaves());
    },
    diagnostics,
    stats,
  };
}

/**
 * The hot loop: one table's descriptors, leaves appended to the store as references (table number
 * and index; fields are decoded when a leaf is looked at). Indices of table descriptors go to
 * `tablesAt` for the caller. Returns the non-zero count; leaves the OR of the leaves' high words in
 * `scanHiOr`. Kept free of closures and allocation so V8 compiles it to a tight loop.
 */
function scanTable(
  data: Uint32Array,
  n: number,
  last: boolean,
  tref: number,
  store: LeafStore,
  tablesAt: number[],
): number {
  const refs = store.refs;
  const start = store.length;
  let len = start;
  let nonZero = 0;
  let hiOr = 0;
  if (last) {
    // Level 3 has no table descriptors: every non-zero entry is a leaf (the bulk of a walk).
    for (let i = 0; i < n; i++) {
      const lo = data[2 * i];
      const hi = data[2 * i + 1];
      if ((lo | hi) === 0) continue;
      refs[len++] = tref | i;
      hiOr |= hi;
    }
    store.length = len;
    scanHiOr = hiOr;
    return len - start;
  }
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
  scanHiOr = hiOr;
  return nonZero;
}

/**
 * n when entry i of the table is entry 0 with i * stride added to its low word and the same high
 * word (contiguous output addresses, identical attributes), else 0. A carry out of the low word
 * makes the sum miss the u32 and the table count as not uniform.
 */
function uniformRun(data: Uint32Array, n: number, stride: number): number {
  const lo0 = data[0];
  const hi0 = data[1];
  for (let i = 1; i < n; i++) if (data[2 * i + 1] !== hi0 || data[2 * i] !== lo0 + i * stride) return 0;
  return n;
}

/** Set by scanTable: the OR of the high words of the last table's leaves. */
let scanHiOr = 0;

/** The descriptor words of a table (little-endian tables, as with SCTLR.EE = 0). */
function asU32(b: Uint8Array): Uint32Array {
  if (b.byteOffset % 4 === 0) return new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
  return new Uint32Array(b.slice().buffer, 0, b.length >> 2);
}
