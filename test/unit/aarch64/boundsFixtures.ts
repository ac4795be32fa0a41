// Crafted table graphs for the bounds tests (walker and CLI).
import { PhysImage } from '../../../src/aarch64';

export const BASE = 0x4000_0000n;
const PAGE_DESC = 0x0060_0000_0000_0f07n;

/** A table at `at` whose every entry is `fill(i)` (512 entries: a 4 KiB-granule table). */
export function table(mem: PhysImage, at: bigint, fill: (i: number) => bigint, entries = 512): void {
  const b = new Uint8Array(entries * 8);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < entries; i++) dv.setBigUint64(i * 8, fill(i), true);
  mem.write(at, b);
}

const regsFor = (root: bigint, t0sz: bigint, ips: bigint): Record<string, bigint> => ({
  TTBR0_EL1: root,
  TCR_EL1: t0sz | (1n << 23n) | (ips << 32n), // EPD1: TTBR0 only
  MAIR_EL1: 0xff04n,
  SCTLR_EL1: 1n,
});

/** 48-bit VA, root at level 0: every entry of levels 0..2 points at the one table of the next level. */
export function fanOut48(): { mem: PhysImage; regs: Record<string, bigint> } {
  const mem = new PhysImage();
  const t = [0n, 1n, 2n, 3n].map((k) => BASE + k * 4096n);
  for (let l = 0; l < 3; l++) table(mem, t[l], () => t[l + 1] | 3n);
  table(mem, t[3], (i) => PAGE_DESC | (0x8000_0000n + BigInt(i) * 4096n));
  return { mem, regs: regsFor(t[0], 16n, 5n) };
}

/** 39-bit VA, root at level 1: levels 1 and 2 fan out to one level-3 table of 512 pages. */
export function fanOut39(): { mem: PhysImage; regs: Record<string, bigint> } {
  const mem = new PhysImage();
  const t = [0n, 1n, 2n].map((k) => BASE + k * 4096n);
  for (let l = 0; l < 2; l++) table(mem, t[l], () => t[l + 1] | 3n);
  table(mem, t[2], (i) => PAGE_DESC | (0x8000_0000n + BigInt(i) * 4096n));
  return { mem, regs: regsFor(t[0], 25n, 2n) };
}

/** 48-bit VA: every level-0 entry points at a level-1 table whose every entry points back. */
export function cycle48(): { mem: PhysImage; regs: Record<string, bigint> } {
  const mem = new PhysImage();
  table(mem, BASE, () => (BASE + 4096n) | 3n);
  table(mem, BASE + 4096n, () => BASE | 3n);
  return { mem, regs: regsFor(BASE, 16n, 5n) };
}
