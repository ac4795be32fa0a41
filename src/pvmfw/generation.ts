// Which pvmfw a stop shows, read from the machine itself: the firmware generation (from its lazy
// device encodings), the MMIO-guard granule (from MMIO_GUARD_INFO, else the stage-2 granule), and
// how the hypervisor records a guard map at stage 2 (a valid device page as the demo stub does by
// default, or pKVM's invalid annotated entry). Pure: every fact comes from leaves and the log.

import { S_VALID } from '../aarch64/leaf';

/**
 * - `seed2023`: the seed change (aarch64-paging 0.4.0): lazy device = SWFLAG_0 | DEVICE_NGNRE |
 *   EXECUTE_NEVER (PXN and UXN); the handler remaps the page as device (`map_device`).
 * - `late2023`: `DEVICE_LAZY` = SWFLAG_0 | AttrIndx 0 | UXN | AF (aarch64-paging 0.6, PXN clear);
 *   the handler sets VALID in place on the lazy pages of the guard granule.
 */
export type PvmfwGeneration = 'seed2023' | 'late2023';

/** How handle_mmio_fault makes the faulting granule valid. */
export type HandlerStyle = 'remap' | 'validInPlace';

/**
 * - `valid`: a valid level-3 device page per guarded granule (the demo stub's default).
 * - `pkvmNote`: an invalid entry with `KVM_INVALID_PTE_MMIO_NOTE` (bit 11) set (newer Android pKVM).
 * - `pkvmLegacy`: an invalid entry equal to `0x9a9a929e` (older Android pKVM).
 */
export type Stage2GuardRepr = 'valid' | 'pkvmNote' | 'pkvmLegacy';

export interface PvmfwFlavour {
  readonly generation: PvmfwGeneration;
  readonly handler: HandlerStyle;
  /** MMIO-guard granule in bytes (4096 at the seed; the hypervisor's since 2024). */
  readonly granule: number;
  /** Where the granule came from. */
  readonly granuleFrom: 'MMIO_GUARD_INFO' | 'stage 2' | 'default';
  /** Stage-2 representation of a guard map; undefined without an active stage 2. */
  readonly stage2?: Stage2GuardRepr;
}

export const KVM_INVALID_PTE_MMIO_NOTE_BIT = 11;
export const KVM_MMIO_NOTE_LEGACY = 0x9a9a929e;
const NOTE = 1 << KVM_INVALID_PTE_MMIO_NOTE_BIT;
const PXN_HI = 1 << (53 - 32);
const UXN_HI = 1 << (54 - 32);

/** pKVM's annotation of a guard-mapped granule in one stage-2 descriptor, if it is one. */
export function pkvmGuardNote(lo: number, hi: number): Stage2GuardRepr | undefined {
  if ((lo & 1) !== 0) return undefined;
  if (hi === 0 && lo >>> 0 === KVM_MMIO_NOTE_LEGACY) return 'pkvmLegacy';
  if ((lo & NOTE) !== 0) return 'pkvmNote';
  return undefined;
}

/** The facts of a stage-2 leaf this module reads (a Leaf satisfies it). */
export interface S2LeafLike {
  readonly lo: number;
  readonly hi: number;
  readonly level: number;
  readonly state: number;
  readonly memType: { readonly kind: string };
}

/**
 * Whether a stage-2 leaf records a guard map: a valid level-3 device page (our stub), or an invalid
 * level-3 entry with pKVM's annotation. Blocks are RAM or the pre-ENROLL passthrough, never a guard map.
 */
export function isStage2Guard(l: S2LeafLike): boolean {
  if (l.level !== 3) return false;
  if (l.state === S_VALID) return l.memType.kind === 'device';
  return pkvmGuardNote(l.lo, l.hi) !== undefined;
}

/** The representation stage 2 uses, from the first guard map it holds ('valid' when it holds none). */
export function stage2GuardRepr(leaves: readonly S2LeafLike[]): Stage2GuardRepr {
  for (const l of leaves) {
    if (l.level !== 3 || l.state === S_VALID) continue;
    const r = pkvmGuardNote(l.lo, l.hi);
    if (r) return r;
  }
  return 'valid';
}

/**
 * The generation from stage-1 leaves carrying the lazy flag on device memory: PXN clear with UXN set
 * is late 2023's DEVICE_LAZY, both set is the seed's EXECUTE_NEVER. The seed when nothing tells.
 */
export function generationOf(
  leaves: Iterable<{ readonly hi: number; readonly memType: { readonly kind: string } }>,
  lazyBit: number,
): PvmfwGeneration {
  const word = lazyBit - 32;
  if (word < 0) return 'seed2023';
  for (const l of leaves) {
    if (((l.hi >>> word) & 1) === 0 || l.memType.kind !== 'device') continue;
    if ((l.hi & UXN_HI) !== 0 && (l.hi & PXN_HI) === 0) return 'late2023';
    if ((l.hi & UXN_HI) !== 0) return 'seed2023';
  }
  return 'seed2023';
}

export function handlerOf(g: PvmfwGeneration): HandlerStyle {
  return g === 'late2023' ? 'validInPlace' : 'remap';
}

/** A granule pvmfw accepts: a power of two from 4 KiB to 64 KiB. */
export function plausibleGranule(n: number): boolean {
  return Number.isInteger(n) && n >= 4096 && n <= 65536 && (n & (n - 1)) === 0;
}

/** What the handler does to the granule of `page`, in words, for verdicts. */
export function handlerWords(f: Pick<PvmfwFlavour, 'handler' | 'granule'>, page: string): string {
  const pages = f.granule / 4096;
  const what = pages > 1 ? `the ${f.granule / 1024} KiB granule ${page}` : page;
  const how =
    f.handler === 'validInPlace'
      ? `set VALID in place on ${pages > 1 ? `its ${pages} lazy 4 KiB pages` : 'that lazy 4 KiB page'}`
      : `map ${pages > 1 ? `its ${pages} 4 KiB pages` : 'that 4 KiB page'} valid as device`;
  return `MMIO_GUARD_MAP ${what} and ${how}`;
}

/** What the flavour of a stop is read from. */
export interface FlavourInput {
  /** MMIO_GUARD_INFO's last answer in the hypervisor's log, when there is one. */
  readonly info?: number;
  /** Stage-1 (EL1&0) leaves. */
  readonly s1: Iterable<{ readonly hi: number; readonly memType: { readonly kind: string } }>;
  /** Stage-2 leaves and granule (KiB), when stage 2 is active. */
  readonly stage2?: readonly S2LeafLike[];
  readonly s2Granule?: number | undefined;
  readonly lazyBit: number;
}

/** The pvmfw flavour of a stop: generation from stage 1, granule from INFO or stage 2, stage-2 representation. */
export function pvmfwFlavour(x: FlavourInput): PvmfwFlavour {
  const generation = generationOf(x.s1, x.lazyBit);
  const [granule, granuleFrom]: [number, PvmfwFlavour['granuleFrom']] =
    x.info !== undefined && plausibleGranule(x.info)
      ? [x.info, 'MMIO_GUARD_INFO']
      : x.s2Granule !== undefined
        ? [x.s2Granule * 1024, 'stage 2']
        : [4096, 'default'];
  return {
    generation,
    handler: handlerOf(generation),
    granule,
    granuleFrom,
    ...(x.stage2 ? { stage2: stage2GuardRepr(x.stage2) } : {}),
  };
}
