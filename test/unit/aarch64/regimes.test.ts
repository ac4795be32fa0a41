import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatPerms,
  ipaToPa,
  PhysImage,
  regimeFromRegisters,
  stage2Reader,
  translate,
  walk,
} from '../../../src/aarch64';
import { DATA_PAGE, MAIR_VMBASE, pvmfwLike, TABLE, Tables } from './fixtures';

void describe('TTBR1 half (48-bit, 4K)', () => {
  void test('upper-half VAs walk from TTBR1 starting at level 0', async () => {
    const t = new Tables();
    const l0 = t.table();
    const l1 = t.table();
    t.set(l0, 256, l1 | TABLE);
    t.set(l1, 0, 0x0060_0000_4000_0705n); // 1 GiB block, AttrIndx 1, AF, SH inner, XN
    // T0SZ 16 EPD0, T1SZ 16, TG1 4K (0b10), IPS 48-bit.
    const tcr = 16n | (1n << 7n) | (16n << 16n) | (2n << 30n) | (5n << 32n);
    const regime = regimeFromRegisters('el1', {
      TTBR0_EL1: 0n,
      TTBR1_EL1: l0 | (7n << 48n),
      TCR_EL1: tcr,
      MAIR_EL1: MAIR_VMBASE,
      SCTLR_EL1: 1n,
    });
    const r = await walk(regime, t.mem);
    assert.deepEqual(
      r.roots.map((x) => [x.base, x.enabled, x.startLevel, x.vaStart.toString(16)]),
      [
        ['TTBR0_EL1', false, 0, '0'],
        ['TTBR1_EL1', true, 0, 'ffff000000000000'],
      ],
    );
    assert.equal(r.leaves.length, 1);
    assert.equal(r.leaves[0].va, 0xffff_8000_0000_0000n);
    assert.equal(r.leaves[0].pa, 0x4000_0000n);
    assert.equal(r.leaves[0].size, 2 ** 30);
    const x = await translate(regime, t.mem, 0xffff_8000_1234_5678n);
    assert.equal(x.base, 'TTBR1_EL1');
    assert.equal(x.pa, 0x4000_0000n + 0x1234_5678n);
  });
});

void describe('stage 2 (VTTBR_EL2)', () => {
  void test('concatenated root tables at level 1 for a 40-bit IPA', async () => {
    const t = new Tables();
    const root = t.table(2n);
    const l2 = t.table();
    t.set(root, 1, l2 | TABLE); // IPA 0x4000_0000
    t.set(l2, 72, 0x0040_0000_0900_0000n | 0x400n | (3n << 6n) | (1n << 2n) | 1n); // device nGnRE 2 MiB, XN=10
    t.set(root, 513, 0x80_4000_0000n | 0x400n | (3n << 6n) | (0xfn << 2n) | 1n); // 1 GiB Normal WB in the 2nd table
    // T0SZ 24 (40 bits), SL0 1 (level 1), TG0 4K, PS 40-bit.
    const vtcr = 24n | (1n << 6n) | (2n << 16n);
    const regime = regimeFromRegisters('stage2', {
      VTTBR_EL2: root | (3n << 48n),
      VTCR_EL2: vtcr,
      HCR_EL2: 1n,
    });
    assert.equal(regime.roots[0].rootEntries, 1024);
    assert.equal(regime.roots[0].vmid, 3);
    const r = await walk(regime, t.mem);
    assert.deepEqual(
      r.leaves.map((l) => [
        l.va.toString(16),
        l.pa.toString(16),
        l.size,
        l.memType.name,
        formatPerms('stage2', l.perms),
      ]),
      [
        ['49000000', '9000000', 2 ** 21, 'Device-nGnRE', 'RW-/--'],
        ['8040000000', '8040000000', 2 ** 30, 'Normal WB', 'RWX/x0'],
      ],
    );
    const off = await walk(
      regimeFromRegisters('stage2', { VTTBR_EL2: root, VTCR_EL2: vtcr, HCR_EL2: 0n }),
      t.mem,
    );
    assert.equal(off.leaves.length, 0);
    assert.match(off.roots[0].reason ?? '', /HCR_EL2.VM = 0/);
  });
});

void describe('16K and 64K granules', () => {
  void test('16K: 47-bit VA starts at level 1; 32 MiB blocks and 16 KiB pages', async () => {
    const t = new Tables(0x8010_0000n, 16384n);
    const l1 = t.table();
    const l2 = t.table();
    const l3 = t.table();
    t.set(l1, 0, l2 | TABLE);
    t.set(l2, 3, 0x0600_0000n | 0x705n); // 32 MiB block at VA 0x0600_0000
    t.set(l2, 4, l3 | TABLE);
    t.set(l3, 2, DATA_PAGE | 0x8000_8000n); // VA 0x0800_8000
    const regime = regimeFromRegisters('el1', {
      TTBR0_EL1: l1,
      TCR_EL1: 17n | (2n << 14n) | (1n << 23n) | (2n << 32n),
      MAIR_EL1: MAIR_VMBASE,
      SCTLR_EL1: 1n,
    });
    assert.equal(regime.roots[0].startLevel, 1);
    assert.equal(regime.roots[0].rootEntries, 2048);
    const r = await walk(regime, t.mem);
    assert.deepEqual(
      r.leaves.map((l) => [l.level, l.va.toString(16), l.pa.toString(16), l.size]),
      [
        [2, '6000000', '6000000', 2 ** 25],
        [3, '8008000', '80008000', 2 ** 14],
      ],
    );
  });

  void test('64K with a 52-bit PA (FEAT_LPA): OA[51:48] from bits [15:12]', async () => {
    const t = new Tables(0x8010_0000n, 65536n);
    const l2 = t.table();
    const l3 = t.table();
    t.set(l2, 0, l3 | TABLE);
    t.set(l3, 1, 0x0000_0001_0000_0000n | (0xan << 12n) | 0x703n); // PA 0xa_0001_0000_0000
    const tcr = 22n | (1n << 14n) | (1n << 23n) | (6n << 32n); // T0SZ 22, TG0 64K, IPS 52
    const regime = regimeFromRegisters('el1', {
      TTBR0_EL1: l2,
      TCR_EL1: tcr,
      MAIR_EL1: MAIR_VMBASE,
      SCTLR_EL1: 1n,
    });
    assert.equal(regime.fmt.oa, 'lpa');
    assert.equal(regime.roots[0].startLevel, 2);
    const r = await walk(regime, t.mem);
    assert.equal(r.leaves.length, 1);
    assert.equal(r.leaves[0].va, 0x1_0000n);
    assert.equal(r.leaves[0].pa, 0xa_0001_0000_0000n);
    assert.equal(r.leaves[0].size, 65536);
  });
});

void describe('EL2 stage 1 (TTBR0_EL2, E2H = 0)', () => {
  void test('one VA range, TCR_EL2 layout, AP[2] read-only and XN at bit 54', async () => {
    const t = new Tables();
    const l1 = t.table();
    const l2 = t.table();
    t.set(l1, 1, l2 | TABLE);
    t.set(l2, 0, 0x4000_0000n | 0x705n); // RW, executable (bit 54 clear)
    t.set(l2, 1, 0x4020_0000n | 0x785n | (1n << 54n)); // RO, XN
    // T0SZ 25, TG0 4K, PS 40-bit (bits [18:16]).
    const regime = regimeFromRegisters('el2', {
      TTBR0_EL2: l1,
      TCR_EL2: 25n | (2n << 16n),
      MAIR_EL2: MAIR_VMBASE,
      SCTLR_EL2: 1n,
      HCR_EL2: 0n,
    });
    assert.deepEqual(
      regime.roots.map((r) => [r.base, r.startLevel, r.inputBits]),
      [['TTBR0_EL2', 1, 39]],
    );
    assert.equal(regime.paBits, 40);
    const r = await walk(regime, t.mem);
    assert.deepEqual(
      r.leaves.map((l) => formatPerms('el2', l.perms)),
      ['RWX', 'R--'],
    );
    const vhe = regimeFromRegisters('el2', {
      TTBR0_EL2: l1,
      TCR_EL2: 25n,
      SCTLR_EL2: 1n,
      HCR_EL2: 1n << 34n,
    });
    assert.match(vhe.problems.join(), /E2H = 1/);
  });
});

void describe('stage 1 under a non-identity stage 2', () => {
  void test('table IPAs go through stage 2; an unmapped IPA is reported on the entry', async () => {
    // Stage 1 tables built at IPAs 0x8010_0000..; stage 2 maps IPA 0x8000_0000 (1 GiB) to PA 0x1_0000_0000.
    const s1 = pvmfwLike();
    const phys = new PhysImage();
    for (const [ipa, bytes] of s1.t.mem.entries()) phys.write(ipa - 0x8000_0000n + 0x1_0000_0000n, bytes);
    const s2t = new Tables(0x2000_0000n);
    const root = s2t.table();
    s2t.set(root, 2, 0x1_0000_0000n | 0x7fdn); // IPA 0x8000_0000 -> PA 0x1_0000_0000
    const s2 = await walk(
      regimeFromRegisters('stage2', {
        VTTBR_EL2: root,
        VTCR_EL2: 25n | (1n << 6n) | (2n << 16n),
        HCR_EL2: 1n,
      }),
      s2t.mem,
    );
    assert.equal(ipaToPa(s2.store, 0x8010_0123n), 0x1_0010_0123n);
    assert.equal(ipaToPa(s2.store, 0x4000_0000n), undefined);
    const regime = regimeFromRegisters('el1', s1.regs);
    const direct = await walk(regime, phys);
    assert.equal(direct.leaves.length, 0, 'read as PAs the tables are not there');
    const r = await walk(regime, stage2Reader(phys, s2.store));
    assert.equal(r.leaves.length, 10);
    // A table pointer to an IPA stage 2 does not map: reported, walk goes on.
    s1.t.set(0x8010_0000n + 3n * 4096n, 9, 0x4000_0000n | TABLE);
    for (const [ipa, bytes] of s1.t.mem.entries()) phys.write(ipa - 0x8000_0000n + 0x1_0000_0000n, bytes);
    const bad = await walk(regime, stage2Reader(phys, s2.store));
    assert.match(bad.diagnostics.map((d) => d.message).join(), /not mapped by stage 2/);
    assert.equal(bad.leaves.length, 10);
  });
});
