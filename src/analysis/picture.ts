// The picture of one stop, computed once and asked everything: regimes and their walks, the table
// words (for diffs and listings), the MMIO-guard state, the fault and its verdict. The adapter, the
// CLI, the benchmarks and snapshots all build it with analyzeStop(), and the summary of what changed
// since the previous stop with stopSummary(), so the same question never gets two answers.
import { findLeaf, stage2Reader } from '../aarch64/ipa';
import type { PhysReader } from '../aarch64/reader';
import { regimeVaBits } from '../aarch64/format';
import { regimeFromRegisters, type RegimeConfig, type WalkRoot } from '../aarch64/regime';
import { walk, type WalkResult } from '../aarch64/walk';
import type {
  Anomaly,
  FaultInfo,
  GuardCall,
  GuardStateArguments,
  GuardStateResponseBody,
  MmuChangedEventBody,
  PteChange,
  RegimeInfo,
} from '../shared/protocol';
import { chooseProfiles, profileById } from '../profiles/choose';
import type { RegimeProfiles } from '../profiles/types';
import { diffTables, type TableSnapshot } from './diff';
import { faultInfo } from './fault';
import { guardState, noGuardState, type GuardState } from './guardState';
import type { StopInput } from './input';
import { hex, regimeInfo } from './pte';
import type { WalkSlot } from './walkReuse';

export interface RegimeWalk {
  readonly config: RegimeConfig;
  readonly result: WalkResult;
  /**
   * How this regime's tables are read: physically, or (EL1&0 under an enabled stage 2) at their
   * IPAs through the stage-2 walk, as the hardware reads them.
   */
  readonly reader: PhysReader;
}

export interface StopPicture {
  readonly input: StopInput;
  readonly el1: RegimeWalk;
  /** The stage-2 walk, when HCR_EL2.VM enables stage 2 at this stop. */
  readonly stage2?: RegimeWalk;
  /** The EL2 stage-1 walk (TTBR0_EL2), when SCTLR_EL2.M enables it: a hypervisor's own tables. */
  readonly el2?: RegimeWalk;
  /** What the software bits of each regime mean (pvmfw, linux, pkvm-…), and why. */
  readonly profiles: RegimeProfiles;
  /** Every table both walks read, by physical address, as little-endian u32 pairs. */
  readonly tables: ReadonlyMap<number, TableSnapshot>;
  readonly guard: GuardState;
  /** The last exception the registers record (ESR/FAR), with its walk and pvmfw's verdict. */
  readonly fault?: FaultInfo;
  /** Whether the stop is about that fault (an exception stop, or a PC inside the vector table). */
  readonly atFault: boolean;
  /** Time the analysis took, in ms. */
  readonly computeMs: number;
}

/** A table's bytes as u32 words, without a copy when the bytes are aligned. */
export function toWords(b: Uint8Array): Uint32Array {
  return b.byteOffset % 4 === 0
    ? new Uint32Array(b.buffer, b.byteOffset, b.length >> 2)
    : new Uint32Array(b.slice().buffer);
}

function inVector(r: StopInput['registers']): boolean {
  const pc = r.pc;
  const vbar = r.VBAR_EL1;
  return pc !== undefined && vbar !== undefined && vbar !== 0n && pc >= vbar && pc < vbar + 0x800n;
}

/** The profiles of a stop's regimes, chosen from its registers and the program's symbols. */
function stopProfiles(input: StopInput): RegimeProfiles {
  return chooseProfiles(
    {
      registers: input.registers,
      // A symbol table with no symbols (a snapshot taken without a program) is no program.
      ...(input.symbols && input.symbols.count !== 0
        ? { symbol: (n: string) => input.symbols?.address(n) }
        : {}),
      guardLogSymbol: input.options.guardLogSymbol,
    },
    input.options.profile,
  );
}

/** The words of every table the walks read, from the walks' own table pages. */
function tableSnapshots(walks: readonly (RegimeWalk | undefined)[]): Map<number, TableSnapshot> {
  const tables = new Map<number, TableSnapshot>();
  for (const w of walks) {
    if (!w) continue;
    const byPa = new Map(w.result.tables.filter((t) => t.read).map((t) => [Number(t.pa), t]));
    const pages = w.result.store.pages;
    for (let k = 0; k < pages.count; k++) {
      const info = byPa.get(pages.pa[k]);
      const root = info && w.result.roots.find((r) => r.base === info.base);
      if (!info || !root) continue;
      const words = pages.data[k].subarray(0, info.entries * 2);
      tables.set(pages.pa[k], { info, fmt: root.fmt, regime: w.config, words });
    }
  }
  return tables;
}

const notPvmfw = (profile: string) =>
  noGuardState(`pvmfw's MMIO guard does not apply: the EL1 regime has the ${profile} profile`);

/**
 * The picture of one EL1 stage-1 root table alone: enough for its listing (pageTable of the root),
 * which the tree asks for at once, before a big guest's whole walk is done (W3: 4,096 tables, 50-100
 * ms). Its root entries are what analyzeStop's picture lists: a root entry inherits no limits from a
 * table above, its profile is chosen the same way. Undefined where the listing needs the whole walk:
 * under an enabled stage 2 (final PAs come from the stage-2 walk) and under a profile with pvmfw's
 * MMIO guard (entries carry the guard state, built from every leaf).
 */
export async function rootPicture(
  input: StopInput,
  base: 'TTBR0_EL1' | 'TTBR1_EL1',
): Promise<StopPicture | undefined> {
  const t0 = performance.now();
  const { reader, options } = input;
  if (input.registers.VTTBR_EL2 !== undefined && regimeFromRegisters('stage2', input.registers).mmuEnabled)
    return undefined;
  const profiles = stopProfiles(input);
  if (profileById(profiles.el1.profile).lazyMmio) return undefined;
  const config = regimeFromRegisters('el1', input.registers);
  // The root table and at most one 64 KiB table's worth below it: the walk stops at its table cap.
  const result = await walk(config, reader, {
    ...(options.ram ? { ram: options.ram } : {}),
    roots: [base],
    maxTables: 16,
  });
  const el1: RegimeWalk = { config, result, reader };
  return {
    input,
    el1,
    profiles,
    tables: tableSnapshots([el1]),
    guard: notPvmfw(profiles.el1.profile),
    atFault: false,
    computeMs: Math.round((performance.now() - t0) * 100) / 100,
  };
}

export async function analyzeStop(input: StopInput): Promise<StopPicture> {
  const t0 = performance.now();
  const { reader, options } = input;
  const opts = { ...(options.ram ? { ram: options.ram } : {}), maxTables: options.maxTables };
  // The last stop's walk of a regime when nothing it read has changed (input.reuse), else a walk.
  const walkOf = async (slot: WalkSlot, c: RegimeConfig, r: PhysReader): Promise<WalkResult> => {
    const result = (await input.reuse?.take(slot, c, r, opts)) ?? (await walk(c, r, opts));
    input.reuse?.keep(slot, c, opts, result);
    return result;
  };
  const profiles = stopProfiles(input);
  let stage2: RegimeWalk | undefined;
  if (input.registers.VTTBR_EL2 !== undefined) {
    const c = regimeFromRegisters('stage2', input.registers);
    if (c.mmuEnabled) stage2 = { config: c, result: await walkOf('stage2', c, reader), reader };
  }
  let el2: RegimeWalk | undefined;
  if (input.registers.TTBR0_EL2 !== undefined) {
    const c = regimeFromRegisters('el2', input.registers);
    if (c.roots.some((r) => r.enabled)) el2 = { config: c, result: await walkOf('el2', c, reader), reader };
  }
  const el1Config = regimeFromRegisters('el1', input.registers);
  // pKVM maps the host's stage 2 lazily, one to one, on the host's first access: a host table at an
  // IPA stage 2 maps nothing yet (a zero entry, owner host) is read where pKVM will put it, PA = IPA.
  // An entry annotated with another owner (hyp) stays unreadable, as the host's access would fault.
  const idmap =
    stage2 && profiles.stage2.profile === 'pkvm-host-s2'
      ? (ipa: bigint) => (findLeaf(stage2.result.store, Number(ipa)) < 0 ? ipa : undefined)
      : undefined;
  const el1Reader = stage2 ? stage2Reader(reader, stage2.result.store, idmap) : reader;
  const el1: RegimeWalk = {
    config: el1Config,
    result: await walkOf('el1', el1Config, el1Reader),
    reader: el1Reader,
  };
  // The words of every table the walks read, from the walks' own table pages: reading them again
  // would cost the CLI a second pass over the gdbstub (2 MB for a kernel).
  const tables = tableSnapshots([el1, stage2, el2]);
  // pvmfw's MMIO guard, its invariants and its fault verdict apply only where its profile does: a
  // Linux kernel's bit 55 is PTE_DIRTY, not MMIO_LAZY_MAP_FLAG.
  const pvmfw = profileById(profiles.el1.profile).lazyMmio;
  const guard = pvmfw
    ? await guardState(
        {
          reader,
          ...(input.symbols ? { symbols: input.symbols } : {}),
          lazyBit: options.lazyBit,
          guardLogSymbol: options.guardLogSymbol,
          ...(input.registers.pc !== undefined ? { pc: input.registers.pc } : {}),
        },
        el1.result,
        stage2?.result,
      )
    : notPvmfw(profiles.el1.profile);
  const atFault = input.reason === 'exception' || inVector(input.registers);
  const found = await faultInfo({
    atFault,
    registers: input.registers,
    reader: el1Reader,
    ...(input.symbols ? { symbols: input.symbols } : {}),
    lazyBit: options.lazyBit,
    el1: el1Config,
    guard,
    ...(stage2
      ? { stage2: { config: stage2.config, profile: profileById(profiles.stage2.profile, options.lazyBit) } }
      : {}),
  });
  const fault = found && !pvmfw ? withoutPvmfwVerdict(found, profiles.el1.profile) : found;
  return {
    input,
    el1,
    ...(stage2 ? { stage2 } : {}),
    ...(el2 ? { el2 } : {}),
    profiles,
    tables,
    guard,
    ...(fault ? { fault } : {}),
    atFault,
    computeMs: Math.round((performance.now() - t0) * 100) / 100,
  };
}

/** A fault under a profile other than pvmfw's: the exception as decoded, no handler verdict. */
function withoutPvmfwVerdict(f: FaultInfo, profile: string): FaultInfo {
  const what = f.esr.fscName ? `${f.esr.ecName}: ${f.esr.fscName}` : f.esr.ecName;
  return {
    ...f,
    verdict: {
      kind: 'other',
      summary: `${what} at ${f.far} (the ${profile} profile: pvmfw's handler verdict does not apply)`,
    },
  };
}

/** The regimes of a stop as listed to users (a stage-1 root under SCTLR_EL1.M = 0 is off). */
export function regimeInfos(p: StopPicture): RegimeInfo[] {
  const roots: WalkRoot[] = [
    ...p.el1.config.roots,
    ...(p.stage2?.config.roots ?? []),
    ...(p.el2?.config.roots ?? []),
  ];
  const profileOf = (b: WalkRoot['base']) =>
    p.profiles[b === 'VTTBR_EL2' ? 'stage2' : b === 'TTBR0_EL2' ? 'el2' : 'el1'];
  return roots.map((r) => {
    const pr = profileOf(r.base);
    const info = { ...regimeInfo(r), profile: pr.profile, profileEvidence: pr.evidence };
    if (r.base !== 'VTTBR_EL2' && r.base !== 'TTBR0_EL2' && !p.el1.config.mmuEnabled && info.enabled) {
      return { ...info, enabled: false, reason: 'SCTLR_EL1.M = 0: stage-1 MMU off' };
    }
    return info;
  });
}

const anomalyKey = (a: Anomaly) => `${a.code}:${a.va ?? a.ipa ?? a.message}`;

/** What changed between two pictures: table entries, anomalies that are new, guard calls made since. */
/** What a diff needs of the earlier stop: its tables and guard state (not its leaves). */
export type PictureForDiff = Pick<StopPicture, 'tables' | 'guard'>;

export function diffPictures(
  prev: PictureForDiff | undefined,
  next: StopPicture,
): { changes: PteChange[]; newAnomalies: Anomaly[]; newGuardCalls: GuardCall[] } {
  const lazyBit = profileById(next.profiles.el1.profile).lazyMmio ? next.input.options.lazyBit : undefined;
  const changes = prev ? diffTables(prev.tables, next.tables, lazyBit) : [];
  const before = new Set(prev?.guard.anomalies.map(anomalyKey) ?? []);
  const newAnomalies = next.guard.anomalies.filter((a) => !before.has(anomalyKey(a)));
  const since = prev?.guard.logCount ?? 0;
  const newGuardCalls = next.guard.log.filter((c) => c.seq > since);
  return { changes, newAnomalies, newGuardCalls };
}

/** The summary of a stop for views (the adapter's mmuChanged event): the picture and its diff. */
export function stopSummary(prev: PictureForDiff | undefined, next: StopPicture): MmuChangedEventBody {
  const d = diffPictures(prev, next);
  const r = next.input.registers;
  return {
    stopId: next.input.stopId,
    reason: next.input.reason,
    threadId: next.input.threadId,
    pc: hex(r.pc ?? 0n),
    changes: d.changes,
    newAnomalies: d.newAnomalies,
    newGuardCalls: d.newGuardCalls,
    regimes: regimeInfos(next),
    vaBits: regimeVaBits(next.el1.config),
    ...(next.fault && next.atFault ? { fault: next.fault } : {}),
    guardCounts: next.guard.counts,
    computeMs: next.computeMs,
  };
}

/** The guard state of a picture as reported: the adapter's guardState response and the CLI's `guard --json`. */
export function guardReport(p: StopPicture, args: GuardStateArguments = {}): GuardStateResponseBody {
  const g = p.guard;
  return {
    available: g.available,
    ...(g.reason ? { reason: g.reason } : {}),
    enrolled: g.enrolled,
    ...(g.granule !== undefined ? { granule: g.granule } : {}),
    regions: g.regions,
    untracked: g.untracked,
    log: args.omitLog ? [] : g.log,
    anomalies: g.anomalies,
    ...(g.firmware ? { firmware: { ...g.firmware } } : {}),
    ...(p.fault ? { fault: p.fault } : {}),
    stopId: p.input.stopId,
  };
}
