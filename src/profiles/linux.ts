// arm64 Linux 6.1's meaning of its stage-1 descriptors (TTBR0_EL1 user tables, TTBR1_EL1 kernel
// tables). Every value is Debian's linux-source-6.1: arch/arm64/include/asm/pgtable-prot.h (the
// software bits), pgtable.h (pte_present, pte_dirty, the swap-entry layout) and include/linux/swap.h
// (the special swap types), with Debian 6.1's arm64 configuration (CONFIG_MIGRATION=y,
// CONFIG_MEMORY_FAILURE=y, CONFIG_ARCH_ENABLE_THP_MIGRATION=y; CONFIG_DEVICE_PRIVATE and
// CONFIG_PTE_MARKER not set).
import { bitOf, hexOf, rawOf, type EntryBits, type Meaning, type Profile } from './types';

/** pgtable-prot.h: PTE_WRITE is DBM (bit 51); the software bits are [58:55]; bit 59 only on PMDs. */
export const LINUX_BITS = {
  PTE_SWP_EXCLUSIVE: 2,
  PTE_RDONLY: 7,
  PTE_WRITE: 51,
  PTE_DIRTY: 55,
  PTE_SPECIAL: 56,
  PTE_DEVMAP: 57,
  PTE_PROT_NONE: 58,
  PMD_PRESENT_INVALID: 59,
} as const;

/** pgtable.h: swap type in bits [7:3], offset in bits [57:8]. */
const SWP_TYPE_SHIFT = 3;
const SWP_TYPE_MASK = 0x1f;
const SWP_OFFSET_SHIFT = 8n;
const SWP_OFFSET_MASK = (1n << 50n) - 1n;

/**
 * swap.h with Debian's configuration: MAX_SWAPFILES = 32 - SWP_DEVICE_NUM (0) - SWP_MIGRATION_NUM (3)
 * - SWP_HWPOISON_NUM (1) - SWP_PTE_MARKER_NUM (0) - SWP_SWAPIN_ERROR_NUM (1) = 27; the special types
 * follow it in that order (hwpoison, the three migration types, swapin error).
 */
export const MAX_SWAPFILES = 27;
const SPECIAL_SWAP: Readonly<Record<number, { name: string; pfn: boolean }>> = {
  27: { name: 'hwpoison', pfn: true },
  28: { name: 'migration (read)', pfn: true },
  29: { name: 'migration (read, exclusive)', pfn: true },
  30: { name: 'migration (write)', pfn: true },
  31: { name: 'swapin error', pfn: false },
};

const B = LINUX_BITS;

/** Labels of present entries by the bits they depend on: a kernel has 260,000 leaves and a few labels. */
const LABELS = new Map<number, string>();

function presentLabel(write: boolean, swDirty: boolean, hwDirty: boolean, e: EntryBits): string {
  const special = bitOf(e, B.PTE_SPECIAL);
  const devmap = bitOf(e, B.PTE_DEVMAP);
  const old = !bitOf(e, 10);
  const key = +write | (+swDirty << 1) | (+hwDirty << 2) | (+special << 3) | (+devmap << 4) | (+old << 5);
  let label = LABELS.get(key);
  if (label === undefined) {
    const words: string[] = [write ? 'writable' : 'read-only'];
    if (swDirty || hwDirty) words.push(swDirty ? 'dirty' : 'dirty (hardware DBM)');
    else if (write) words.push('clean');
    if (special) words.push('special');
    if (devmap) words.push('devmap');
    if (old) words.push('old (AF = 0)');
    label = words.join(', ');
    LABELS.set(key, label);
  }
  return label;
}

function presentMeaning(e: EntryBits): Meaning {
  const write = bitOf(e, B.PTE_WRITE);
  const swDirty = bitOf(e, B.PTE_DIRTY);
  const hwDirty = write && !bitOf(e, B.PTE_RDONLY);
  return new PresentMeaning(presentLabel(write, swDirty, hwDirty, e), e, hwDirty);
}

/** A present PTE's meaning; its field lines are built when asked (listings need only the label). */
class PresentMeaning implements Meaning {
  constructor(
    readonly label: string,
    private readonly e: EntryBits,
    private readonly hwDirty: boolean,
  ) {}

  get fields(): string[] {
    const e = this.e;
    return [
      `bit 51 PTE_WRITE (DBM) = ${bitOf(e, B.PTE_WRITE) ? 1 : 0}`,
      `bit 55 PTE_DIRTY = ${bitOf(e, B.PTE_DIRTY) ? 1 : 0}${this.hwDirty ? ' (dirty by hardware: PTE_WRITE and not PTE_RDONLY)' : ''}`,
      `bit 56 PTE_SPECIAL = ${bitOf(e, B.PTE_SPECIAL) ? 1 : 0}`,
      `bit 57 PTE_DEVMAP = ${bitOf(e, B.PTE_DEVMAP) ? 1 : 0}`,
    ];
  }
}

/** A non-present, non-none entry: a swap entry (or a special one: migration, hwpoison). */
function swapMeaning(e: EntryBits): Meaning {
  const raw = rawOf(e);
  const type = (e.lo >>> SWP_TYPE_SHIFT) & SWP_TYPE_MASK;
  const offset = (raw >> SWP_OFFSET_SHIFT) & SWP_OFFSET_MASK;
  const exclusive = bitOf(e, B.PTE_SWP_EXCLUSIVE);
  const special = SPECIAL_SWAP[type];
  const fields = [
    `bits [7:3] swap type = ${type}${special ? ` (${special.name})` : ` (swap file ${type} of ${MAX_SWAPFILES})`}`,
    `bits [57:8] swap offset = ${hexOf(offset)}${special?.pfn ? ` (PFN: page at ${hexOf(offset << 12n)})` : ''}`,
    `bit 2 PTE_SWP_EXCLUSIVE = ${exclusive ? 1 : 0}`,
  ];
  const excl = exclusive ? ', exclusive' : '';
  if (special?.pfn) return { label: `${special.name} entry, page ${hexOf(offset << 12n)}${excl}`, fields };
  if (special) return { label: special.name, fields };
  return { label: `swap type ${type} offset ${hexOf(offset)}${excl}`, fields };
}

export function linuxMeaning(e: EntryBits): Meaning | undefined {
  if (e.valid) return e.leafLevel ? presentMeaning(e) : undefined;
  if (!e.leafLevel || (e.lo === 0 && e.hi === 0)) return undefined;
  if (bitOf(e, B.PTE_PROT_NONE)) {
    const m = presentMeaning(e);
    return {
      label: `PROT_NONE (present, no access; ${m.label})`,
      mapping: true,
      fields: ['bit 0 VALID = 0, bit 58 PTE_PROT_NONE = 1: pte_present() and pte_protnone()', ...m.fields],
    };
  }
  if (e.level === 2 && bitOf(e, B.PMD_PRESENT_INVALID)) {
    const m = presentMeaning(e);
    return {
      label: `present, invalidated (pmdp_invalidate; ${m.label})`,
      mapping: true,
      fields: ['bit 0 VALID = 0, bit 59 PMD_PRESENT_INVALID = 1: pmd_present()', ...m.fields],
    };
  }
  // Swap entries live in user tables (a PTE, or a PMD under THP migration).
  if (e.base === 'TTBR0_EL1' && (e.level === 3 || e.level === 2) && (e.lo & 3) === 0) return swapMeaning(e);
  return {
    label: 'invalid with bits (no Linux meaning)',
    fields: ['not present, not PROT_NONE, not a swap entry: Linux writes no such entry'],
  };
}

export const linuxProfile: Profile = {
  id: 'linux',
  title: 'arm64 Linux 6.1 (pgtable-prot.h, pgtable.h, swap.h)',
  lazyMmio: false,
  meaning: linuxMeaning,
};
