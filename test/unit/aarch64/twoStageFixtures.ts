// A pvmfw-like guest under a stage 2 that is NOT an identity map, so an IPA shown as a PA is caught:
// the stage-1 tables of fixtures.pvmfwLike() sit at IPAs 0x8010_0000.. and stage 2 maps the RAM
// IPAs 0x8000_0000.. (1 GiB) to PA 0x1_0000_0000... Stage 2 (4K granule, 39-bit IPA, level-1 root):
//
//   L1[0] IPA 0x0000_0000 -> L2 table
//     L2[72] IPA 0x0900_0000 -> L3 table
//       L3[0] IPA 0x0900_0000 page -> PA 0x0900_0000, Device-nGnRE, S2AP RW, XN (the guest's console)
//       L3[1] IPA 0x0900_1000 zero (a stage-2 level-3 translation fault)
//       L3[2] IPA 0x0900_2000 page -> PA 0x0900_2000, Normal NC, read-only
//     L2[80] IPA 0x0a00_0000 zero (level 2)
//   L1[1] IPA 0x4000_0000 zero (level 1)
//   L1[2] IPA 0x8000_0000 block -> PA 0x1_0000_0000, Normal WB, RW, executable
//   L1[3] IPA 0xc000_0000 zero (level 1)
import { PhysImage } from '../../../src/aarch64';
import { pvmfwLike, TABLE, Tables } from './fixtures';

/** Stage-2 page: valid, page, AF, SH inner, S2AP RW, MemAttr `memAttr`, XN[1:0] `xn`. */
export function s2Page(pa: bigint, memAttr: number, s2ap = 3, xn = 0): bigint {
  return pa | 3n | 0x400n | (3n << 8n) | (BigInt(s2ap) << 6n) | (BigInt(memAttr) << 2n) | (BigInt(xn) << 53n);
}

/** Stage-2 block (levels 1, 2): as s2Page with the type bit clear. */
export function s2Block(pa: bigint, memAttr: number, s2ap = 3, xn = 0): bigint {
  return s2Page(pa, memAttr, s2ap, xn) & ~2n;
}

export const RAM_PA = 0x1_0000_0000n;
/** IPA -> PA of the RAM block. */
export const ramPa = (ipa: bigint): bigint => ipa - 0x8000_0000n + RAM_PA;

/** T0SZ 25 (39-bit IPA), SL0 1 (level 1), TG0 4K, PS 40-bit. */
export const VTCR_39 = 25n | (1n << 6n) | (2n << 16n);
export const HCR_VM = 1n;
export const HCR_FWB = 1n << 46n;

export interface TwoStageFixture {
  /** Stage-1 tables as pvmfwLike() built them, at their IPAs (edit, then call `build`). */
  readonly s1: ReturnType<typeof pvmfwLike>;
  /** Stage-2 tables, physical. */
  readonly s2: Tables;
  readonly s2l1: bigint;
  readonly s2l2: bigint;
  readonly s2l3: bigint;
  /** Physical memory: the stage-1 tables moved to their PAs, and the stage-2 tables. */
  build(): { mem: PhysImage; regs: Record<string, bigint> };
}

export function twoStageLike(hcr = HCR_VM): TwoStageFixture {
  const s1 = pvmfwLike();
  const s2 = new Tables(0x2000_0000n);
  const s2l1 = s2.table();
  const s2l2 = s2.table();
  const s2l3 = s2.table();
  s2.set(s2l1, 0, s2l2 | TABLE);
  s2.set(s2l2, 72, s2l3 | TABLE);
  s2.set(s2l3, 0, s2Page(0x0900_0000n, 0b0001, 3, 2));
  s2.set(s2l3, 2, s2Page(0x0900_2000n, 0b0101, 1, 2));
  s2.set(s2l1, 2, s2Block(RAM_PA, 0b1111));
  return {
    s1,
    s2,
    s2l1,
    s2l2,
    s2l3,
    build() {
      const mem = new PhysImage();
      for (const [ipa, bytes] of s1.t.mem.entries()) mem.write(ramPa(ipa), bytes);
      for (const [pa, bytes] of s2.mem.entries()) mem.write(pa, bytes);
      return {
        mem,
        regs: { ...s1.regs, VTTBR_EL2: s2l1 | (1n << 48n), VTCR_EL2: VTCR_39, HCR_EL2: hcr },
      };
    },
  };
}
