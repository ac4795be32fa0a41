// pvmfw's meaning of its descriptors: stage 1 (TTBR0_EL1, its identity map) carries the lazy-MMIO flag
// (MMIO_LAZY_MAP_FLAG = SWFLAG_0 = bit 55) on device leaves, pending while VALID is clear and mapped
// once the fault handler has guard-mapped the page. From late 2023 the lazy entry is DEVICE_LAZY
// (SWFLAG_0 | AttrIndx 0 | UXN | AF) and the handler sets VALID in place: the same bits decide.
// Stage 2 is the hypervisor's side of the MMIO guard: Android's pKVM records a guard-mapped page as an
// invalid stage-2 entry with an annotation (the whole entry 0x9a9a929e on older kernels, the
// KVM_INVALID_PTE_MMIO_NOTE bit 11 on newer ones) instead of a valid device mapping.
import { DEFAULT_LAZY_BIT } from '../pvmfw/flags';
import { pkvmGuardNote } from '../pvmfw/generation';
import { bitOf, type EntryBits, type Meaning, type Profile } from './types';

/** Whether an invalid stage-2 entry is pKVM's record of a guard-mapped MMIO page (src/pvmfw decides). */
export function isPkvmMmioNote(e: { lo: number; hi: number; valid: boolean }): boolean {
  return !e.valid && pkvmGuardNote(e.lo, e.hi) !== undefined;
}

export function pvmfwMeaning(e: EntryBits, lazyBit = DEFAULT_LAZY_BIT): Meaning | undefined {
  if (!e.leafLevel) return undefined;
  if (e.base === 'VTTBR_EL2') {
    const note = e.valid ? undefined : pkvmGuardNote(e.lo, e.hi);
    if (!note) return undefined;
    const old = note === 'pkvmLegacy';
    return {
      label: 'guard-mapped MMIO (pKVM: invalid entry, access forwarded)',
      fields: [
        old
          ? 'descriptor = 0x9a9a929e: pKVM’s MMIO guard annotation (older kernels)'
          : 'bit 11 KVM_INVALID_PTE_MMIO_NOTE = 1: pKVM’s MMIO guard annotation',
      ],
    };
  }
  if (!bitOf(e, lazyBit)) return undefined;
  const flag = `bit ${lazyBit} MMIO_LAZY_MAP_FLAG (SWFLAG_0) = 1`;
  if (!e.device)
    return {
      label: 'lazy flag on Normal memory (pvmfw sets it only on device leaves)',
      fields: [flag],
      mapping: true,
    };
  const deviceLazy = (e.lo & 0x41c) === 0x400 && bitOf(e, 54); // AttrIndx 0, AF, UXN
  const encoding = deviceLazy ? 'DEVICE_LAZY = SWFLAG_0 | AttrIndx 0 | UXN | AF' : 'seed encoding';
  return e.valid
    ? {
        label: 'lazy MMIO: mapped (guard-mapped)',
        fields: [flag, 'VALID = 1: the fault handler mapped it', encoding],
      }
    : {
        mapping: true,
        label: 'lazy MMIO: pending (guard-mapped on first access)',
        fields: [flag, 'VALID = 0: the first access faults into handle_mmio_fault', encoding],
      };
}

export const pvmfwProfile: Profile = {
  id: 'pvmfw',
  title: 'pvmfw lazy MMIO (the seed change; DEVICE_LAZY from late 2023; pKVM MMIO guard annotations)',
  lazyMmio: true,
  meaning: (e) => pvmfwMeaning(e),
};

export const noneProfile: Profile = {
  id: 'none',
  title: 'architectural decode only',
  lazyMmio: false,
  meaning: () => undefined,
};
