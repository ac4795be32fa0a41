// Synthetic translation tables in a sparse physical image, laid out the way vmbase/pvmfw does it
// (and variants the tests need: TTBR1, stage 2, other granules).
import { PhysImage } from '../../../src/aarch64';

export class Tables {
  readonly mem = new PhysImage();
  private next: bigint;
  constructor(
    pool = 0x8010_0000n,
    readonly pageBytes = 4096n,
  ) {
    this.next = pool;
  }
  /** A zeroed table (page) from the pool. `pages` > 1 for concatenated stage-2 roots. */
  table(pages = 1n): bigint {
    const a = this.next;
    this.mem.write(a, new Uint8Array(Number(this.pageBytes * pages)));
    this.next += this.pageBytes * pages;
    return a;
  }
  set(table: bigint, index: number, value: bigint): void {
    this.mem.write64(table + BigInt(index * 8), value);
  }
}

export const MAIR_VMBASE = 0xff04n; // Attr0 Device-nGnRE, Attr1 Normal WB RA WA
/** TG0 4K, T0SZ 25, EPD1, IPS 40-bit. */
export const TCR_VMBASE = 25n | (1n << 23n) | (2n << 32n);
export const SCTLR_MMU_WXN = 1n | (1n << 2n) | (1n << 12n) | (1n << 19n);

export const LAZY_PAGE = 0x00e0_0000_0000_0402n;
export const LAZY_BLOCK = 0x00e0_0000_0000_0400n;
export const DEVICE_PAGE = 0x00e0_0000_0000_0403n;
export const DATA_PAGE = 0x0060_0000_0000_0f07n;
export const CODE_PAGE = 0x0000_0000_0000_0f87n;
export const RODATA_PAGE = 0x0060_0000_0000_0f87n;
export const DATA_BLOCK = 0x0060_0000_0000_0f05n;
export const TABLE = 3n;

/**
 * A pvmfw-like EL1 image: 39-bit VA, root at level 1.
 * - L1[0]: table -> L2; L2[72] (0x0900_0000) table -> L3 with UART page 0x0900_0000 guard-mapped
 *   and 0x0900_1000 lazy; L2[80] (0x0a00_0000) lazy 2 MiB block.
 * - L1[1]: lazy 1 GiB block 0x4000_0000.
 * - L1[2]: table -> L2 (0x8000_0000): L2[0] 2 MiB RW data block, L2[1] table -> L3 with code,
 *   rodata and data pages at 0x8020_0000..
 */
export function pvmfwLike(): {
  t: Tables;
  regs: Record<string, bigint>;
  l3dev: bigint;
  l3img: bigint;
  l1: bigint;
} {
  const t = new Tables();
  const l1 = t.table();
  const l2dev = t.table();
  const l3dev = t.table();
  const l2ram = t.table();
  const l3img = t.table();
  t.set(l1, 0, l2dev | TABLE);
  t.set(l2dev, 72, l3dev | TABLE);
  t.set(l3dev, 0, DEVICE_PAGE | 0x0900_0000n);
  t.set(l3dev, 1, LAZY_PAGE | 0x0900_1000n);
  t.set(l2dev, 80, LAZY_BLOCK | 0x0a00_0000n);
  t.set(l1, 1, LAZY_BLOCK | 0x4000_0000n);
  t.set(l1, 2, l2ram | TABLE);
  t.set(l2ram, 0, DATA_BLOCK | 0x8000_0000n);
  t.set(l2ram, 1, l3img | TABLE);
  t.set(l3img, 0, CODE_PAGE | 0x8020_0000n);
  t.set(l3img, 1, CODE_PAGE | 0x8020_1000n);
  t.set(l3img, 2, RODATA_PAGE | 0x8020_2000n);
  t.set(l3img, 3, DATA_PAGE | 0x8020_3000n);
  t.set(l3img, 4, DATA_PAGE | 0x8020_4000n);
  return {
    t,
    l1,
    l3dev,
    l3img,
    regs: {
      TTBR0_EL1: l1 | (5n << 48n),
      TCR_EL1: TCR_VMBASE,
      MAIR_EL1: MAIR_VMBASE,
      SCTLR_EL1: SCTLR_MMU_WXN,
    },
  };
}
