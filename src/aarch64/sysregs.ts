// Decoders for the system registers that shape translation: TCR_EL1, TCR_EL2, VTCR_EL2, SCTLR_ELx,
// HCR_EL2, and SPSR/CPSR (Arm ARM D19). Each returns typed fields plus one text line per field.

import type { Granule } from './granule';

const fld = (x: bigint, hi: number, lo: number): number =>
  Number((x >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n));
const flag = (x: bigint, n: number): boolean => ((x >> BigInt(n)) & 1n) === 1n;

/** IPS/PS encodings to physical-address bits (0b111 is 56 with FEAT_D128). */
export const PA_BITS = [32, 36, 40, 42, 44, 48, 52, 56];

const SHAREABILITY = ['Non-shareable', 'reserved', 'Outer Shareable', 'Inner Shareable'];
const CACHEABILITY = ['Non-cacheable', 'WB RA WA', 'WT RA', 'WB RA'];

/** One VA range of a TCR (TTBR0 or TTBR1 half). */
export interface TcrHalf {
  readonly tsz: number;
  /** 64 - TxSZ. */
  readonly inputBits: number;
  /** undefined when TGx holds a reserved value. */
  readonly granule: Granule | undefined;
  /** EPDx: walks from this TTBR disabled (always false in single-range regimes). */
  readonly epd: boolean;
  readonly irgn: number;
  readonly orgn: number;
  readonly sh: number;
  /** Top-byte-ignore for this range. */
  readonly tbi: boolean;
  /** Hierarchical permissions disabled (HPDx, FEAT_HPDS). */
  readonly hpd: boolean;
}

export interface Tcr {
  readonly raw: bigint;
  readonly t0: TcrHalf;
  /** Absent for TCR_EL2 (single VA range). */
  readonly t1?: TcrHalf;
  /** Physical-address size (IPS for TCR_EL1, PS for TCR_EL2). */
  readonly paBits: number;
  readonly ips: number;
  /** ASID from TTBR1 (A1 = 1) instead of TTBR0. */
  readonly a1: boolean;
  /** 16-bit ASIDs. */
  readonly as16: boolean;
  /** Hardware Access flag / dirty state management. */
  readonly ha: boolean;
  readonly hd: boolean;
  /** FEAT_LPA2 52-bit descriptors. */
  readonly ds: boolean;
  readonly fields: string[];
}

function half(
  raw: bigint,
  base: number,
  tg: Granule | undefined,
  extra: { epd: boolean; tbi: boolean; hpd: boolean },
): TcrHalf {
  const tsz = fld(raw, base + 5, base);
  return {
    tsz,
    inputBits: 64 - tsz,
    granule: tg,
    irgn: fld(raw, base + 9, base + 8),
    orgn: fld(raw, base + 11, base + 10),
    sh: fld(raw, base + 13, base + 12),
    ...extra,
  };
}

const TG0: (Granule | undefined)[] = [4, 64, 16, undefined];
const TG1: (Granule | undefined)[] = [undefined, 16, 4, 64];

function halfLines(name: string, h: TcrHalf): string[] {
  return [
    `T${name}SZ = ${h.tsz} (${h.inputBits}-bit input addresses)`,
    `TG${name} = ${h.granule ? `${h.granule} KiB` : 'reserved'}`,
    `EPD${name} = ${h.epd ? 1 : 0}${h.epd ? ' (walks disabled)' : ''}`,
    `IRGN${name} = ${CACHEABILITY[h.irgn]}, ORGN${name} = ${CACHEABILITY[h.orgn]}, SH${name} = ${SHAREABILITY[h.sh]}`,
    `TBI${name} = ${h.tbi ? 1 : 0}, HPD${name} = ${h.hpd ? 1 : 0}`,
  ];
}

/** TCR_EL1 (also TCR_EL2 with HCR_EL2.E2H = 1, which has the same layout). */
export function decodeTcrEl1(raw: bigint): Tcr {
  const t0 = half(raw, 0, TG0[fld(raw, 15, 14)], {
    epd: flag(raw, 7),
    tbi: flag(raw, 37),
    hpd: flag(raw, 41),
  });
  const t1 = half(raw, 16, TG1[fld(raw, 31, 30)], {
    epd: flag(raw, 23),
    tbi: flag(raw, 38),
    hpd: flag(raw, 42),
  });
  const ips = fld(raw, 34, 32);
  const r = {
    raw,
    t0,
    t1,
    ips,
    paBits: PA_BITS[ips],
    a1: flag(raw, 22),
    as16: flag(raw, 36),
    ha: flag(raw, 39),
    hd: flag(raw, 40),
    ds: flag(raw, 59),
  };
  return {
    ...r,
    fields: [
      ...halfLines('0', t0),
      ...halfLines('1', t1),
      `IPS = ${ips} (${r.paBits}-bit PA)`,
      `A1 = ${r.a1 ? 1 : 0} (ASID from TTBR${r.a1 ? 1 : 0}), AS = ${r.as16 ? '16' : '8'}-bit ASID`,
      `HA = ${r.ha ? 1 : 0}, HD = ${r.hd ? 1 : 0}, DS = ${r.ds ? 1 : 0}`,
    ],
  };
}

/** TCR_EL2 with HCR_EL2.E2H = 0: one VA range. */
export function decodeTcrEl2(raw: bigint): Tcr {
  const t0 = half(raw, 0, TG0[fld(raw, 15, 14)], { epd: false, tbi: flag(raw, 20), hpd: flag(raw, 24) });
  const ips = fld(raw, 18, 16);
  const r = {
    raw,
    t0,
    ips,
    paBits: PA_BITS[ips],
    a1: false,
    as16: false,
    ha: flag(raw, 21),
    hd: flag(raw, 22),
    ds: flag(raw, 32),
  };
  return {
    ...r,
    fields: [
      ...halfLines('0', t0),
      `PS = ${ips} (${r.paBits}-bit PA)`,
      `HA = ${r.ha ? 1 : 0}, HD = ${r.hd ? 1 : 0}, DS = ${r.ds ? 1 : 0}`,
    ],
  };
}

export interface Vtcr {
  readonly raw: bigint;
  readonly tsz: number;
  readonly inputBits: number;
  readonly granule: Granule | undefined;
  readonly sl0: number;
  /** SL2 (with DS = 1, 4K: start at level -1). */
  readonly sl2: boolean;
  /** Initial lookup level from SL0/SL2 and TG0; undefined for a reserved combination. */
  readonly startLevel: number | undefined;
  readonly paBits: number;
  readonly ps: number;
  readonly vs16: boolean;
  readonly ha: boolean;
  readonly hd: boolean;
  readonly ds: boolean;
  readonly sh: number;
  readonly fields: string[];
}

/** Stage-2 start level from VTCR_EL2.SL0 (Arm ARM D8.2.6, FEAT_TTST adds 4K SL0 = 3 -> level 3). */
function s2StartLevel(g: Granule | undefined, sl0: number, sl2: boolean, ds: boolean): number | undefined {
  if (!g) return undefined;
  if (g === 4) {
    if (ds && sl2 && sl0 === 0) return -1;
    return [2, 1, 0, 3][sl0];
  }
  if (g === 16) return [3, 2, 1, 0][sl0];
  return [3, 2, 1, undefined][sl0];
}

export function decodeVtcr(raw: bigint): Vtcr {
  const tsz = fld(raw, 5, 0);
  const granule = TG0[fld(raw, 15, 14)];
  const sl0 = fld(raw, 7, 6);
  const ds = flag(raw, 32);
  const sl2 = flag(raw, 33);
  const ps = fld(raw, 18, 16);
  const startLevel = s2StartLevel(granule, sl0, sl2, ds);
  const r = {
    raw,
    tsz,
    inputBits: 64 - tsz,
    granule,
    sl0,
    sl2,
    startLevel,
    ps,
    paBits: PA_BITS[ps],
    vs16: flag(raw, 19),
    ha: flag(raw, 21),
    hd: flag(raw, 22),
    ds,
    sh: fld(raw, 13, 12),
  };
  return {
    ...r,
    fields: [
      `T0SZ = ${tsz} (${r.inputBits}-bit IPA)`,
      `TG0 = ${granule ? `${granule} KiB` : 'reserved'}`,
      `SL0 = ${sl0} (start level ${startLevel ?? 'reserved'})`,
      `PS = ${ps} (${r.paBits}-bit PA)`,
      `SH0 = ${SHAREABILITY[r.sh]}, VS = ${r.vs16 ? 16 : 8}-bit VMID`,
      `HA = ${r.ha ? 1 : 0}, HD = ${r.hd ? 1 : 0}, DS = ${ds ? 1 : 0}`,
    ],
  };
}

export interface Sctlr {
  readonly raw: bigint;
  /** MMU enable for the regime's stage 1. */
  readonly m: boolean;
  readonly a: boolean;
  readonly c: boolean;
  readonly sa: boolean;
  readonly i: boolean;
  readonly wxn: boolean;
  readonly ee: boolean;
  readonly span: boolean;
  readonly fields: string[];
}

export function decodeSctlr(raw: bigint): Sctlr {
  const r = {
    raw,
    m: flag(raw, 0),
    a: flag(raw, 1),
    c: flag(raw, 2),
    sa: flag(raw, 3),
    i: flag(raw, 12),
    wxn: flag(raw, 19),
    ee: flag(raw, 25),
    span: flag(raw, 23),
  };
  const on = (n: string, v: boolean, what: string): string =>
    `${n} = ${v ? 1 : 0} (${what} ${v ? 'on' : 'off'})`;
  return {
    ...r,
    fields: [
      on('M', r.m, 'stage-1 MMU'),
      on('A', r.a, 'alignment check'),
      on('C', r.c, 'data cacheability'),
      on('SA', r.sa, 'SP alignment check'),
      on('I', r.i, 'instruction cacheability'),
      on('WXN', r.wxn, 'write implies XN'),
      `EE = ${r.ee ? 'big' : 'little'} endian, SPAN = ${r.span ? 1 : 0}`,
    ],
  };
}

export interface Hcr {
  readonly raw: bigint;
  /** Stage 2 enabled for EL1&0. */
  readonly vm: boolean;
  readonly tge: boolean;
  readonly e2h: boolean;
  readonly fwb: boolean;
  readonly rw: boolean;
  readonly fields: string[];
}

export function decodeHcr(raw: bigint): Hcr {
  const r = {
    raw,
    vm: flag(raw, 0),
    tge: flag(raw, 27),
    rw: flag(raw, 31),
    e2h: flag(raw, 34),
    fwb: flag(raw, 46),
  };
  return {
    ...r,
    fields: [
      `VM = ${r.vm ? 1 : 0} (stage 2 ${r.vm ? 'on' : 'off'})`,
      `TGE = ${r.tge ? 1 : 0}, E2H = ${r.e2h ? 1 : 0}, RW = ${r.rw ? 'EL1 AArch64' : 'EL1 AArch32'}`,
      `FWB = ${r.fwb ? 1 : 0}`,
    ],
  };
}

export interface Spsr {
  readonly raw: bigint;
  /** "EL1h", "EL0t", "AArch32 svc"... */
  readonly mode: string;
  /** Exception level (AArch64 modes; AArch32 user -> 0, others -> 1). */
  readonly el: number;
  /** SP_ELx selected (`h` modes). */
  readonly spx: boolean;
  readonly aarch32: boolean;
  readonly n: boolean;
  readonly z: boolean;
  readonly c: boolean;
  readonly v: boolean;
  /** "DAIF" with masked bits in upper case and clear ones as '-', e.g. "D-IF". */
  readonly daif: string;
  readonly ss: boolean;
  readonly il: boolean;
  readonly pan: boolean;
  readonly fields: string[];
}

const A32_MODES: Record<number, string> = {
  0x10: 'usr',
  0x11: 'fiq',
  0x12: 'irq',
  0x13: 'svc',
  0x16: 'mon',
  0x17: 'abt',
  0x1a: 'hyp',
  0x1b: 'und',
  0x1f: 'sys',
};

/** SPSR_ELx or the gdb `cpsr` register (PSTATE in SPSR layout). */
export function decodeSpsr(raw: bigint): Spsr {
  const m = fld(raw, 4, 0);
  const aarch32 = (m & 0x10) !== 0;
  const el = aarch32 ? (m === 0x10 ? 0 : m === 0x1a ? 2 : 1) : m >> 2;
  const spx = !aarch32 && (m & 1) === 1;
  const mode = aarch32
    ? `AArch32 ${A32_MODES[m] ?? `mode 0x${m.toString(16)}`}`
    : `EL${el}${spx ? 'h' : 't'}`;
  const d = ['D', 'A', 'I', 'F'].map((c, i) => (flag(raw, 9 - i) ? c : '-')).join('');
  const r = {
    raw,
    mode,
    el,
    spx,
    aarch32,
    n: flag(raw, 31),
    z: flag(raw, 30),
    c: flag(raw, 29),
    v: flag(raw, 28),
    daif: d,
    ss: flag(raw, 21),
    il: flag(raw, 20),
    pan: flag(raw, 22),
  };
  const nzcv = [r.n ? 'N' : 'n', r.z ? 'Z' : 'z', r.c ? 'C' : 'c', r.v ? 'V' : 'v'].join('');
  return {
    ...r,
    fields: [
      `M = ${mode}`,
      `NZCV = ${nzcv}`,
      `DAIF = ${d}`,
      `SS = ${r.ss ? 1 : 0}, IL = ${r.il ? 1 : 0}, PAN = ${r.pan ? 1 : 0}`,
    ],
  };
}
