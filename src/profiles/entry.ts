// A descriptor's EntryBits, from the raw value where it sits (listings) or from a walker leaf (the
// walk's columnar store, one leaf at a time).
import { blockAllowed, type DescriptorFormat } from '../aarch64/granule';
import type { Leaf } from '../aarch64/leaf';
import { decodeS2MemAttr, type MemoryType } from '../aarch64/mair';
import type { BaseRegister } from '../aarch64/regime';
import type { EntryBits, Meaning, Profile } from './types';

export interface RawEntry {
  readonly raw: bigint;
  readonly level: number;
  readonly fmt: DescriptorFormat;
  readonly base: BaseRegister;
  /** The regime's MAIR decode (stage 1). */
  readonly mair: readonly MemoryType[];
  readonly fwb?: boolean;
}

export function entryBits(e: RawEntry): EntryBits {
  const lo = Number(e.raw & 0xffff_ffffn);
  const hi = Number((e.raw >> 32n) & 0xffff_ffffn);
  const attr = (lo >>> 2) & (e.fmt.stage === 2 ? 0xf : 0x7);
  const device =
    e.fmt.stage === 2
      ? decodeS2MemAttr(attr, e.fwb ?? false).kind === 'device'
      : e.mair[attr]?.kind === 'device';
  return {
    lo,
    hi,
    level: e.level,
    valid: (lo & 1) === 1,
    leafLevel: e.level === 3 || blockAllowed(e.fmt.granule, e.level, e.fmt.oa),
    base: e.base,
    device,
  };
}

/** The meaning of a walker leaf under a profile. */
export function leafMeaning(profile: Profile, l: Leaf): Meaning | undefined {
  return profile.meaning({
    lo: l.lo,
    hi: l.hi,
    level: l.level,
    valid: l.valid,
    leafLevel: true,
    base: l.base,
    device: l.memType.kind === 'device',
  });
}
