// Everything that changed between two stops' pictures, for `pvmfw-mmu diff A B` (two snapshots) and
// any view that compares stops: registers, table entries with the fields that changed, MMIO-guard
// transitions per page run, tracked regions, anomalies new and resolved, and the guard calls made in
// between. Pure: built from two StopPictures with the functions the adapter's per-stop diff uses.
import { profileById } from '../profiles/choose';
import type { Anomaly, GuardCall, Hex, PageGuardState, PteChange, Regime } from '../shared/protocol';
import type { DescriptorFormat } from '../aarch64/granule';
import { guardTransitions, regionChanges, type GuardTransition } from './guardDiff';
import { STOP_REGISTERS } from './input';
import { diffPictures, type StopPicture } from './picture';
import { hex } from './pte';
import { changedFields } from './pteFields';
import type { GuardRegion } from '../shared/protocol';

export interface RegisterChange {
  name: string;
  /** Absent when the register was unreadable at that stop. */
  before?: Hex;
  after?: Hex;
}

export interface StopDiff {
  /** Registers of the analysis (STOP_REGISTERS) whose values differ, PC first. */
  registers: RegisterChange[];
  /** Table entries that changed, with `changedFields` where both values are known. */
  entries: PteChange[];
  /** How many entries of each kind (split, merged, becameValid, ...). */
  entryCounts: Partial<Record<PteChange['kind'], number>>;
  guard: {
    available: { before: boolean; after: boolean };
    enrolled: { before: boolean; after: boolean };
    transitions: GuardTransition[];
    regionsAdded: GuardRegion[];
    regionsRemoved: GuardRegion[];
    counts: { before: Record<PageGuardState, number>; after: Record<PageGuardState, number> };
    /** Calls the stub logged after the first stop's last one (by sequence number), oldest first. */
    calls: GuardCall[];
    /** Calls made in between that the second stop's log ring no longer holds (it wrapped). */
    callsLost: number;
    /**
     * The second stop's log holds fewer calls than the first's: not a later stop of the same run
     * (another boot, or the two in the wrong order), so `calls` means nothing.
     */
    logRestarted: boolean;
  };
  anomalies: { new: Anomaly[]; resolved: Anomaly[] };
}

/** The key diffPictures() compares anomalies by: what and where. */
const anomalyKey = (a: Anomaly) => `${a.code}:${a.va ?? a.ipa ?? a.message}`;

function formatOf(p: StopPicture, regime: Regime): DescriptorFormat | undefined {
  const w = regime === 'VTTBR_EL2' ? p.stage2 : p.el1;
  return w?.config.roots.find((r) => r.base === regime)?.fmt;
}

function registerChanges(a: StopPicture, b: StopPicture): RegisterChange[] {
  const names = ['pc', ...STOP_REGISTERS.filter((n) => n !== 'pc')];
  const out: RegisterChange[] = [];
  for (const name of names) {
    const x = a.input.registers[name];
    const y = b.input.registers[name];
    if (x === y) continue;
    out.push({
      name,
      ...(x !== undefined ? { before: hex(x) } : {}),
      ...(y !== undefined ? { after: hex(y) } : {}),
    });
  }
  return out;
}

/** What changed from stop `a` to stop `b` (b taken after a, in the same run, for the guard calls). */
export function diffStops(a: StopPicture, b: StopPicture): StopDiff {
  const d = diffPictures(a, b);
  // -1: no LAZY field where pvmfw's profile does not apply (bit 55 is PTE_DIRTY in Linux).
  const lazyBit = profileById(b.profiles.el1.profile).lazyMmio ? b.input.options.lazyBit : -1;
  const entries = d.changes.map((c): PteChange => {
    const fmt = formatOf(b, c.regime) ?? formatOf(a, c.regime);
    if (!fmt || c.before === undefined || c.after === undefined) return c;
    return { ...c, changedFields: changedFields(BigInt(c.before), BigInt(c.after), c.level, fmt, lazyBit) };
  });
  const entryCounts: StopDiff['entryCounts'] = {};
  for (const c of entries) entryCounts[c.kind] = (entryCounts[c.kind] ?? 0) + 1;
  const ga = a.guard;
  const gb = b.guard;
  const logRestarted = gb.logCount < ga.logCount;
  const calls = logRestarted ? [] : d.newGuardCalls;
  const firstKept = calls[0]?.seq ?? gb.logCount + 1;
  const callsLost = logRestarted ? 0 : Math.max(0, firstKept - (ga.logCount + 1));
  const still = new Set(gb.anomalies.map(anomalyKey));
  const regions = regionChanges(ga, gb);
  return {
    registers: registerChanges(a, b),
    entries,
    entryCounts,
    guard: {
      available: { before: ga.available, after: gb.available },
      enrolled: { before: ga.enrolled, after: gb.enrolled },
      transitions: guardTransitions(ga, gb),
      regionsAdded: regions.added,
      regionsRemoved: regions.removed,
      counts: { before: ga.counts, after: gb.counts },
      calls,
      callsLost,
      logRestarted,
    },
    anomalies: { new: d.newAnomalies, resolved: ga.anomalies.filter((x) => !still.has(anomalyKey(x))) },
  };
}
