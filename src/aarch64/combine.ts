// The memory type and permissions of an access translated by two stages (EL1&0 under HCR_EL2.VM = 1).
// Both are computed on MAIR-format attribute bytes (Attr<n>, the encoding MAIR_ELx uses), so the
// result decodes with decodeMairAttr like any stage-1 type.
//
// Sources (the Arm ARM is quoted through the code and threads that cite it, named at each rule):
// - HCR_EL2.FWB = 0: Arm ARM DDI 0487K.a rules R_HMNDG, R_TNHFM and R_GQFSF, pseudocode
//   S2CombineS1MemAttrs(), S2CombineS1Device() and S2CombineS1AttrHints() (cited by Linux
//   arch/arm64/include/asm/memory.h and arch/arm64/kvm/at.c compute_par_s12(), which implements
//   them); DDI 0487B.b table D4-42 and CombineS1S2AttrHints() (cited by QEMU target/arm
//   combine_cacheattr_nibble(), which combined_attrs_nofwb() calls).
// - HCR_EL2.FWB = 1: DDI 0487F.c D5.5.5 "Stage 2 memory region type and Cacheability attributes when
//   FEAT_S2FWB is implemented", table D5-40; DDI 0487K.a D8.6.6, rules R_VRJSW and R_RHWZM and the
//   pseudocode AArch64.S2ApplyFWBMemAttrs() (quoted from K.a in the review of io-pgtable-arm's
//   S2FWB encoding on linux-iommu, 28 Aug 2024; implemented by Linux kvm/at.c and QEMU
//   combined_attrs_fwb()).

import { P_R0, P_R1, P_W0, P_W1, P_X0, P_X1 } from './leaf';
import { decodeMairAttr, type MemoryType } from './mair';

/** A combined memory type with the MAIR-format byte it decodes from (undefined when reserved). */
export interface CombinedMemType {
  readonly type: MemoryType;
  readonly attr?: number;
}

const isDevice = (attr: number): boolean => (attr & 0xf0) === 0;
/** Device type as 0 (nGnRnE, strongest) .. 3 (GRE, weakest); the XS bit (0bdd01) is dropped. */
const deviceOf = (attr: number): number => (attr >> 2) & 3;
const deviceAttr = (dd: number): number => dd << 2;

/** Whether a MAIR byte is an encoding the Arm ARM defines (decodeMairAttr calls it reserved otherwise). */
function defined(attr: number): boolean {
  return decodeMairAttr(attr).kind !== 'reserved';
}

/**
 * Stage-2 MemAttr[3:0] (FWB = 0) as a MAIR byte. Stage 2 carries no allocation hints: Normal
 * cacheable is taken as read- and write-allocate, non-transient (S2ConvertAttrsHints(), as QEMU's
 * convert_stage2_attrs() and Linux's s2_memattr_to_attr() do); the hints of the result come from
 * stage 1 anyway (S2CombineS1AttrHints()). Undefined for the reserved encodings (MemAttr[1:0] = 0
 * with MemAttr[3:2] != 0).
 */
export function s2MemAttrToMair(memAttr: number): number | undefined {
  memAttr &= 0xf;
  const outer = memAttr >> 2;
  const inner = memAttr & 3;
  if (outer === 0) return deviceAttr(inner);
  if (inner === 0) return undefined;
  const nib = (c: number): number => (c === 1 ? 0b0100 : c === 2 ? 0b1011 : 0b1111);
  return (nib(outer) << 4) | nib(inner);
}

/**
 * One cacheability nibble of two Normal types (S2CombineS1AttrHints()): Non-cacheable if either is,
 * else Write-Through if either is, else Write-Back; the allocation and transient hints are stage 1's.
 */
function combineNibble(s1: number, s2: number): number {
  const cls = (n: number): 'NC' | 'WT' | 'WB' => (n === 0b0100 ? 'NC' : n & 0b0100 ? 'WB' : 'WT');
  const c1 = cls(s1);
  const c2 = cls(s2);
  if (c1 === 'NC' || c2 === 'NC') return 0b0100;
  const hints = s1 & 3;
  const transient = (s1 & 0b1000) === 0;
  const wt = c1 === 'WT' || c2 === 'WT';
  // Transient forms with no allocation hint collide with other encodings (0b0000 is not Normal,
  // 0b0100 is Non-cacheable): such a result is the non-transient form.
  if (wt) return transient && hints !== 0 ? hints : 0b1000 | hints;
  return transient && hints !== 0 ? 0b0100 | hints : 0b1100 | hints;
}

/** The stronger of two Device types (S2CombineS1Device(): nGnRnE > nGnRE > nGRE > GRE). */
const strongerDevice = (a: number, b: number): number => deviceAttr(Math.min(deviceOf(a), deviceOf(b)));

/** FWB = 0: both stages' types combine, the more restrictive winning (R_HMNDG, R_TNHFM, R_GQFSF). */
function combineNoFwb(s1: number, s2: number): number {
  // Device has precedence over Normal; of two Device types the stronger one wins.
  if (isDevice(s1) && isDevice(s2)) return strongerDevice(s1, s2);
  if (isDevice(s1)) return deviceAttr(deviceOf(s1));
  if (isDevice(s2)) return deviceAttr(deviceOf(s2));
  // Normal and Normal: inner and outer cacheability combine independently.
  return (combineNibble(s1 >> 4, s2 >> 4) << 4) | combineNibble(s1 & 0xf, s2 & 0xf);
}

/** FWB Force Write-Back of one nibble: hints kept from a cacheable stage 1, else RW-allocate. */
function forceWbNibble(n: number): number {
  if (n === 0 || n === 0b0100) return 0b1111;
  return n | 0b0100;
}

/**
 * FWB = 1 (AArch64.S2ApplyFWBMemAttrs()): MemAttr[3] is RES0 without FEAT_MTE_PERM, MemAttr[2]
 * selects how MemAttr[1:0] reads.
 * - MemAttr[2] = 0: Device of type MemAttr[1:0]; a stage-1 Device type combines with it, the
 *   stronger winning (FWB does not change how Device types combine).
 * - 0b111: the stage-1 type and cacheability.
 * - 0b110: Normal Write-Back (stage-1 hints when stage 1 is Normal cacheable).
 * - 0b101: a stage-1 Device type stays; Normal becomes Normal Non-cacheable.
 * - 0b100: reserved (undefined here rather than a guess).
 */
function combineFwb(s1: number, memAttr: number): number | undefined {
  const m = memAttr & 7;
  if ((m & 4) === 0) return isDevice(s1) ? strongerDevice(s1, deviceAttr(m & 3)) : deviceAttr(m & 3);
  if (m === 7) return s1;
  if (m === 6) {
    if (isDevice(s1)) return 0xff;
    return (forceWbNibble(s1 >> 4) << 4) | forceWbNibble(s1 & 0xf);
  }
  if (m === 5) return isDevice(s1) ? s1 : 0x44;
  return undefined;
}

/**
 * The memory type of an access with stage-1 MAIR byte `s1Attr` and stage-2 MemAttr `s2MemAttr`,
 * as the two stages combine under HCR_EL2.FWB. A reserved encoding at either stage gives a reserved
 * result (the architecture makes it UNPREDICTABLE or CONSTRAINED UNPREDICTABLE).
 */
export function combineMemAttrs(s1Attr: number, s2MemAttr: number, fwb: boolean): CombinedMemType {
  s1Attr &= 0xff;
  const reserved = (why: string): CombinedMemType => ({ type: { kind: 'reserved', name: why } });
  if (!defined(s1Attr)) return reserved(`reserved (stage-1 Attr 0x${s1Attr.toString(16).padStart(2, '0')})`);
  // Tagged Normal (FEAT_MTE2, 0xf0) combines as Normal WB RA WA and stays Tagged only when the
  // result is still that Write-Back type (QEMU combine_cacheattrs() does the same).
  const tagged = s1Attr === 0xf0;
  const s1 = tagged ? 0xff : s1Attr;
  let out: number | undefined;
  if (fwb) {
    out = combineFwb(s1, s2MemAttr);
    if (out === undefined)
      return reserved(`reserved (FWB MemAttr 0b${(s2MemAttr & 0xf).toString(2).padStart(4, '0')})`);
  } else {
    const s2 = s2MemAttrToMair(s2MemAttr);
    if (s2 === undefined)
      return reserved(`reserved (stage-2 MemAttr 0b${(s2MemAttr & 0xf).toString(2).padStart(4, '0')})`);
    out = combineNoFwb(s1, s2);
  }
  if (tagged && out === 0xff) out = 0xf0;
  return { type: decodeMairAttr(out), attr: out };
}

/**
 * Stage-2 permissions (P_R1/P_W1 for reads and writes at either EL, P_X1/P_X0 for execution at
 * EL1/EL0, as effectivePerms reports them) spread over the EL1&0 permission bits.
 */
export function stage2AsEl10(s2: number): number {
  return (
    (s2 & P_R1 ? P_R1 | P_R0 : 0) |
    (s2 & P_W1 ? P_W1 | P_W0 : 0) |
    (s2 & P_X1 ? P_X1 : 0) |
    (s2 & P_X0 ? P_X0 : 0)
  );
}

/**
 * The permissions of an access translated by both stages: an access is permitted only when stage 1
 * permits it and stage 2 (S2AP, XN[1:0]) permits it, so the combined set is the intersection
 * (the stage-2 check, AArch64.S2CheckPermissions(), runs on every access stage 1 let through; QEMU
 * get_phys_addr_twostage(): "*prot &= s2_prot").
 */
export function combinePerms(s1: number, s2: number): number {
  return s1 & stage2AsEl10(s2);
}
