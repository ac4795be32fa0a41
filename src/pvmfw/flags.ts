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
/**
 * aarch64-paging 0.6 (pvmfw from late 2023) adds ATTRIBUTE_INDEX_0..2, NS and both shareability
 * bits: every bit of [11:0]. The high word's set is unchanged (GP, Contiguous and [63:59] still out).
 */
export const ACCEPTED_LO_0_6 = 0xffff_ffff;

/** The crate whose `Descriptor::flags()` a generation's pvmfw runs ('seed2023' by default). */
export function pagingCrate(generation: 'seed2023' | 'late2023' = 'seed2023'): string {
  return generation === 'late2023' ? 'aarch64-paging 0.6' : 'aarch64-paging 0.4.0';
}

function acceptedLo(generation?: 'seed2023' | 'late2023'): number {
  return generation === 'late2023' ? ACCEPTED_LO_0_6 : ACCEPTED_LO;
}

/** Names of the bits aarch64-paging 0.4.0 rejects, for messages. */
export function unsupportedBitNames(lo: number, hi: number, generation?: 'seed2023' | 'late2023'): string[] {
  const out: string[] = [];
  const badLo = lo & ~acceptedLo(generation);
  const badHi = hi & ~ACCEPTED_HI;
  if (badLo & 0x18) out.push('AttrIndx[2:1]');
  if (badLo & 0x20) out.push('NS');
  if (badHi & 0x3_0000) out.push('bits [49:48]');
  if (badHi & 0x4_0000) out.push('GP (50)');
  if (badHi & 0x10_0000) out.push('Contiguous (52)');
  if (badHi & 0xf800_0000) out.push('bits [63:59]');
  return out;
}

export function hasUnsupportedBits(lo: number, hi: number, generation?: 'seed2023' | 'late2023'): boolean {
  return (lo & ~acceptedLo(generation)) !== 0 || (hi & ~ACCEPTED_HI) !== 0;
}

/**
 * What pvmfw would say of a table descriptor with bits outside aarch64-paging 0.4.0's Attributes
 * (it panics when it visits one), or undefined when the descriptor is fine.
 */
export function unsupportedTableDescriptor(
  desc: bigint,
  generation?: 'seed2023' | 'late2023',
): string | undefined {
  const lo = Number(desc & 0xffff_ffffn);
  const hi = Number(desc >> 32n);
  if (!hasUnsupportedBits(lo, hi, generation)) return undefined;
  return `table descriptor 0x${desc.toString(16).padStart(16, '0')} sets ${unsupportedBitNames(lo, hi, generation).join(', ')}: ${pagingCrate(generation)} panics "Unsupported PTE flags set" if pvmfw visits it`;
}
