// Lazy-MMIO classification of a stage-1 walk, cross-checked against stage 2 and the stub's guard-call
// log when they are available. Anomalies are named after the seed's invariants (DESIGN.md).

import {
  type Leaf,
  type LeafStore,
  type WalkResult,
  S_INVALID,
  S_RESERVED,
  S_VALID,
  joinHalves,
} from '../aarch64';
import { REF_INDEX_BITS, REF_INDEX_MASK, stateOf, uniformRest } from '../aarch64/leafstore';
import {
  ACCEPTED_HI,
  ACCEPTED_LO,
  ACCEPTED_LO_0_6,
  pagingCrate,
  unsupportedBitNames,
  unsupportedTableDescriptor,
  DEFAULT_LAZY_BIT,
} from './flags';
import type { GuardReplay } from './guardlog';
import { isStage2Guard, type PvmfwGeneration } from './generation';

import { formatAddress, formatDescriptor } from '../shared/format';
export type LazyState = 'pending' | 'mapped' | null;

export type PvmfwAnomalyKind =
  | 'lazyNotPage' // valid lazy leaf > 4 KiB: "Failed to break down block mapping before MMIO guard mapping"
  | 'lazyOnNormal' // lazy flag on a non-device memory type
  | 'unmapNonDevice' // valid leaf in a tracked MMIO range without the flag: "Attempting MMIO guard unmap for non-device pages"
  | 'unsupportedFlags' // aarch64-paging 0.4.0 rejects the bits: "Unsupported PTE flags set"
  | 'validUnguarded' // valid lazy page whose IPA is not guard-mapped (stage 2 / log)
  | 'guardedNotMapped' // guard-mapped page whose stage-1 entry is not valid
  | 'logMismatch' // guard-call log and stage 2 disagree
  | 'doubleMap'
  | 'unmapNotMapped'
  | 'hypercallError'
  | 'walkError';

export interface PvmfwAnomaly {
  readonly kind: PvmfwAnomalyKind;
  readonly severity: 'error' | 'warning' | 'info';
  readonly va?: bigint;
  readonly ipa?: bigint;
  readonly descAddr?: bigint;
  readonly message: string;
  /** Consecutive leaves this anomaly covers (merged runs), and their bytes. */
  readonly count?: number;
  readonly size?: number;
}

export interface ClassifyOptions {
  /** Descriptor bit used as MMIO_LAZY_MAP_FLAG (default 55). */
  readonly lazyBit?: number;
  /** pvmfw generation: which aarch64-paging's `Descriptor::flags()` judges the bits (seed by default). */
  readonly generation?: PvmfwGeneration;
  /** Tracked MMIO ranges [start, end) (pvmfw's mmio_regions), when known. */
  readonly mmioRanges?: readonly { readonly start: bigint; readonly end: bigint }[];
}

export interface GuardReport {
  readonly lazyBit: number;
  /** Lazy leaves waiting for their first access. */
  readonly pending: Leaf[];
  /** Valid lazy-flagged leaves (guard-mapped by the handler, or by map_device). */
  readonly mapped: Leaf[];
  readonly pendingCount: number;
  readonly mappedCount: number;
  /** Bytes covered by pending leaves. */
  readonly pendingBytes: number;
  readonly anomalies: PvmfwAnomaly[];
  /** Which cross-checks ran. */
  readonly stage2Checked: boolean;
  readonly logChecked: boolean;
  /** Page IPAs guard-mapped now according to stage 2 (4 KiB device pages) or, without it, the log. */
  readonly guardMapped: bigint[];
}

/** pvmfw's state for a leaf: the lazy flag without VALID is pending, with VALID mapped. */
export function lazyState(leaf: Leaf, lazyBit = DEFAULT_LAZY_BIT): LazyState {
  if (!leaf.bit(lazyBit)) return null;
  if (leaf.state === S_VALID) return 'mapped';
  return leaf.state === S_INVALID ? 'pending' : null;
}

const PAGE = 4096;
/** 2^shift for every size shift a descriptor can have. */
const SIZES = Float64Array.from({ length: 64 }, (_, k) => 2 ** k);
// Local copies: the package index re-exports through getters, too slow inside the per-leaf loop.
const S_VALID_ = S_VALID;
const S_RESERVED_ = S_RESERVED;
const REF_INDEX_BITS_ = REF_INDEX_BITS;
const REF_INDEX_MASK_ = REF_INDEX_MASK;

/** Bytes of [start, end) covered by valid leaves of a stage-2 walk (leaves sorted by IPA). */
function s2Covered(s2: readonly Leaf[], start: number, end: number): number {
  let lo = 0;
  let hi = s2.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (s2[mid].vaNum + s2[mid].size <= start) lo = mid + 1;
    else hi = mid;
  }
  let covered = 0;
  for (let i = lo; i < s2.length && s2[i].vaNum < end; i++) {
    const l = s2[i];
    // A guard map covers the IPA: valid, or pKVM's annotated invalid entry (the access is forwarded).
    if (l.state !== S_VALID && !isStage2Guard(l)) continue;
    covered += Math.min(end, l.vaNum + l.size) - Math.max(start, l.vaNum);
  }
  return covered;
}

export function classify(
  s1: WalkResult,
  opts: ClassifyOptions = {},
  s2?: WalkResult,
  replay?: GuardReplay,
): GuardReport {
  const bit = opts.lazyBit ?? DEFAULT_LAZY_BIT;
  const anomalies: PvmfwAnomaly[] = [];
  let pendingBytes = 0;
  const ranges = opts.mmioRanges?.map((r) => [Number(r.start), Number(r.end)] as const);
  const s2Leaves = s2?.leaves ?? [];
  // Guard mappings at stage 2: valid 4 KiB device pages (RAM and pre-ENROLL passthrough are blocks).
  // Guard mappings at stage 2: level-3 device pages, or pKVM's annotated invalid entries (RAM and
  // the pre-ENROLL passthrough are blocks).
  const s2Guard = s2Leaves.filter(isStage2Guard);

  for (const d of s1.diagnostics)
    anomalies.push({
      kind: 'walkError',
      severity: 'error',
      va: d.va,
      ...(d.descAddr !== undefined ? { descAddr: d.descAddr } : {}),
      message: d.message,
    });
  for (const t of s1.tables) {
    const message = t.parentDesc === undefined ? undefined : unsupportedTableDescriptor(t.parentDesc);
    if (message)
      anomalies.push({
        kind: 'unsupportedFlags',
        severity: 'warning',
        va: t.vaStart,
        ...(t.parentDescAddr !== undefined ? { descAddr: t.parentDescAddr } : {}),
        message,
      });
  }

  // One pass over the columns; a Leaf object only for lazy-flagged leaves and anomalies.
  const store = s1.store;
  const kinds = store.contexts.map((c) => c.mair.map((m) => m.kind === 'device'));
  const stage2 = store.contexts.map((c) => c.fmt.stage === 2);
  const acceptedLo = opts.generation === 'late2023' ? ACCEPTED_LO_0_6 : ACCEPTED_LO;
  const scan = scanLeaves(store, bit, kinds, stage2, ranges, acceptedLo);
  for (const r of scan.runs) {
    const i = r.first;
    anomalies.push({
      kind: r.kind,
      severity: r.severity,
      va: BigInt(store.vaOf(i)),
      descAddr: BigInt(store.descAddrOf(i)),
      message: anomalyMessage(store, r.kind, i, opts.generation),
      count: r.count,
      size: r.size,
    });
  }
  const pendingIdx = scan.pending;
  const mappedIdx = scan.mapped;
  pendingBytes = scan.pendingBytes;
  let pendingLeaves: Leaf[] | undefined;
  let mappedLeaves: Leaf[] | undefined;
  const pending = (): Leaf[] => (pendingLeaves ??= Array.from(pendingIdx, (i) => store.leaf(i)));
  const mapped = (): Leaf[] => (mappedLeaves ??= Array.from(mappedIdx, (i) => store.leaf(i)));
  const s1ByVa = new Map<number, Leaf>();
  if (s2 || replay)
    for (const l of mapped())
      for (let p = 0; p < Math.min(l.size, 512 * PAGE); p += PAGE) s1ByVa.set(l.paNum + p, l);

  const unguarded = (start: number, size: number): number => {
    if (s2) return size - s2Covered(s2Leaves, start, start + size);
    if (!replay) return 0;
    let n = 0;
    for (let p = 0; p < Math.min(size, 512 * PAGE); p += PAGE)
      if (!replay.mapped.has(BigInt(start + p))) n += PAGE;
    return n;
  };
  if (s2 || replay) {
    for (const l of mapped()) {
      const missing = unguarded(l.paNum, l.size);
      if (missing === 0) continue;
      const wasUnmapped = replay?.unmapped.has(BigInt(l.paNum)) ?? false;
      anomalies.push({
        kind: 'validUnguarded',
        severity: wasUnmapped ? 'info' : 'error',
        va: l.va,
        ipa: l.pa,
        descAddr: l.descAddr,
        message: wasUnmapped
          ? `valid at stage 1, MMIO_GUARD_UNMAPped (mmio_unmap_all): an access now gets a synchronous external abort`
          : `valid lazy ${l.size === PAGE ? 'page' : l.kind} not MMIO_GUARD_MAPped (${missing / PAGE} page(s) missing at stage 2): an access gets a synchronous external abort`,
      });
    }
  }
  const guardMapped = s2
    ? s2Guard.map((l) => l.pa)
    : replay
      ? [...replay.mapped].sort((a, b) => (a < b ? -1 : 1))
      : [];
  for (const ipa of guardMapped) {
    if (s1ByVa.has(Number(ipa))) continue;
    anomalies.push({
      kind: 'guardedNotMapped',
      severity: 'warning',
      ipa,
      va: ipa,
      message: `IPA ${formatAddress(ipa)} is guard-mapped but its stage-1 entry is not a valid lazy page (leaked guard mapping, or inside handle_mmio_fault between MAP and the descriptor store)`,
    });
  }
  if (s2 && replay) {
    const s2Set = new Set(s2Guard.map((l) => l.pa));
    for (const ipa of replay.mapped)
      if (!s2Set.has(ipa))
        anomalies.push({
          kind: 'logMismatch',
          severity: 'warning',
          ipa,
          message: `guard log says ${formatAddress(ipa)} is mapped; stage 2 has no 4 KiB device page there`,
        });
    for (const ipa of s2Set)
      if (!replay.mapped.has(ipa))
        anomalies.push({
          kind: 'logMismatch',
          severity: 'warning',
          ipa,
          message: `stage 2 maps ${formatAddress(ipa)} as a guard page; the guard log has no live MMIO_GUARD_MAP for it`,
        });
  }
  for (const p of replay?.problems ?? [])
    anomalies.push({
      kind: p.kind,
      severity: p.kind === 'hypercallError' ? 'warning' : 'error',
      ipa: p.ipa,
      message: `guard log #${p.seq}: ${p.message}`,
    });

  return {
    lazyBit: bit,
    get pending() {
      return pending();
    },
    get mapped() {
      return mapped();
    },
    pendingCount: pendingIdx.length,
    mappedCount: mappedIdx.length,
    pendingBytes,
    anomalies,
    stage2Checked: !!s2,
    logChecked: !!replay,
    guardMapped,
  };
}

const KINDS: PvmfwAnomalyKind[] = ['unsupportedFlags', 'unmapNonDevice', 'lazyOnNormal', 'lazyNotPage'];
const SEVERITY: PvmfwAnomaly['severity'][] = ['error', 'warning'];

interface AnomalyRun {
  kind: PvmfwAnomalyKind;
  severity: PvmfwAnomaly['severity'];
  first: number;
  count: number;
  size: number;
}

function anomalyMessage(
  store: LeafStore,
  kind: PvmfwAnomalyKind,
  i: number,
  generation?: PvmfwGeneration,
): string {
  const lo = store.loOf(i);
  const hi = store.hiOf(i);
  switch (kind) {
    case 'unsupportedFlags':
      return `descriptor ${formatDescriptor(joinHalves(lo, hi))} sets ${unsupportedBitNames(lo, hi, generation).join(', ')}: "Unsupported PTE flags set" (${pagingCrate(generation)} Descriptor::flags() returns None)`;
    case 'unmapNonDevice':
      return 'valid leaf in a tracked MMIO range without MMIO_LAZY_MAP_FLAG: mmio_unmap_all asserts "Attempting MMIO guard unmap for non-device pages"';
    case 'lazyOnNormal':
      return `MMIO_LAZY_MAP_FLAG on ${store.leaf(i).memType.name} memory: the invariant behind "Attempting MMIO guard unmap for non-device pages"; a fault here guard-maps RAM and remaps it as device`;
    default:
      return `valid lazy ${store.leaf(i).kind} of ${SIZES[store.shift(i)] / 1024} KiB: mmio_unmap_all asserts "Failed to break down block mapping before MMIO guard mapping"`;
  }
}

/**
 * The per-leaf pass, closure-free and allocation-free per leaf so V8 keeps it tight: lazy states into
 * index lists, anomalies as runs of consecutive leaves (same kind, severity and detail) whose open
 * state sits in typed arrays indexed by kind; a run is recorded when it ends. Messages are built
 * later per run. Leaves are read from the table pages through the store's references; a table's
 * shared facts are loaded only when the reference changes table.
 */
function scanLeaves(
  store: LeafStore,
  bit: number,
  isDevice: boolean[][],
  stage2: boolean[],
  ranges: (readonly [number, number])[] | undefined,
  acceptedLo: number,
): { pending: Uint32Array; mapped: Uint32Array; pendingBytes: number; runs: AnomalyRun[] } {
  const word = bit < 32 ? 0 : 1;
  const mask = (1 << (bit & 31)) >>> 0;
  // Per context: AttrIndx values whose lazy flag is an anomaly (non-device at stage 1; none at stage 2).
  const normalMask = new Uint8Array(Math.max(1, isDevice.length));
  for (let c = 0; c < isDevice.length; c++)
    if (!stage2[c]) for (let a = 0; a < 8; a++) if (isDevice[c][a] !== true) normalMask[c] |= 1 << a;
  const rs = new Float64Array(ranges ? ranges.length * 2 : 0);
  ranges?.forEach(([s, e], k) => {
    rs[2 * k] = s;
    rs[2 * k + 1] = e;
  });
  const pending = new IndexList();
  const mapped = new IndexList();
  const runs: AnomalyRun[] = [];
  const open: OpenRuns = {
    first: new Int32Array(4).fill(-1),
    count: new Float64Array(4),
    size: new Float64Array(4),
    end: new Float64Array(4).fill(-1),
    key: new Float64Array(4),
    sev: new Int8Array(4),
  };
  // Local views of the open runs: the continuation test runs inline for every anomalous leaf.
  const oFirst = open.first;
  const oEnd = open.end;
  const oCount = open.count;
  const oSize = open.size;
  let pendingBytes = 0;
  const { refs, pages } = store;
  const n = store.length;
  let cur = -1;
  let data = pages.data[0];
  // Doubles from the start (0.5, overwritten on the first leaf) so V8 never boxes them.
  let vaBase = 0.5;
  let tmeta = 0;
  let size = 0.5;
  let normal = 0;
  // Leaves of a uniform table still to take in one step, once its entry 0 is classified.
  let skip = 0;
  for (let i = 0; i < n; i++) {
    if (skip > 0) {
      // They classify as entry 0 did (same bits, contiguous VA): every run entry 0 extended goes on
      // through them, and the index list entry 0 went to gets them too.
      const add = skip * size;
      const end0 = vaBase + size;
      for (let k = 0; k < 4; k++)
        if (oFirst[k] >= 0 && oEnd[k] === end0) {
          oCount[k] += skip;
          oSize[k] += add;
          oEnd[k] = end0 + add;
        }
      if (pending.endsWith(i - 1)) {
        pending.pushRun(i, skip);
        pendingBytes += add;
      } else if (mapped.endsWith(i - 1)) mapped.pushRun(i, skip);
      i += skip - 1;
      skip = 0;
      continue;
    }
    const ref = refs[i];
    const t = ref >>> REF_INDEX_BITS_;
    if (t !== cur) {
      // Tracked MMIO ranges are checked per leaf: no stretches then.
      skip = rs.length === 0 ? uniformRest(refs, n, i, pages.uniform[t]) : 0;
      cur = t;
      data = pages.data[t];
      vaBase = pages.va[t];
      tmeta = pages.meta[t];
      size = SIZES[(tmeta >>> 10) & 0x3f];
      normal = normalMask[(tmeta >>> 16) & 0xff];
    }
    const idx = ref & REF_INDEX_MASK_;
    const lo = data[2 * idx];
    const hi = data[2 * idx + 1];
    const flagged = ((word === 0 ? lo : hi) & mask) !== 0;
    const badLo = lo & ~acceptedLo;
    const badHi = hi & ~ACCEPTED_HI;
    // The common leaf: no flag, no rejected bits, no tracked MMIO ranges to check.
    if (!flagged && (badLo | badHi) === 0 && rs.length === 0) continue;
    const state = stateOf(lo, tmeta);
    const v = vaBase + idx * size;
    if ((badLo | badHi) !== 0)
      extend(open, runs, 0, flagged ? 0 : 1, badLo | ((badHi >>> 16) << 8), i, v, size);
    if (!flagged || state === S_RESERVED_) {
      if (state === S_VALID_ && rs.length !== 0 && overlaps(rs, v, v + size))
        extend(open, runs, 1, 0, 0, i, v, size);
      continue;
    }
    // Flag on normal memory: the one anomaly a kernel (bit 55 = PTE_DIRTY) hits on most leaves, so
    // its run continues inline.
    if (((normal >>> ((lo >>> 2) & 7)) & 1) !== 0) {
      if (oFirst[2] >= 0 && oEnd[2] === v) {
        oCount[2]++;
        oSize[2] += size;
        oEnd[2] = v + size;
      } else extend(open, runs, 2, 0, 0, i, v, size);
    }
    if (state === S_VALID_ && size > PAGE) extend(open, runs, 3, 0, 0, i, v, size);
    if (state !== S_VALID_) {
      pending.push(i);
      pendingBytes += size;
    } else mapped.push(i);
  }
  for (let k = 0; k < 4; k++) close(open, runs, k);
  // Runs were found in leaf order per kind; report them in leaf order overall (kind order within).
  runs.sort((a, b) => a.first - b.first || KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind));
  return { pending: pending.view(), mapped: mapped.view(), pendingBytes, runs };
}

/** A growable list of leaf indices (a kernel flags ~260k leaves: no boxed array elements). */
class IndexList {
  private buf = new Uint32Array(1024);
  length = 0;
  push(i: number): void {
    if (this.length === this.buf.length) {
      const b = new Uint32Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b;
    }
    this.buf[this.length++] = i;
  }
  /** Appends from, from + 1, ..., from + count - 1. */
  pushRun(from: number, count: number): void {
    if (this.length + count > this.buf.length) {
      const b = new Uint32Array(Math.max(this.buf.length * 2, this.length + count));
      b.set(this.buf);
      this.buf = b;
    }
    for (let k = 0; k < count; k++) this.buf[this.length++] = from + k;
  }
  endsWith(i: number): boolean {
    return this.length > 0 && this.buf[this.length - 1] === i;
  }
  view(): Uint32Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Open anomaly runs, one per kind (index into KINDS). */
interface OpenRuns {
  readonly first: Int32Array;
  readonly count: Float64Array;
  readonly size: Float64Array;
  readonly end: Float64Array;
  readonly key: Float64Array;
  readonly sev: Int8Array;
}

function overlaps(rs: Float64Array, start: number, end: number): boolean {
  for (let k = 0; k < rs.length; k += 2) if (start < rs[k + 1] && end > rs[k]) return true;
  return false;
}

/** Adds leaf i to the open run of kind k when it continues it, else closes that run and opens one. */
function extend(
  o: OpenRuns,
  runs: AnomalyRun[],
  k: number,
  sev: number,
  key: number,
  i: number,
  v: number,
  size: number,
): void {
  if (o.first[k] >= 0 && o.end[k] === v && o.key[k] === key && o.sev[k] === sev) {
    o.count[k]++;
    o.size[k] += size;
  } else {
    close(o, runs, k);
    o.first[k] = i;
    o.count[k] = 1;
    o.size[k] = size;
    o.key[k] = key;
    o.sev[k] = sev;
  }
  o.end[k] = v + size;
}

function close(o: OpenRuns, runs: AnomalyRun[], k: number): void {
  if (o.first[k] < 0) return;
  runs.push({
    kind: KINDS[k],
    severity: SEVERITY[o.sev[k]],
    first: o.first[k],
    count: o.count[k],
    size: o.size[k],
  });
  o.first[k] = -1;
}
