// Translation regimes from register values: which base registers to walk, the granule, start level and
// input range of each, the descriptor format and the permission model (Arm ARM D8.1-D8.2).
//
// A register that could not be read is never taken as 0: an unreadable SCTLR_EL1 read as 0 says "MMU
// off", and every verdict after that is invented. Where the decision needs it, the roots are disabled
// as `unknown`, with a reason naming the register, and the regime's problems say the same.

import {
  type DescriptorFormat,
  type Granule,
  type OaForm,
  levelShift,
  minLevel,
  pageShift,
  rootEntries,
  startLevelFor,
} from './granule';
import { decodeMair, type MemoryType } from './mair';
import {
  decodeHcr,
  decodeSctlr,
  decodeTcrEl1,
  decodeTcrEl2,
  decodeVtcr,
  type Tcr,
  type TcrHalf,
} from './sysregs';

export type RegimeKind = 'el1' | 'el2' | 'stage2';
export type BaseRegister = 'TTBR0_EL1' | 'TTBR1_EL1' | 'TTBR0_EL2' | 'VTTBR_EL2';

/** Register values by architectural name. Lookups also try the AArch32 base name QEMU uses (SCTLR). */
export type Registers = Readonly<Record<string, bigint | undefined>>;

/** Which register names each regime reads (the CLI and snapshots fetch exactly these). */
export const REGIME_REGISTERS: Record<RegimeKind, readonly string[]> = {
  el1: ['TTBR0_EL1', 'TTBR1_EL1', 'TCR_EL1', 'MAIR_EL1', 'SCTLR_EL1'],
  el2: ['TTBR0_EL2', 'TCR_EL2', 'MAIR_EL2', 'SCTLR_EL2', 'HCR_EL2'],
  stage2: ['VTTBR_EL2', 'VTCR_EL2', 'HCR_EL2'],
};

/** The AArch32 base names some stubs (QEMU) use for EL1 system registers. */
const ALIASES: Record<string, string[]> = {
  SCTLR_EL1: ['SCTLR'],
  MAIR_EL1: ['MAIR'],
  TCR_EL1: ['TTBCR'],
  VBAR_EL1: ['VBAR'],
};

export function getRegister(regs: Registers, name: string): bigint | undefined {
  const v = regs[name];
  if (v !== undefined) return v;
  for (const a of ALIASES[name] ?? []) if (regs[a] !== undefined) return regs[a];
  return undefined;
}

/** Permission model: EL1&0 has two privilege levels, EL2 (E2H = 0) one, stage 2 S2AP/XN. */
export type PermModel = 'el1&0' | 'el2' | 'stage2';

/** One base register's walk: a root table and the input range it translates. */
export interface WalkRoot {
  readonly base: BaseRegister;
  readonly enabled: boolean;
  /** Why `enabled` is false ("TCR_EL1.EPD1 = 1"). */
  readonly reason?: string;
  /**
   * `enabled` is false only because a register the decision needs could not be read (`reason` names
   * it): whether and how this root translates is unknown, not off.
   */
  readonly unknown?: boolean;
  readonly ttbr: bigint;
  /** Descriptor format of this root's tables (TG1 may differ from TG0). */
  readonly fmt: DescriptorFormat;
  /** Root table physical address (BADDR, aligned to the root table size). */
  readonly root: bigint;
  readonly granule: Granule;
  readonly startLevel: number;
  readonly inputBits: number;
  /** Descriptors in the root table (more than one table's worth: concatenated stage-2 roots). */
  readonly rootEntries: number;
  /** First input address of the range (0, or 2^64 - 2^inputBits for TTBR1). */
  readonly vaStart: bigint;
  /** Last input address (inclusive). */
  readonly vaEnd: bigint;
  readonly asid?: number;
  readonly vmid?: number;
  /** Hierarchical permissions disabled (HPDx): table APTable/XNTable/PXNTable are ignored. */
  readonly hpd: boolean;
  readonly tbi: boolean;
}

export interface RegimeConfig {
  readonly kind: RegimeKind;
  readonly fmt: DescriptorFormat;
  readonly perm: PermModel;
  readonly roots: readonly WalkRoot[];
  readonly paBits: number;
  /** SCTLR.M (stage 1) / HCR_EL2.VM (stage 2); undefined when that register could not be read. */
  readonly mmuEnabled: boolean | undefined;
  readonly wxn: boolean;
  /** Hardware Access flag management: AF = 0 does not fault. */
  readonly ha: boolean;
  /** HCR_EL2.FWB (stage 2 MemAttr encoding). */
  readonly fwb: boolean;
  /** MAIR Attr0..7 decoded (stage 1); empty when MAIR could not be read (types show as unknown). */
  readonly mair: readonly MemoryType[];
  /** The registers read, by name. */
  readonly registers: Readonly<Record<string, bigint>>;
  /** Problems with the registers themselves (reserved TG, registers that could not be read). */
  readonly problems: readonly string[];
}

const M64 = (1n << 64n) - 1n;

/** TTBR/VTTBR BADDR: bits [47:1], plus [51:48] from bits [5:2] in the 52-bit forms; aligned to the root. */
function baddr(ttbr: bigint, oa: OaForm, rootBytes: number): bigint {
  let a = ttbr & 0x0000_ffff_ffff_fffen;
  if (oa !== 'pa48') a = (a & ~0x3cn) | (((ttbr >> 2n) & 0xfn) << 48n);
  const align = BigInt(Math.max(rootBytes, oa === 'pa48' ? 8 : 64));
  return a & ~(align - 1n);
}

function oaForm(g: Granule, ds: boolean, paBits: number): OaForm {
  if (g === 64) return paBits >= 52 ? 'lpa' : 'pa48';
  return ds ? 'lpa2' : 'pa48';
}

/** Why a root cannot be walked: `unknown` when a register it depends on could not be read. */
interface Blocked {
  readonly reason: string;
  readonly unknown: boolean;
}

const unknownBecause = (reason: string): Blocked => ({ reason, unknown: true });
const disabledBecause = (reason: string | undefined): Blocked | undefined =>
  reason === undefined ? undefined : { reason, unknown: false };

function stage1Root(
  base: BaseRegister,
  ttbr: bigint | undefined,
  h: TcrHalf,
  upper: boolean,
  oa: OaForm,
  asidBits: number,
  blocked: Blocked | undefined,
): WalkRoot {
  // A reserved TGx is harmless while EPDx disables the walks; otherwise the root cannot be walked.
  if (!h.granule && !blocked) blocked = disabledBecause(`${base}: reserved TG value in TCR`);
  if (ttbr === undefined && !blocked)
    blocked = unknownBecause(`${base} could not be read: cannot walk its tables`);
  const g = h.granule ?? 4;
  const inputBits = Math.min(Math.max(h.inputBits, 16), oa === 'pa48' ? 48 : 52);
  const startLevel = Math.max(startLevelFor(g, inputBits), minLevel(g, oa));
  const entries = rootEntries(g, inputBits, startLevel);
  const t = ttbr ?? 0n;
  const span = 1n << BigInt(inputBits);
  const vaStart = upper ? (1n << 64n) - span : 0n;
  return {
    base,
    enabled: !blocked,
    ...(blocked ? { reason: blocked.reason, ...(blocked.unknown ? { unknown: true } : {}) } : {}),
    ttbr: t,
    fmt: { granule: g, stage: 1, oa },
    root: baddr(t, oa, entries * 8),
    granule: g,
    startLevel,
    inputBits,
    rootEntries: entries,
    vaStart,
    vaEnd: (vaStart + span - 1n) & M64,
    asid: Number((t >> 48n) & ((1n << BigInt(asidBits)) - 1n)),
    hpd: h.hpd,
    tbi: h.tbi,
  };
}

/** Builds the walk description of a regime from its registers. Missing registers disable the roots. */
export function regimeFromRegisters(kind: RegimeKind, regs: Registers): RegimeConfig {
  const used: Record<string, bigint> = {};
  const get = (n: string): bigint | undefined => {
    const v = getRegister(regs, n);
    if (v !== undefined) used[n] = v;
    return v;
  };
  const problems: string[] = [];
  const roots: WalkRoot[] = [];
  const push = (r: WalkRoot): void => {
    roots.push(r);
  };

  if (kind === 'stage2') {
    const vttbr = get('VTTBR_EL2');
    const vtcrRaw = get('VTCR_EL2');
    const hcrRaw = get('HCR_EL2');
    const hcr = decodeHcr(hcrRaw ?? 0n);
    const vtcr = decodeVtcr(vtcrRaw ?? 0n);
    const g = vtcr.granule ?? 4;
    const oa = oaForm(g, vtcr.ds, vtcr.paBits);
    // In the order the hardware decides: is stage 2 on, then its layout, then its tables.
    const blocked: Blocked | undefined =
      hcrRaw === undefined
        ? unknownBecause('HCR_EL2 could not be read: cannot tell whether stage 2 is on')
        : !hcr.vm
          ? disabledBecause('HCR_EL2.VM = 0: stage 2 off')
          : vtcrRaw === undefined
            ? unknownBecause('VTCR_EL2 could not be read: cannot tell the IPA size and granule')
            : vttbr === undefined
              ? unknownBecause('VTTBR_EL2 could not be read: cannot walk its tables')
              : undefined;
    if (blocked?.unknown) problems.push(blocked.reason);
    if (vtcrRaw !== undefined && vtcr.startLevel === undefined)
      problems.push(`VTCR_EL2: reserved SL0 ${vtcr.sl0} for ${g} KiB granule`);
    const startLevel = vtcr.startLevel ?? 1;
    const inputBits = vtcr.inputBits;
    const entries = rootEntries(g, inputBits, startLevel);
    // More than 16 concatenated tables is a stage-2 level 0 translation fault (Arm ARM R_SRKBC).
    const tooMany = entries > 16 * 2 ** (pageShift(g) - 3);
    if (tooMany && vtcrRaw !== undefined)
      problems.push(
        `VTCR_EL2: T0SZ ${vtcr.tsz} needs ${entries} root entries at level ${startLevel} (over 16 tables)`,
      );
    const t = vttbr ?? 0n;
    roots.push({
      base: 'VTTBR_EL2',
      enabled: !blocked && !tooMany && vtcr.startLevel !== undefined,
      ...(blocked ? { reason: blocked.reason, ...(blocked.unknown ? { unknown: true } : {}) } : {}),
      ttbr: t,
      fmt: { granule: g, stage: 2, oa },
      root: baddr(t, oa, entries * 8),
      granule: g,
      startLevel,
      inputBits,
      rootEntries: Math.min(entries, 16 * 2 ** (pageShift(g) - 3)),
      vaStart: 0n,
      vaEnd: (1n << BigInt(inputBits)) - 1n,
      vmid: Number((t >> 48n) & (vtcr.vs16 ? 0xffffn : 0xffn)),
      hpd: true,
      tbi: false,
    });
    return {
      kind,
      fmt: { granule: g, stage: 2, oa },
      perm: 'stage2',
      roots,
      paBits: vtcr.paBits,
      mmuEnabled: hcrRaw === undefined ? undefined : hcr.vm,
      wxn: false,
      ha: vtcr.ha,
      fwb: hcr.fwb,
      mair: [],
      registers: used,
      problems,
    };
  }

  const el2 = kind === 'el2';
  const tcrName = el2 ? 'TCR_EL2' : 'TCR_EL1';
  const sctlrName = el2 ? 'SCTLR_EL2' : 'SCTLR_EL1';
  const mairName = el2 ? 'MAIR_EL2' : 'MAIR_EL1';
  const tcrRaw = get(tcrName);
  const sctlrRaw = get(sctlrName);
  const sctlr = decodeSctlr(sctlrRaw ?? 0n);
  const mairRaw = get(mairName);
  // Without MAIR no memory type is known; an empty list shows every AttrIndx as unknown.
  const mair = mairRaw === undefined ? [] : decodeMair(mairRaw);
  if (mairRaw === undefined) problems.push(`${mairName} could not be read: memory types unknown`);
  // EL2 with E2H = 1 (VHE) uses the EL1 layout and two ranges; this engine walks the E2H = 0 form.
  const hcrRaw = el2 ? get('HCR_EL2') : undefined;
  const hcr = el2 ? decodeHcr(hcrRaw ?? 0n) : undefined;
  if (hcrRaw !== undefined && hcr?.e2h) problems.push('HCR_EL2.E2H = 1 (VHE): TTBR1_EL2 is not walked');
  const tcr: Tcr = el2 ? decodeTcrEl2(tcrRaw ?? 0n) : decodeTcrEl1(tcrRaw ?? 0n);
  // In the order the hardware decides: is the MMU on, then the layout (TCR, and E2H at EL2).
  const blocked: Blocked | undefined =
    sctlrRaw === undefined
      ? unknownBecause(`${sctlrName} could not be read: cannot tell whether the MMU is on`)
      : !sctlr.m
        ? disabledBecause(`${sctlrName}.M = 0: MMU off`)
        : tcrRaw === undefined
          ? unknownBecause(`${tcrName} could not be read: cannot tell the translation ranges and granule`)
          : el2 && hcrRaw === undefined
            ? unknownBecause(
                'HCR_EL2 could not be read: cannot tell whether E2H (VHE) changes the EL2 layout',
              )
            : undefined;
  if (blocked?.unknown) problems.push(blocked.reason);
  const g0 = tcr.t0.granule ?? 4;
  const oa = oaForm(g0, tcr.ds, tcr.paBits);
  const asidBits = tcr.as16 ? 16 : 8;
  if (el2) {
    push(stage1Root('TTBR0_EL2', get('TTBR0_EL2'), tcr.t0, false, oa, 0, blocked));
  } else {
    push(
      stage1Root(
        'TTBR0_EL1',
        get('TTBR0_EL1'),
        tcr.t0,
        false,
        oa,
        asidBits,
        blocked ?? disabledBecause(tcr.t0.epd ? 'TCR_EL1.EPD0 = 1: TTBR0 walks disabled' : undefined),
      ),
    );
    if (tcr.t1) {
      // TG1 may differ from TG0; the 52-bit form follows the same DS/PS rules per granule.
      const oa1 = oaForm(tcr.t1.granule ?? 4, tcr.ds, tcr.paBits);
      push(
        stage1Root(
          'TTBR1_EL1',
          get('TTBR1_EL1'),
          tcr.t1,
          true,
          oa1,
          asidBits,
          blocked ?? disabledBecause(tcr.t1.epd ? 'TCR_EL1.EPD1 = 1: TTBR1 walks disabled' : undefined),
        ),
      );
    }
  }
  return {
    kind,
    fmt: { granule: g0, stage: 1, oa },
    perm: el2 ? 'el2' : 'el1&0',
    roots,
    paBits: tcr.paBits,
    mmuEnabled: sctlrRaw === undefined ? undefined : sctlr.m,
    wxn: sctlr.wxn,
    ha: tcr.ha,
    fwb: false,
    mair,
    registers: used,
    problems,
  };
}

/** Size in bytes of what one descriptor maps at `level`. */
export function entrySpan(g: Granule, level: number): bigint {
  return 1n << BigInt(levelShift(g, level));
}
