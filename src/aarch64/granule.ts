// VMSAv8-64 translation granule geometry: which input-address bits each lookup level resolves,
// where blocks are allowed, the initial lookup level for a given input size (Arm ARM D8.2).

/** Translation granule in KiB. */
export type Granule = 4 | 16 | 64;

/**
 * How descriptors carry output-address bits above 47:
 * - `pa48`: OA[47:n] only.
 * - `lpa`: FEAT_LPA with the 64 KiB granule and a 52-bit PS: OA[51:48] in descriptor bits [15:12].
 * - `lpa2`: FEAT_LPA2 with TCR.DS = 1 (4/16 KiB granules): OA[49:n] in place, OA[51:50] in bits [9:8]
 *   (so SH comes from TCR, not from the descriptor).
 */
export type OaForm = 'pa48' | 'lpa' | 'lpa2';

/** Translation stage: 1 (VA -> PA or IPA) or 2 (IPA -> PA). */
export type Stage = 1 | 2;

/** Everything needed to interpret a descriptor's bits apart from its level. */
export interface DescriptorFormat {
  readonly granule: Granule;
  readonly stage: Stage;
  readonly oa: OaForm;
}

/** log2 of the granule size: 12, 14 or 16. */
export function pageShift(g: Granule): number {
  return g === 4 ? 12 : g === 16 ? 14 : 16;
}

/** Input-address bits resolved per level: 9, 11 or 13. */
export function levelStride(g: Granule): number {
  return pageShift(g) - 3;
}

/** log2 of the input range one descriptor maps at `level` (4K: L3 12, L2 21, L1 30, L0 39). */
export function levelShift(g: Granule, level: number): number {
  return pageShift(g) + levelStride(g) * (3 - level);
}

/** Lowest level a lookup can start at: -1 only exists with 52-bit VAs on 4 KiB (LPA2). */
export function minLevel(g: Granule, oa: OaForm): number {
  if (g === 4) return oa === 'lpa2' ? -1 : 0;
  if (g === 16) return 0;
  return 1;
}

/**
 * Whether a block descriptor is permitted at `level` (otherwise bit 1 clear is a reserved encoding
 * that faults): 4K L1/L2 (+L0 with DS), 16K L2 (+L1 with DS), 64K L2 (+L1 with 52-bit PA).
 */
export function blockAllowed(g: Granule, level: number, oa: OaForm): boolean {
  if (level === 2) return true;
  if (g === 4) return level === 1 || (level === 0 && oa === 'lpa2');
  if (g === 16) return level === 1 && oa === 'lpa2';
  return level === 1 && oa === 'lpa';
}

/** Initial lookup level of a stage-1 walk over an `inputBits`-bit space (4K, 39 bits -> 1). */
export function startLevelFor(g: Granule, inputBits: number): number {
  const levels = Math.ceil((inputBits - pageShift(g)) / levelStride(g));
  return 4 - levels;
}

/** Entries in the root table (above the stride at stage 2: concatenated tables). */
export function rootEntries(g: Granule, inputBits: number, startLevel: number): number {
  return 2 ** Math.max(0, inputBits - levelShift(g, startLevel));
}

/** Entries per table of the granule: 512, 2048, 8192. */
export function tableEntries(g: Granule): number {
  return 2 ** levelStride(g);
}
