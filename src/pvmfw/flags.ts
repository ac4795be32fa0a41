// pvmfw's view of a descriptor at the seed: aarch64-paging 0.4.0's `Attributes` and the lazy flag.

/** MMIO_LAZY_MAP_FLAG = SWFLAG_0 = descriptor bit 55. */
export const DEFAULT_LAZY_BIT = 55;

/**
 * aarch64-paging 0.4.0 `Attributes` (VALID, TABLE_OR_PAGE, NORMAL = AttrIndx bit 0 + SH, USER,
 * READ_ONLY, ACCESSED, NON_GLOBAL, DBM, EXECUTE_NEVER = PXN|UXN, SWFLAG_0..3) plus the output
 * address [47:12] that `Descriptor::flags()` masks out. Any other bit makes `flags()` return None,
 * and pvmfw `expect`s "Unsupported PTE flags set".
 */
export const ACCEPTED_LO = 0xffff_ffc7; // bits 0-2, 6-11, OA [31:12]
export const ACCEPTED_HI = 0x07e8_ffff; // OA [47:32], DBM 51, PXN 53, UXN 54, SW 55-58

/** Names of the bits aarch64-paging 0.4.0 rejects, for messages. */
export function unsupportedBitNames(lo: number, hi: number): string[] {
  const out: string[] = [];
  const badLo = lo & ~ACCEPTED_LO;
  const badHi = hi & ~ACCEPTED_HI;
  if (badLo & 0x18) out.push('AttrIndx[2:1]');
  if (badLo & 0x20) out.push('NS');
  if (badHi & 0x3_0000) out.push('bits [49:48]');
  if (badHi & 0x4_0000) out.push('GP (50)');
  if (badHi & 0x10_0000) out.push('Contiguous (52)');
  if (badHi & 0xf800_0000) out.push('bits [63:59]');
  return out;
}

export function hasUnsupportedBits(lo: number, hi: number): boolean {
  return (lo & ~ACCEPTED_LO) !== 0 || (hi & ~ACCEPTED_HI) !== 0;
}

/**
 * What pvmfw would say of a table descriptor with bits outside aarch64-paging 0.4.0's Attributes
 * (it panics when it visits one), or undefined when the descriptor is fine.
 */
export function unsupportedTableDescriptor(desc: bigint): string | undefined {
  const lo = Number(desc & 0xffff_ffffn);
  const hi = Number(desc >> 32n);
  if (!hasUnsupportedBits(lo, hi)) return undefined;
  return `table descriptor 0x${desc.toString(16).padStart(16, '0')} sets ${unsupportedBitNames(lo, hi).join(', ')}: aarch64-paging 0.4.0 panics "Unsupported PTE flags set" if pvmfw visits it`;
}
