// What pvmfw's sync_exception_current / handle_mmio_fault will do with a fault, predicted from
// ESR/FAR and the stage-1 walk of FAR before the user steps into the handler. The handler differs by
// generation (remap at the seed, VALID set in place since late 2023) and works on the MMIO-guard
// granule around FAR (4 KiB at the seed, the hypervisor's since 2024).

import { decodeEsr, type Translation } from '../aarch64';
import { formatAddress, formatDescriptor } from '../shared/format';
import { DEFAULT_LAZY_BIT, hasUnsupportedBits, unsupportedBitNames } from './flags';
import { handlerWords, type PvmfwFlavour } from './generation';

/** What the verdict knows besides ESR/FAR and FAR's walk. */
export interface VerdictContext {
  /** Generation, handler style and guard granule (the seed's when absent). */
  readonly flavour?: Pick<PvmfwFlavour, 'generation' | 'handler' | 'granule'>;
  /**
   * Walks of the granule's other 4 KiB pages (granule > 4 KiB): handle_mmio_fault's
   * verify_lazy_mapped_block visits every leaf of the granule, not only FAR's.
   */
  readonly granuleWalks?: readonly Translation[];
}

export type VerdictKind =
  'lazyMmio' | 'invalidPte' | 'unsupportedFlags' | 'permission' | 'externalAbort' | 'other';

export interface FaultVerdict {
  readonly kind: VerdictKind;
  /** One line: "lazy MMIO: handle_mmio_fault will MMIO_GUARD_MAP 0x9010000 ...". */
  readonly summary: string;
  /** Page IPA handed to MMIO_GUARD_MAP (lazyMmio). */
  readonly mapIpa?: bigint;
  /** Level of the lazy block the handler splits (1 or 2), when the leaf is not a page. */
  readonly splitLevel?: number;
}

// sync_exception_current's masks (pvmfw exceptions.rs at the seed; guest/src/exceptions.c).
const TRANSLATION_MASK = 0x143n;
const TRANSLATION = 0x9600_0004n;
const PERMISSION_MASK = 0x103n;
const PERMISSION = 0x9600_004cn;
const EXT_DABT = 0x9600_0010n;

const PAGE_MASK = ~0xfffn;

/** True when pvmfw's is_leaf_pte holds: bit 1 set is a leaf only at level 3, clear only below it. */
function isLeafPte(desc: bigint, level: number): boolean {
  return (desc & 2n) !== 0n ? level === 3 : level < 3;
}

export function faultVerdict(
  esr: bigint,
  far: bigint,
  walk: Translation,
  lazyBit = DEFAULT_LAZY_BIT,
  ctx: VerdictContext = {},
): FaultVerdict {
  const e = decodeEsr(esr);
  const granule = BigInt(ctx.flavour?.granule ?? 4096);
  const page = granule > 4096n ? far & ~(granule - 1n) : far & PAGE_MASK;
  const generation = ctx.flavour?.generation;
  if ((esr & ~TRANSLATION_MASK) === TRANSLATION) {
    // The granule's other pages first: verify_lazy_mapped_block refuses the whole granule if any of
    // them is not a lazy invalid leaf.
    for (const w of ctx.granuleWalks ?? []) {
      const v = faultVerdict(esr, w.va, w, lazyBit, { ...(ctx.flavour ? { flavour: ctx.flavour } : {}) });
      if (v.kind === 'invalidPte' || v.kind === 'unsupportedFlags')
        return {
          kind: v.kind,
          summary: `${v.summary} (page ${formatAddress(w.va)} of the ${Number(granule) / 1024} KiB guard granule ${formatAddress(page)})`,
        };
    }
    // handle_mmio_fault: modify_range(page, verify_lazy_mapped_block) visits each descriptor on the walk.
    for (const s of walk.steps) {
      if (s.desc === undefined)
        return {
          kind: 'invalidPte',
          summary: `handle_mmio_fault: level-${s.level} descriptor at ${formatAddress(s.descAddr)} unreadable`,
        };
      const lo = Number(s.desc & 0xffff_ffffn);
      const hi = Number(s.desc >> 32n);
      if (hasUnsupportedBits(lo, hi, generation))
        return {
          kind: 'unsupportedFlags',
          summary: `handle_mmio_fault panics "Unsupported PTE flags set": level-${s.level} entry ${formatDescriptor(s.desc)} sets ${unsupportedBitNames(lo, hi, generation).join(', ')}`,
        };
      if (!isLeafPte(s.desc, s.level)) continue;
      const lazy = ((s.desc >> BigInt(lazyBit)) & 1n) === 1n;
      const valid = (s.desc & 1n) === 1n;
      if (!lazy || valid)
        return {
          kind: 'invalidPte',
          summary: `handle_mmio_fault(${formatAddress(far)}) fails with InvalidPte: level-${s.level} entry ${formatDescriptor(s.desc)} is ${valid ? 'valid' : 'not lazy-flagged'}; sync_exception_current panics`,
        };
      const split =
        s.level < 3
          ? ` after splitting the level-${s.level} ${s.level === 1 ? '1 GiB' : '2 MiB'} lazy block`
          : '';
      const words = handlerWords(
        { handler: ctx.flavour?.handler ?? 'remap', granule: Number(granule) },
        formatAddress(page),
      );
      return {
        kind: 'lazyMmio',
        summary: `lazy MMIO: handle_mmio_fault will ${words}${split}`,
        mapIpa: page,
        ...(s.level < 3 ? { splitLevel: s.level } : {}),
      };
    }
    // Only tables on the walk (or none): verify passes vacuously and the page is guard-mapped.
    if (ctx.flavour?.handler === 'validInPlace')
      return {
        kind: 'other',
        summary: `handle_mmio_fault finds no leaf for ${formatAddress(far)}: it will MMIO_GUARD_MAP ${formatAddress(page)}, then find no lazy page to set VALID on (FailedToMap); sync_exception_current panics`,
        mapIpa: page,
      };
    return {
      kind: 'lazyMmio',
      summary: `handle_mmio_fault finds no leaf for ${formatAddress(far)}: it will MMIO_GUARD_MAP ${formatAddress(page)} and map it as device`,
      mapIpa: page,
    };
  }
  if ((esr & ~PERMISSION_MASK) === PERMISSION)
    return {
      kind: 'permission',
      summary: `permission fault at ${formatAddress(far)}: unhandled, sync_exception_current panics`,
    };
  if (esr === EXT_DABT)
    return {
      kind: 'externalAbort',
      summary: `synchronous external abort at ${formatAddress(far)}: the hypervisor refused the access (page ${formatAddress(page)} is not MMIO-guard mapped); sync_exception_current panics`,
    };
  return {
    kind: 'other',
    summary: `${e.ecName}${e.abort ? ` (${e.abort.fsc.name})` : ''}: not an MMIO fault, sync_exception_current panics`,
  };
}

/** The verdict an access to `walk.va` would get now (the ESR the CPU would report, synthesized). */
export function predictAccess(
  walk: Translation,
  write = false,
  lazyBit = DEFAULT_LAZY_BIT,
  ctx: VerdictContext = {},
): FaultVerdict | undefined {
  if (!walk.fault || walk.fault.kind === 'unknown') return undefined; // no walk, no access to predict
  // No regime covers the address, or the MMU is off: pvmfw's handler is never asked about it.
  if (walk.base === undefined || walk.fault.kind === 'disabled') return undefined;
  const lvl = BigInt(Math.max(0, walk.fault.level) & 3);
  const wnr = write ? 0x40n : 0n;
  if (walk.fault.kind === 'translation')
    return faultVerdict(TRANSLATION | lvl | wnr, walk.va, walk, lazyBit, ctx);
  if (walk.fault.kind === 'permission')
    return faultVerdict(PERMISSION | lvl | wnr, walk.va, walk, lazyBit, ctx);
  return faultVerdict(0x9600_0000n | 0x8n | lvl, walk.va, walk, lazyBit, ctx);
}
