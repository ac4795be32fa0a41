// pvmfw's MMIO-guard view of a stop: the tracked MMIO regions (`mmio_regions` in the firmware),
// each 4 KiB page's state from stage 1 (lazy / valid) and stage 2 (guard-mapped by the EL2 stub),
// the stub's guard-call log (`guard_log`), and the seed's invariants as anomalies. Pure: computed
// from the stop's walks, memory reader and symbols; the CLI's `guard` and the adapter's guardState
// request both print this. The verdict on a fault lives in fault.ts. Every pvmfw generation the
// demo reproduces is read here (src/pvmfw/generation.ts): the seed's and late 2023's encodings, a
// 4 KiB or 16 KiB guard granule (stage-1 pages stay 4 KiB; a granule's pages share one guard state),
// and both stage-2 representations of a guard map (a valid device page, or pKVM's annotated entry).
import type { Leaf } from '../aarch64/leaf';
import {
  PAGE_GUARD_STATES,
  type Anomaly,
  GuardCall,
  GuardFunction,
  GuardRegion,
  GuardStateResponseBody,
  PageGuardState,
  PageRun,
  PteEntry,
} from '../shared/protocol';
import type { PhysReader } from '../aarch64/reader';
import type { WalkResult } from '../aarch64/walk';
import { hasUnsupportedBits, pagingCrate, unsupportedTableDescriptor } from '../pvmfw/flags';
import { isStage2Guard, pvmfwFlavour, type PvmfwFlavour } from '../pvmfw/generation';
import { GUARD_CALLS, GUARD_LOG_MAGIC } from '../pvmfw/guardlog';
import type { ProgramSymbols } from './input';
import { leavesOf } from './leaves';
import { hex } from './pte';
import {
  formatAddress,
  formatDescriptor,
  formatCount,
  formatPageState,
  formatPages,
  formatRange,
} from '../shared/format';

const PAGE = 4096;
/** Anomalies kept per stop: a broken table can break every entry, and one line per entry helps nobody. */
const MAX_ANOMALIES = 256;
const HYP_STATE_MAGIC = 0x53505948;

const zeroCounts = (): Record<PageGuardState, number> =>
  Object.fromEntries(PAGE_GUARD_STATES.map((k) => [k, 0])) as Record<PageGuardState, number>;

export interface GuardState {
  available: boolean;
  reason?: string;
  enrolled: boolean;
  granule?: number;
  log: GuardCall[];
  logCount: number;
  regions: GuardRegion[];
  /** Guard-mapped pages outside the tracked regions (the eagerly mapped console, say). */
  untracked: PageRun[];
  anomalies: Anomaly[];
  counts: Record<PageGuardState, number>;
  /** Which pvmfw and which stage-2 representation the stop shows (how the rest was read). */
  firmware?: PvmfwFlavour;
}

/** The guard state of a stop pvmfw's MMIO guard does not apply to, saying why. */
export function noGuardState(reason: string): GuardState {
  const g: GuardState = {
    available: false,
    reason,
    enrolled: false,
    log: [],
    logCount: 0,
    regions: [],
    untracked: [],
    anomalies: [],
    counts: zeroCounts(),
  };
  return g;
}

/** Leaf covering `va` in a sorted leaf list, with a moving cursor for ordered sweeps. */
function cursor(leaves: readonly Leaf[]) {
  let i = 0;
  return (va: number): Leaf | undefined => {
    while (i < leaves.length && leaves[i].vaNum + leaves[i].size <= va) i++;
    const l = leaves[i];
    if (l && l.vaNum <= va) return l;
    // Cursor is monotonic; restart when a caller goes backwards.
    if (l && l.vaNum > va && i > 0 && leaves[i - 1].vaNum > va) {
      i = 0;
      return undefined;
    }
    return undefined;
  };
}

/** What guardState() reads besides the walks. */
export interface GuardInput {
  readonly reader: PhysReader;
  readonly symbols?: ProgramSymbols;
  readonly lazyBit: number;
  readonly guardLogSymbol: string;
  /** The PC of the stop (the scenario_done check of mmio_unmap_all's leaks). */
  readonly pc?: bigint;
}

/** The guard state of one stop, from its stage-1 walk (TTBR0_EL1) and stage-2 walk when active. */
export function guardState(
  input: GuardInput,
  el1: WalkResult,
  stage2: WalkResult | undefined,
): Promise<GuardState> {
  return new GuardReader(input).state(el1, stage2);
}

class GuardReader {
  constructor(private readonly input: GuardInput) {}

  private sym(name: string): bigint | undefined {
    return this.input.symbols?.address(name);
  }

  private async bytes(address: bigint, length: number): Promise<DataView | undefined> {
    const [b] = await this.input.reader.read([{ address, length }]);
    return b instanceof Error ? undefined : new DataView(b.buffer, b.byteOffset, b.byteLength);
  }

  private async readLog(): Promise<{ calls: GuardCall[]; count: number } | string> {
    const name = this.input.guardLogSymbol;
    const at = this.sym(name);
    if (at === undefined) return `no '${name}' symbol in the program ELF`;
    const head = await this.bytes(at, 0x20);
    if (!head || head.getUint32(0, true) !== GUARD_LOG_MAGIC)
      return `'${name}' at ${formatAddress(at)} does not hold a guard log (bad magic)`;
    const capacity = head.getUint32(8, true);
    const entrySize = head.getUint32(12, true);
    const count = Number(head.getBigUint64(16, true));
    if (capacity === 0 || capacity > 65536 || entrySize < 32)
      return `'${name}': implausible capacity ${capacity}`;
    const body = await this.bytes(at + 0x20n, capacity * entrySize);
    if (!body) return `'${name}' entries unreadable`;
    const calls: GuardCall[] = [];
    const first = Math.max(1, count - capacity + 1);
    for (let seq = first; seq <= count; seq++) {
      const off = ((seq - 1) % capacity) * entrySize;
      if (Number(body.getBigUint64(off, true)) !== seq) continue;
      const fid = Number(body.getBigUint64(off + 8, true) & 0xffffffffn);
      const fn = (GUARD_CALLS[fid]?.replace('MMIO_GUARD_', '') ?? 'UNKNOWN') as GuardFunction;
      calls.push({
        seq,
        fn,
        functionId: hex(fid),
        arg: hex(body.getBigUint64(off + 16, true)),
        result: body.getBigInt64(off + 24, true).toString(),
      });
    }
    return { calls, count };
  }

  private async trackedRanges(el1: WalkResult): Promise<{ start: bigint; end: bigint; name?: string }[]> {
    const regions = this.sym('mmio_regions');
    const countAt = this.sym('mmio_region_count');
    const out: { start: bigint; end: bigint; name?: string }[] = [];
    if (regions !== undefined && countAt !== undefined) {
      const c = await this.bytes(countAt, 4);
      const n = Math.min(c?.getUint32(0, true) ?? 0, 64);
      const body = n ? await this.bytes(regions, n * 16) : undefined;
      for (let i = 0; body && i < n; i++) {
        const start = body.getBigUint64(i * 16, true);
        const end = body.getBigUint64(i * 16 + 8, true);
        if (end > start) out.push({ start, end });
      }
    } else {
      // Firmware without pvmfw's tracker symbols: every lazy-flagged stage-1 device leaf (pending,
      // or valid since its fault), coalesced. Device-typed only: Linux, for one, uses bit 55 as its
      // software dirty bit.
      let cur: { start: bigint; end: bigint } | undefined;
      for (const l of leavesOf(el1, 'TTBR0_EL1')) {
        if (!l.bit(this.input.lazyBit) || l.memType.kind !== 'device') continue;
        const a = l.va;
        const b = a + BigInt(l.size);
        if (cur && cur.end === a) cur.end = b;
        else {
          if (cur) out.push(cur);
          cur = { start: a, end: b };
        }
      }
      if (cur) out.push(cur);
    }
    return out.map((r) => ({ ...r, name: this.nameOf(r.start) }));
  }

  private nameOf(a: bigint): string | undefined {
    const known: Record<string, string> = {
      '0x9000000': 'pl011 uart',
      '0x9010000': 'pl031 rtc',
      '0x9020000': 'fw_cfg',
      '0xa000000': 'virtio-mmio',
      '0x4000000000': 'pcie ecam (high)',
    };
    return known[hex(a)];
  }

  async state(el1: WalkResult, stage2: WalkResult | undefined): Promise<GuardState> {
    const log = await this.readLog();
    const calls = typeof log === 'string' ? [] : log.calls;
    const logCount = typeof log === 'string' ? 0 : log.count;
    let enrolled = calls.some((c) => c.fn === 'ENROLL' && c.result === '0');
    const hs = this.sym('hyp_state');
    if (hs !== undefined) {
      const v = await this.bytes(hs, 8);
      if (v && v.getUint32(0, true) === HYP_STATE_MAGIC) enrolled = v.getUint32(4, true) === 1;
    }
    const info = calls.filter((c) => c.fn === 'INFO').pop();
    const s1 = leavesOf(el1, 'TTBR0_EL1');
    const s2 = leavesOf(stage2, 'VTTBR_EL2');
    const firmware = pvmfwFlavour({
      ...(info ? { info: Number(info.result) } : {}),
      s1,
      ...(stage2 ? { stage2: s2, s2Granule: stage2.roots.find((r) => r.enabled)?.granule } : {}),
      lazyBit: this.input.lazyBit,
    });
    const granule = firmware.granule;
    // Pages MAPped/UNMAPped according to the log replay (complete when the ring did not wrap); a
    // call covers the whole granule, kept as its 4 KiB pages like everything else here.
    const mappedByLog = new Set<number>();
    const unmappedByLog = new Set<number>();
    const anomalies: Anomaly[] = [];
    const pagesOf = (ipa: number) => Array.from({ length: granule / PAGE }, (_, k) => ipa + k * PAGE);
    for (const c of calls) {
      const ipa = Number(BigInt(c.arg) & ~BigInt(granule - 1));
      if (c.result !== '0' && c.fn !== 'INFO') {
        anomalies.push({
          code: 'hypercallError',
          severity: 'warning',
          message: `MMIO_GUARD_${c.fn}(${c.arg}) returned ${c.result}`,
          ipa: c.arg,
        });
      }
      if (c.fn === 'MAP' && c.result === '0') {
        if (mappedByLog.has(ipa))
          anomalies.push({
            code: 'doubleMap',
            severity: 'warning',
            message: `MMIO_GUARD_MAP of ${formatAddress(ipa)} while already mapped`,
            ipa: hex(ipa),
          });
        for (const p of pagesOf(ipa)) {
          mappedByLog.add(p);
          unmappedByLog.delete(p);
        }
      } else if (c.fn === 'UNMAP' && c.result === '0') {
        if (!mappedByLog.has(ipa) && logCount <= 64)
          anomalies.push({
            code: 'unmapNotMapped',
            severity: 'warning',
            message: `MMIO_GUARD_UNMAP of ${formatAddress(ipa)} which was not mapped`,
            ipa: hex(ipa),
          });
        for (const p of pagesOf(ipa)) {
          mappedByLog.delete(p);
          unmappedByLog.add(p);
        }
      }
    }
    const useS2 = stage2 !== undefined;
    const lazyBit = this.input.lazyBit;
    const regions: GuardRegion[] = [];
    const totals = zeroCounts();
    for (const r of await this.trackedRanges(el1)) {
      const s1At = cursor(s1);
      const s2At = cursor(s2);
      const runs: PageRun[] = [];
      const counts = zeroCounts();
      const add = (start: number, pages: number, state: PageGuardState) => {
        counts[state] += pages;
        const last = runs[runs.length - 1];
        if (last && last.state === state && BigInt(last.start) + BigInt(last.pages * PAGE) === BigInt(start))
          last.pages += pages;
        else runs.push({ start: hex(start), pages, state });
      };
      const end = Number(r.end);
      let p = Number(r.start - (r.start % BigInt(PAGE)));
      while (p < end) {
        const l1 = s1At(p);
        const l2 = useS2 ? s2At(p) : undefined;
        // The span over which both leaves stay the same.
        let segEnd = end;
        if (l1) segEnd = Math.min(segEnd, l1.vaNum + l1.size);
        else {
          const nxt = s1.find((l) => l.vaNum > p);
          if (nxt) segEnd = Math.min(segEnd, nxt.vaNum);
        }
        if (l2) segEnd = Math.min(segEnd, l2.vaNum + l2.size);
        // Guard-mapped at stage 2: a guard entry (valid device page or pKVM's annotation), or before
        // ENROLL anything valid (MMIO passes through).
        const guardedS2 =
          l2 !== undefined && (isStage2Guard(l2) || (l2.valid && (l2.level === 3 || !enrolled)));
        const lazy = l1 !== undefined && !l1.valid && l1.bit(lazyBit);
        const valid = l1 !== undefined && l1.valid;
        const pages = Math.max(1, Math.floor((segEnd - p) / PAGE));
        if (lazy) add(p, pages, (useS2 ? guardedS2 : false) ? 'guardMappedPending' : 'lazy');
        else if (valid) {
          for (let k = 0; k < pages; k++) {
            const pg = p + k * PAGE;
            const guarded = useS2 ? guardedS2 : mappedByLog.has(pg);
            add(
              pg,
              1,
              guarded
                ? 'guardMapped'
                : unmappedByLog.has(pg)
                  ? 'unmapped'
                  : enrolled
                    ? 'validUnguarded'
                    : 'guardMapped',
            );
          }
        } else add(p, pages, 'anomaly');
        if (valid && l1 && l1.level < 3 && l1.bit(lazyBit)) {
          anomalies.push({
            code: 'lazyNotPage',
            severity: 'error',
            message: `valid lazy-flagged L${l1.level} block at ${formatAddress(l1.vaNum)} (${l1.size / 1024} KiB): mmio_unmap_all asserts it was broken down to 4 KiB pages ("Failed to break down block mapping before MMIO guard mapping")`,
            regime: 'TTBR0_EL1',
            va: hex(l1.vaNum),
            descriptorAddress: hex(l1.descAddrNum),
          });
        }
        p += pages * PAGE;
      }
      for (const run of runs) {
        if (run.state === 'validUnguarded') {
          anomalies.push({
            code: 'validUnguarded',
            severity: 'error',
            message: `${run.start} (${run.pages} page${run.pages > 1 ? 's' : ''}) valid in stage 1 but never MMIO_GUARD_MAPped: an access gets a synchronous external abort`,
            va: run.start,
            ipa: run.start,
          });
        }
      }
      for (const k of Object.keys(counts) as PageGuardState[]) totals[k] += counts[k];
      regions.push({
        ...(r.name ? { name: r.name } : {}),
        start: hex(r.start),
        end: hex(r.end),
        pageCount: Number((r.end - r.start + 4095n) / 4096n),
        runs,
        counts,
      });
    }
    // A broken table (cycle, bad pointer, unreadable) breaks every answer below it: say so first.
    for (const d of el1.diagnostics) {
      if (anomalies.length >= MAX_ANOMALIES) break;
      anomalies.push({
        code: 'walkError',
        severity: 'error',
        message: d.message,
        regime: d.base,
        va: hex(d.va),
        ...(d.descAddr !== undefined ? { descriptorAddress: hex(d.descAddr) } : {}),
      });
    }
    // Leaves pvmfw's Descriptor::flags() would reject, and the lazy flag on normal memory: pvmfw's
    // rules, checked only on a firmware that has pvmfw's memory tracker (not on, say, a kernel).
    const pvmfw = this.sym('mmio_regions') !== undefined || regions.length > 0;
    for (const t of pvmfw ? el1.tables : []) {
      if (anomalies.length >= MAX_ANOMALIES) break;
      if (t.parentDesc === undefined || t.base !== 'TTBR0_EL1') continue;
      const message = unsupportedTableDescriptor(t.parentDesc, firmware.generation);
      if (message)
        anomalies.push({
          code: 'unsupportedFlags',
          severity: 'warning',
          message,
          regime: 'TTBR0_EL1',
          va: hex(t.vaStart),
          ...(t.parentDescAddr !== undefined ? { descriptorAddress: hex(t.parentDescAddr) } : {}),
        });
    }
    for (const l of pvmfw ? s1 : []) {
      if (anomalies.length >= MAX_ANOMALIES) break;
      if (hasUnsupportedBits(l.lo, l.hi, firmware.generation)) {
        anomalies.push({
          code: 'unsupportedFlags',
          severity: 'error',
          message: `L${l.level} entry ${formatDescriptor(l.desc)} at ${formatAddress(l.vaNum)} has bits outside ${pagingCrate(firmware.generation)}'s Attributes: pvmfw panics "Unsupported PTE flags set"`,
          regime: 'TTBR0_EL1',
          va: hex(l.vaNum),
          descriptorAddress: hex(l.descAddrNum),
        });
      }
      if (l.bit(lazyBit) && l.memType.kind === 'normal') {
        anomalies.push({
          code: 'lazyOnNormalMemory',
          severity: 'error',
          message: `MMIO_LAZY_MAP_FLAG on a normal-memory ${l.valid ? 'valid' : 'invalid'} entry at ${formatAddress(l.vaNum)} (${l.memType.name}): a fault there would MMIO_GUARD_MAP RAM`,
          regime: 'TTBR0_EL1',
          va: hex(l.vaNum),
          descriptorAddress: hex(l.descAddrNum),
        });
      }
    }
    const done = this.sym('scenario_done');
    const pc = this.input.pc;
    if (done !== undefined && pc !== undefined && pc >= done && pc < done + 0x20n) {
      // Tracked regions only: the console is mapped eagerly and stays guard-mapped by design.
      const leaked = regions.flatMap((r) => r.runs).filter((x) => x.state === 'guardMapped');
      for (const x of leaked) {
        anomalies.push({
          code: 'guardLeak',
          severity: 'warning',
          message: `${x.start} (${x.pages} page${x.pages > 1 ? 's' : ''}) still MMIO_GUARD_MAPped at scenario_done: mmio_unmap_all did not run`,
          ipa: x.start,
        });
      }
    }
    return {
      available: typeof log !== 'string',
      ...(typeof log === 'string' ? { reason: log } : {}),
      enrolled,
      ...(info ? { granule: Number(info.result) } : {}),
      firmware,
      log: calls,
      logCount,
      regions,
      untracked: untrackedGuardMapped(regions, useS2 ? s2 : undefined, mappedByLog),
      anomalies,
      counts: totals,
    };
  }
}

/**
 * Guard-mapped pages outside the tracked regions: stage 2's guard entries (a valid device page per
 * granule, or pKVM's annotated invalid entry), as 4 KiB pages, else the log's MAPs not undone.
 */
function untrackedGuardMapped(
  regions: readonly GuardRegion[],
  s2: readonly Leaf[] | undefined,
  mappedByLog: ReadonlySet<number>,
): PageRun[] {
  const tracked = (page: number) =>
    regions.some((r) => BigInt(page) >= BigInt(r.start) && BigInt(page) < BigInt(r.end));
  const pages = s2
    ? s2
        .filter(isStage2Guard)
        .flatMap((l) => Array.from({ length: l.size / PAGE }, (_, k) => l.vaNum + k * PAGE))
    : [...mappedByLog].sort((a, b) => a - b);
  const runs: PageRun[] = [];
  for (const p of pages) {
    if (tracked(p)) continue;
    const last = runs[runs.length - 1];
    if (last && Number(BigInt(last.start)) + last.pages * PAGE === p) last.pages++;
    else runs.push({ start: hex(p), pages: 1, state: 'guardMapped' });
  }
  return runs;
}

/** Adds the guard state and anomalies of a stage-1 entry (tree tooltips, pte command). */
export function annotateEntry(e: PteEntry, snap: GuardState): void {
  if (e.regime !== 'TTBR0_EL1') return;
  const run = runAt(snap.regions, BigInt(e.vaStart));
  if (run && e.size <= PAGE) e.guard = run.state;
  else if (run && e.kind === 'lazy') e.guard = 'lazy';
  const mine = snap.anomalies.filter(
    (a) =>
      a.descriptorAddress === e.descriptorAddress ||
      (a.va !== undefined && e.size <= PAGE && a.va === e.vaStart),
  );
  if (mine.length) e.anomalies = mine;
}

export function guardSummaryLines(b: GuardStateResponseBody): string[] {
  const lines = [
    `MMIO guard: ${b.available ? (b.enrolled ? 'enrolled' : 'not enrolled') : `log unavailable (${b.reason ?? '?'})`}${b.granule ? `, granule ${b.granule}` : ''}`,
  ];
  for (const r of b.regions) {
    const c = Object.entries(r.counts)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${formatPageState(k as PageGuardState)} ${formatCount(n)}`)
      .join(' · ');
    // As the MMIO Guard panel heads a region: name, first–last, pages, then the count of each state.
    lines.push(`  ${r.name ?? 'region'} ${formatRange(r.start, r.end)} · ${formatPages(r.pageCount)} · ${c}`);
  }
  const untracked = b.untracked.map(
    (x) => `${formatAddress(x.start)}${x.pages > 1 ? ` (${formatPages(x.pages)})` : ''}`,
  );
  lines.push(`  guard-mapped outside the tracked regions: ${untracked.join(', ') || 'none'}`);
  const recent = b.log.slice(-8);
  if (recent.length)
    lines.push(
      `  last calls: ${recent.map((c) => `#${c.seq} ${c.fn}${c.fn === 'MAP' || c.fn === 'UNMAP' ? `(${formatAddress(c.arg)})` : ''}=${c.result}`).join(', ')}`,
    );
  for (const a of b.anomalies) lines.push(`  anomaly ${a.code}: ${a.message}`);
  return lines;
}

const inRun = (x: PageRun, a: bigint) => a >= BigInt(x.start) && a < BigInt(x.start) + BigInt(x.pages * PAGE);

/** The run of a tracked region that holds `address`. */
function runAt(regions: readonly GuardRegion[], address: bigint): PageRun | undefined {
  for (const r of regions) {
    if (address < BigInt(r.start) || address >= BigInt(r.end)) continue;
    const run = r.runs.find((x) => inRun(x, address));
    if (run) return run;
  }
  return undefined;
}

/** The guard state of one page: its tracked region's run, or guardMapped outside the regions. */
export function pageStateAt(snap: GuardState, page: bigint): PageGuardState | undefined {
  const run = runAt(snap.regions, page);
  if (run) return run.state;
  return snap.untracked.some((x) => inRun(x, page)) ? 'guardMapped' : undefined;
}

/** Whether `page` is MMIO_GUARD_MAPped while its stage-1 entry is still lazy (inside the handler). */
export function isGuardMappedPending(snap: GuardState, page: bigint): boolean {
  return runAt(snap.regions, page)?.state === 'guardMappedPending';
}
