// One address through EL1&0 with stage 2 on (HCR_EL2.VM = 1): VA -> IPA by the stage-1 tables, IPA
// -> PA by the stage-2 tables, as the hardware does it. The stage-1 tables sit at IPAs too, so every
// stage-1 descriptor fetch is itself translated by stage 2 first; an IPA stage 2 does not map there
// is a stage-2 fault on the stage-1 walk (S1PTW), reported with the stage-2 level and the stage-1
// level whose table it was. Without stage 2 this is the stage-1 translation, unchanged.

import { combineMemAttrs, combinePerms } from './combine';
import type { MemoryType } from './mair';
import type { PhysRange, PhysReader } from './reader';
import { regimeFromRegisters, type RegimeConfig, type Registers } from './regime';
import { type Access, translate, type TranslateFaultKind, type Translation } from './translate';
import { formatAddress } from '../shared/format';

export interface TwoStageFault {
  /** The stage whose tables refused the access. */
  readonly stage: 1 | 2;
  readonly kind: TranslateFaultKind;
  /** The level of that stage's walk where it faulted. */
  readonly level: number;
  /** The IPA stage 2 was translating (stage-2 faults). */
  readonly ipa?: bigint;
  /**
   * A stage-2 fault on a stage-1 descriptor fetch (S1PTW): the stage-1 level and the IPA of its
   * table (`ipa` is the descriptor's).
   */
  readonly s1ptw?: { readonly level: number; readonly tableIpa: bigint };
  /** "stage-2 translation fault, level 2 (IPA 0x9010000)". */
  readonly message: string;
}

export interface TwoStageTranslation {
  readonly va: bigint;
  /** Whether stage 2 applies (EL1&0 under HCR_EL2.VM = 1). */
  readonly twoStage: boolean;
  /** VA -> IPA (VA -> PA without stage 2). Under stage 2 its descriptor addresses are IPAs. */
  readonly stage1: Translation;
  /**
   * Under stage 2: each stage-1 descriptor's IPA through stage 2, parallel to stage1.steps (where
   * one is missing the fetch was not made).
   */
  readonly tableWalks?: readonly (Translation | undefined)[];
  /**
   * Under stage 2: the stage-2 walk of the stage-1 output (or of the IPA a lazy invalid leaf names),
   * or, on an S1PTW fault, of the table IPA that did not translate.
   */
  readonly stage2?: Translation;
  /** Under stage 2: the stage-1 output address (or the IPA an invalid leaf names). */
  readonly ipa?: bigint;
  /** The final physical address, when both stages translate. */
  readonly pa?: bigint;
  /** The PA stage 2 maps `ipa` to, even when stage 1 faults (a lazy leaf's IPA). */
  readonly ipaPa?: bigint;
  readonly fault?: TwoStageFault;
  /** The combined memory type (stage 1's alone without stage 2). */
  readonly memType?: MemoryType;
  /** The combined permissions, P_* bits of the EL1&0 model (stage 1's alone without stage 2). */
  readonly perms?: number;
}

/** An IPA as every view writes it (src/shared/format). */
const h = (v: bigint): string => formatAddress(v);

function faultName(kind: TranslateFaultKind): string {
  switch (kind) {
    case 'translation':
      return 'translation fault';
    case 'addressSize':
      return 'address size fault';
    case 'accessFlag':
      return 'access flag fault';
    case 'permission':
      return 'permission fault';
    case 'unreadable':
      return 'synchronous external abort on the table walk';
    default:
      return 'no translation';
  }
}

function stage2Fault(
  t2: Translation,
  ipa: bigint,
  s1ptw?: { level: number; tableIpa: bigint },
): TwoStageFault {
  const f = t2.fault!;
  const head =
    f.kind === 'unknown' || f.kind === 'disabled'
      ? `stage 2: ${f.message}`
      : `stage-2 ${faultName(f.kind)}, level ${f.level}`;
  return {
    stage: 2,
    kind: f.kind,
    level: f.level,
    ipa,
    ...(s1ptw ? { s1ptw } : {}),
    message: s1ptw
      ? `${head}, on the stage-1 table walk (S1PTW): level-${s1ptw.level} descriptor at IPA ${h(ipa)}`
      : `${head} (IPA ${h(ipa)})`,
  };
}

/**
 * Stage-2 access for a data or instruction access: stage 2 has one read and one write permission
 * for both ELs (effectivePerms reports them as P_R1/P_W1) and execute permissions per EL.
 */
function stage2Access(a: Access): Access {
  return {
    ...(a.write ? { write: true } : {}),
    ...(a.exec ? { exec: true, ...(a.el0 ? { el0: true } : {}) } : {}),
  };
}

/** The stage-1 MAIR byte of a leaf's AttrIndx, from the regime's MAIR register. */
function s1AttrByte(regime: RegimeConfig, attrIndx: number): number | undefined {
  const mair = regime.registers[regime.kind === 'el2' ? 'MAIR_EL2' : 'MAIR_EL1'];
  return mair === undefined ? undefined : Number((mair >> BigInt(8 * attrIndx)) & 0xffn);
}

/**
 * The stage-2 regime when it applies to EL1&0 at this stop: HCR_EL2.VM = 1. Undefined when VM = 0
 * or when HCR_EL2 could not be read (no EL2 registers: a guest without virtualization), as the
 * picture decides it. A VM = 1 whose VTTBR_EL2 or VTCR_EL2 is unreadable still applies: its
 * translation is then unknown, not single-stage.
 */
export function stage2For(registers: Registers): RegimeConfig | undefined {
  const c = regimeFromRegisters('stage2', registers);
  return c.mmuEnabled === true ? c : undefined;
}

/**
 * Translates `va` through `s1` and, when `s2` is given (stage 2 applies to this regime), through
 * `s2` too. `reader` reads physical memory: stage-1 table fetches are translated by stage 2 here.
 */
export async function translateTwoStage(
  s1: RegimeConfig,
  s2: RegimeConfig | undefined,
  reader: PhysReader,
  va: bigint,
  access: Access = {},
): Promise<TwoStageTranslation> {
  if (!s2) {
    const t = await translate(s1, reader, va, access);
    return {
      va: t.va,
      twoStage: false,
      stage1: t,
      ...(t.pa !== undefined ? { pa: t.pa } : {}),
      ...(t.fault
        ? { fault: { stage: 1, kind: t.fault.kind, level: t.fault.level, message: t.fault.message } }
        : {}),
      ...(t.memType ? { memType: t.memType } : {}),
      ...(t.perms !== undefined ? { perms: t.perms } : {}),
    };
  }
  // Stage-1 descriptor fetches: each IPA through stage 2 (a read: S1PTW needs read permission at
  // stage 2), then read at the PA. The stage-2 walk of each fetch is kept for the trace.
  const walks = new Map<bigint, Translation>();
  let refused: { ipa: bigint; t2: Translation } | undefined;
  const s1Reader: PhysReader = {
    ...(reader.maxBatch !== undefined ? { maxBatch: reader.maxBatch } : {}),
    async read(ranges: readonly PhysRange[]): Promise<(Uint8Array | Error)[]> {
      const out: (Uint8Array | Error)[] = [];
      for (const r of ranges) {
        const t2 = await translate(s2, reader, r.address);
        walks.set(r.address, t2);
        if (t2.pa === undefined) {
          refused = { ipa: r.address, t2 };
          out.push(new Error(`IPA ${h(r.address)} does not translate at stage 2`));
          continue;
        }
        const [b] = await reader.read([{ address: t2.pa, length: r.length }]);
        out.push(b ?? new Error('reader returned too few results'));
      }
      return out;
    },
  };
  const t1 = await translate(s1, s1Reader, va, access);
  const tableWalks = t1.steps.map((s) => walks.get(s.descAddr));
  const base = { va: t1.va, twoStage: true, stage1: t1, tableWalks };
  const last = t1.steps[t1.steps.length - 1];
  if (t1.fault?.kind === 'unreadable' && refused && last && last.descAddr === refused.ipa) {
    // The descriptor fetch of this level faulted at stage 2: the table holding it is the level's.
    return {
      ...base,
      stage2: refused.t2,
      fault: stage2Fault(refused.t2, refused.ipa, { level: last.level, tableIpa: last.table }),
    };
  }
  const ipa = t1.pa ?? t1.shadowPa;
  // Stage 1 faults first: its output is only translated by stage 2 once stage 1 permits the access.
  // The IPA a faulting leaf names (a lazy MMIO page) is still looked up, to show where it would go.
  const t2 = ipa !== undefined ? await translate(s2, reader, ipa, stage2Access(access)) : undefined;
  const out = {
    ...base,
    ...(t2 ? { stage2: t2 } : {}),
    ...(ipa !== undefined ? { ipa } : {}),
    ...(t2?.pa !== undefined ? { ipaPa: t2.pa } : {}),
  };
  if (t1.fault)
    return {
      ...out,
      fault: { stage: 1, kind: t1.fault.kind, level: t1.fault.level, message: t1.fault.message },
    };
  // Stage 1 translated; the attributes of both leaves combine whether or not stage 2 permits this
  // access (a permission fault still has a memory type to show).
  const leaf1 = t1.leaf;
  const leaf2 = t2?.leaf;
  let memType: MemoryType | undefined;
  let perms: number | undefined;
  if (leaf1?.stage === 1 && leaf2?.stage === 2 && !t2?.leafInvalid) {
    const a1 = s1AttrByte(s1, leaf1.attrIndx);
    memType =
      a1 === undefined
        ? { kind: 'reserved', name: 'MAIR unknown' }
        : combineMemAttrs(a1, leaf2.memAttr, s2.fwb).type;
    if (t1.perms !== undefined && t2?.perms !== undefined) perms = combinePerms(t1.perms, t2.perms);
  }
  const attrs = { ...(memType ? { memType } : {}), ...(perms !== undefined ? { perms } : {}) };
  if (!t2 || t2.pa === undefined || t2.fault)
    return { ...out, ...attrs, ...(t2?.fault ? { fault: stage2Fault(t2, ipa!) } : {}) };
  return { ...out, ...attrs, pa: t2.pa };
}
