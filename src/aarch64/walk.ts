// The bounded translation-table walker. Breadth-first by level so each level's tables are read in a
// few large batches (the live client keeps them in flight). Leaves go to a columnar LeafStore; each
// breadth-first round emits them in input-address order (parents are scanned in VA order and queue
// their children in index order), so one k-way merge of the rounds gives the VA-ordered result.
//
// Bounded: a table pointing at one of its ancestors is a cycle (reported, not followed); tables
// outside RAM, beyond the PA size or unreadable are reported on the entry that points there and the
// walk goes on; at most `maxTables` tables' worth of descriptors are visited, and diagnostics past a
// per-kind cap are only counted, so a crafted table graph costs bounded time and memory.

import {
  DEFAULT_MAX_DIAGNOSTICS,
  DiagnosticLog,
  type DiagnosticKind,
  type WalkDiagnostic,
} from './diagnostics';
import { blockAllowed, levelShift, pageShift } from './granule';
import { type Leaf, type LeafContext, S_VALID, LIMIT_NS, joinHalves } from './leaf';
import { LeafStore, MAX_STORE_TABLES, REF_INDEX_BITS } from './leafstore';
import type { PhysRange, PhysReader } from './reader';
import type { BaseRegister, RegimeConfig, WalkRoot } from './regime';
import {
  asU32,
  MAX_TABLE_ENTRIES,
  type OaMasks,
  oaMasks,
  oaOf,
  scanLeafTable,
  scanTable,
  type ScanOut,
} from './tablescan';

export type { DiagnosticKind, WalkDiagnostic } from './diagnostics';
export { DEFAULT_MAX_DIAGNOSTICS } from './diagnostics';

/**
 * Default table cap: 4096 tables of 4 KiB, i.e. 2M descriptors (16 MiB of table pages). A
 * page-granular Linux linear map needs 512 tables per GiB of RAM, so this covers about 8 GiB. It is
 * also what keeps a crafted walk's consumers bounded: a table graph whose leaves each make their own
 * region costs the CLI 0.7 to 1.1 GB at this cap, 2.7 to 4.5 GB at 16384 (the former default of
 * 100000 ran the walker alone out of heap).
 */
export const DEFAULT_MAX_TABLES = 4096;
/** Descriptors in a 4 KiB table: the unit the table cap counts in. */
const CAP_UNIT = 512;

export interface WalkOptions {
  /**
   * Cap on tables visited, counted in 4 KiB tables (a 16 KiB-granule table counts 4, a 64 KiB one
   * 16, so the cap bounds memory whatever the granule). Default DEFAULT_MAX_TABLES.
   */
  readonly maxTables?: number;
  /** Diagnostics listed per kind; the rest are counted in one summary (default 100). */
  readonly maxDiagnostics?: number;
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
  /** The first `maxDiagnostics` of each kind, then one summary entry (`omitted` set) per kind. */
  readonly diagnostics: WalkDiagnostic[];
  /** Every diagnostic found, by kind, listed or not. */
  readonly diagnosticTotals: Readonly<Partial<Record<DiagnosticKind, number>>>;
  readonly stats: WalkStats;
}

const TWO32 = 4294967296;

/**
 * Milliseconds on a monotonic clock. Not `performance.now()`: its first use loads node's perf_hooks,
 * about a millisecond of the CLI's short process.
 */
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

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
  const t0 = nowMs();
  // Roots may be smaller than a page, so the table count gets its own bound below the store's.
  const maxTables = Math.min(opts.maxTables ?? DEFAULT_MAX_TABLES, MAX_STORE_TABLES - 8);
  const maxEntries = maxTables * CAP_UNIT;
  let entriesVisited = 0;
  const ram = opts.ram?.map((r) => [Number(r.start), Number(r.end)] as const);
  const paLimit = 2 ** regime.paBits;
  const tables: TableInfo[] = [];
  const log = new DiagnosticLog(opts.maxDiagnostics ?? DEFAULT_MAX_DIAGNOSTICS);
  const scanOut: ScanOut = {
    hiOr: 0,
    uniform: 0,
    runs: undefined,
    starts: new Uint16Array(MAX_TABLE_ENTRIES >> 2),
  };
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
    entriesVisited += root.rootEntries;
  }

  const store = new LeafStore(
    states.map((st) => st.ctx),
    4096,
  );
  const rounds: number[] = [];
  const tableScratch: number[] = [];
  while (pending.length > 0) {
    rounds.push(store.length);
    // One allocation per round: every entry of this round's tables could be a leaf (the table
    // cap bounds it: 2M descriptors, 8 MiB, at the default).
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
      if (!log.note('unreadable', st.root.base, t.level, t.vaBase)) return;
      log.add({
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
    const nonZero =
      t.level === 3
        ? scanLeafTable(data, n, tnum << REF_INDEX_BITS, store, scanOut, st.span[li])
        : scanTable(data, n, tnum << REF_INDEX_BITS, store, tablesAt, scanOut);
    stats.leaves += store.length - before;
    // Found in the scan's own pass, so that classify and coalesce (which run after the last read) can
    // take a uniform table in one step.
    store.pages.uniform[tnum] = scanOut.uniform;
    store.pages.runs[tnum] = scanOut.runs;
    // Table descriptors, in index order so the next round stays VA-sorted.
    for (const i of tablesAt)
      follow(t, st, data[2 * i], data[2 * i + 1], t.vaBase + i * st.span[li], t.pa + i * 8, next);
    // Valid leaves naming an output address beyond the PA size (an Address size fault on access):
    // the OR of the high words bounds every OA of the table, so most tables need no second look.
    const bound = lm.form !== 0 ? Infinity : ((scanOut.hiOr & lm.hi) >>> 0) * TWO32 + TWO32 + st.span[li];
    for (let k = bound > paLimit ? before : store.length; k < store.length; k++) {
      const oa = store.paOf(k);
      if (store.state(k) !== S_VALID || oa + st.span[li] <= paLimit) continue;
      if (!log.note('addressSize', st.root.base, t.level, store.vaOf(k))) continue;
      log.add({
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
    const entriesPer = st.entriesPer;
    let cycle = false;
    for (let a: Task | undefined = t; a !== undefined && !cycle; a = a.parent) cycle = a.pa === pa;
    let kind: DiagnosticKind | undefined;
    if (cycle) kind = 'cycle';
    else if (pa >= paLimit) kind = 'addressSize';
    else if (ram !== undefined) {
      let inside = false;
      for (const [s, e] of ram) inside ||= pa >= s && pa + entriesPer * 8 <= e;
      if (!inside) kind = 'outsideRam';
    }
    if (kind === undefined && (stats.tablesVisited >= maxTables || entriesVisited + entriesPer > maxEntries))
      kind = 'tableCap';
    if (kind !== undefined) {
      if (!log.note(kind, st.root.base, t.level, va)) return;
      const at = `0x${pa.toString(16)}`;
      log.add({
        kind,
        base: st.root.base,
        level: t.level,
        va: big(va),
        descAddr: big(descAddr),
        desc: joinHalves(lo, hi),
        target: big(pa),
        message:
          kind === 'cycle'
            ? `table descriptor points at ${at}, a table above it on this walk (cycle): not followed`
            : kind === 'addressSize'
              ? `next-level table ${at} beyond the ${regime.paBits}-bit PA size (Address size fault)`
              : kind === 'outsideRam'
                ? `next-level table ${at} is outside RAM: not read`
                : `table cap (${maxTables} tables of 4 KiB) reached: level ${level} table ${at} not walked`,
      });
      return;
    }
    stats.tablesVisited++;
    entriesVisited += entriesPer;
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

  const sorted = store.mergeRuns(rounds);
  stats.leaves = sorted.length;
  stats.ms = nowMs() - t0;
  return result(
    regime,
    states.map((s) => s.root),
    tables,
    sorted,
    log,
    stats,
  );
}

/**
 * The result, built outside walk(): a getter made inside it would keep walk's whole closure context
 * alive with the result, and with it the store before mergeRuns (W3: another 8.4 MB of references).
 */
function result(
  regime: RegimeConfig,
  roots: readonly WalkRoot[],
  tables: TableInfo[],
  store: LeafStore,
  log: DiagnosticLog,
  stats: WalkStats,
): WalkResult {
  let leaves: Leaf[] | undefined;
  return {
    regime,
    roots,
    tables,
    store,
    get leaves(): Leaf[] {
      return (leaves ??= store.toLeaves());
    },
    diagnostics: log.finish(),
    diagnosticTotals: log.totals(),
    stats,
  };
}
