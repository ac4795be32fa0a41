import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  coalesce,
  formatPerms,
  regimeFromRegisters,
  translate,
  walk,
  type Leaf,
  P_X1,
  P_W1,
  P_R0,
} from '../../../src/aarch64';
import { CODE_PAGE, DATA_PAGE, MAIR_VMBASE, pvmfwLike, SCTLR_MMU_WXN, TABLE, Tables } from './fixtures';

const key = (l: Leaf): string => `${l.base} L${l.level} ${l.va.toString(16)}->${l.pa.toString(16)} ${l.kind}`;

void describe('walker on a pvmfw-like EL1 image', () => {
  void test('finds every non-zero leaf in VA order, invalid ones included', async () => {
    const { t, regs } = pvmfwLike();
    const r = await walk(regimeFromRegisters('el1', regs), t.mem);
    assert.deepEqual(r.leaves.map(key), [
      'TTBR0_EL1 L3 9000000->9000000 page',
      'TTBR0_EL1 L3 9001000->9001000 invalid',
      'TTBR0_EL1 L2 a000000->a000000 invalid',
      'TTBR0_EL1 L1 40000000->40000000 invalid',
      'TTBR0_EL1 L2 80000000->80000000 block',
      'TTBR0_EL1 L3 80200000->80200000 page',
      'TTBR0_EL1 L3 80201000->80201000 page',
      'TTBR0_EL1 L3 80202000->80202000 page',
      'TTBR0_EL1 L3 80203000->80203000 page',
      'TTBR0_EL1 L3 80204000->80204000 page',
    ]);
    assert.equal(r.stats.tablesRead, 5);
    assert.equal(r.diagnostics.length, 0, JSON.stringify(r.diagnostics.map((d) => d.message)));
    // TCR.EPD1 = 1: only TTBR0 is walked.
    assert.deepEqual(
      r.roots.map((x) => [x.base, x.enabled, x.startLevel, x.inputBits]),
      [
        ['TTBR0_EL1', true, 1, 39],
        ['TTBR1_EL1', false, 0, 48], // T1SZ = 0 clamps to 48 bits
      ],
    );
    assert.equal(r.roots[0].asid, 5);
  });

  void test('memory types come from MAIR; permissions honour AP, XN and WXN', async () => {
    const { t, regs } = pvmfwLike();
    const r = await walk(regimeFromRegisters('el1', regs), t.mem);
    const at = (va: number): Leaf => r.leaves.find((l) => l.vaNum === va)!;
    assert.equal(at(0x0900_0000).memType.name, 'Device-nGnRE');
    assert.equal(at(0x8020_3000).memType.name, 'Normal WB RA WA');
    // UXN clear: EL0 may execute even without EL0 data access (Arm ARM stage-1 execute table).
    assert.equal(formatPerms('el1&0', at(0x8020_0000).perms), 'R-X/--X');
    assert.equal(formatPerms('el1&0', at(0x8020_2000).perms), 'R--/---');
    assert.equal(formatPerms('el1&0', at(0x8020_3000).perms), 'RW-/---');
    assert.equal(formatPerms('el1&0', at(0x0900_0000).perms), 'RW-/---');
  });

  void test('WXN removes execute from a writable page that has XN clear', async () => {
    const { t, regs, l3img } = pvmfwLike();
    t.set(l3img, 5, (DATA_PAGE & ~(3n << 53n)) | 0x8020_5000n); // RW, PXN/UXN clear
    const withWxn = await walk(regimeFromRegisters('el1', regs), t.mem);
    const noWxn = await walk(
      regimeFromRegisters('el1', { ...regs, SCTLR_EL1: SCTLR_MMU_WXN & ~(1n << 19n) }),
      t.mem,
    );
    const p = (x: typeof withWxn): number => x.leaves.find((l) => l.vaNum === 0x8020_5000)!.perms;
    assert.equal(p(withWxn) & P_X1, 0);
    assert.equal(p(noWxn) & P_X1, P_X1);
  });

  void test('table limits: APTable[1] makes everything below read-only, XNTable/PXNTable remove execute', async () => {
    const { t, regs, l1 } = pvmfwLike();
    const l2ram = 0x8010_0000n + 3n * 4096n;
    t.set(l1, 2, l2ram | TABLE | (1n << 62n) | (1n << 59n) | (1n << 61n));
    const r = await walk(regimeFromRegisters('el1', regs), t.mem);
    const leaf = r.leaves.find((l) => l.vaNum === 0x8020_3000)!;
    assert.equal(leaf.perms & P_W1, 0);
    const code = r.leaves.find((l) => l.vaNum === 0x8020_0000)!;
    assert.equal(code.perms & P_X1, 0);
    // HPD0 = 1 ignores the table limits.
    const hpd = await walk(
      regimeFromRegisters('el1', { ...regs, TCR_EL1: regs.TCR_EL1 | (1n << 41n) }),
      t.mem,
    );
    assert.equal(hpd.leaves.find((l) => l.vaNum === 0x8020_0000)!.perms & P_X1, P_X1);
  });

  void test('EL0-writable pages are never executable at EL1 (implicit PXN)', async () => {
    const { t, regs, l3img } = pvmfwLike();
    t.set(l3img, 6, (CODE_PAGE & ~(3n << 6n)) | (1n << 6n) | 0x8020_6000n); // AP = 01: RW at EL0
    const noWxn = { ...regs, SCTLR_EL1: 1n };
    const r = await walk(regimeFromRegisters('el1', noWxn), t.mem);
    const l = r.leaves.find((x) => x.vaNum === 0x8020_6000)!;
    assert.equal(formatPerms('el1&0', l.perms), 'RW-/RWX');
    assert.equal(l.perms & P_R0, P_R0);
    const w = await walk(regimeFromRegisters('el1', regs), t.mem); // WXN also removes EL0 execute
    assert.equal(formatPerms('el1&0', w.leaves.find((x) => x.vaNum === 0x8020_6000)!.perms), 'RW-/RW-');
  });

  void test('a cycle is reported and not followed; a bad pointer is reported and the walk goes on', async () => {
    const { t, regs, l1 } = pvmfwLike();
    const l2ram = 0x8010_0000n + 3n * 4096n;
    t.set(l2ram, 5, l1 | TABLE); // points back at the root
    t.set(l2ram, 6, 0x1_2345_6000n | TABLE); // unreadable
    t.set(l2ram, 7, 0x0800_0000n | TABLE); // outside RAM when RAM is given
    const r = await walk(regimeFromRegisters('el1', regs), t.mem, {
      ram: [{ start: 0x4000_0000n, end: 0x2_0000_0000n }],
    });
    const kinds = r.diagnostics.map((d) => `${d.kind}@${d.va.toString(16)}`).sort();
    assert.deepEqual(kinds, ['cycle@80a00000', 'outsideRam@80e00000', 'unreadable@80c00000']);
    assert.ok(
      r.leaves.some((l) => l.vaNum === 0x8020_4000),
      'walk continued past the bad entries',
    );
  });

  void test('a self-similar table graph is bounded by the table cap', async () => {
    const t = new Tables();
    const l1 = t.table();
    const l2 = t.table();
    const l3 = t.table();
    for (let i = 0; i < 512; i++) t.set(l1, i, l2 | TABLE);
    for (let i = 0; i < 512; i++) t.set(l2, i, l3 | TABLE);
    t.set(l3, 0, DATA_PAGE);
    const regs = {
      TTBR0_EL1: l1,
      TCR_EL1: 25n | (1n << 23n) | (2n << 32n),
      MAIR_EL1: MAIR_VMBASE,
      SCTLR_EL1: 1n,
    };
    const r = await walk(regimeFromRegisters('el1', regs), t.mem, { maxTables: 1000 });
    assert.equal(r.stats.tablesVisited, 1000);
    assert.equal(r.stats.tablesRead, 3, 'shared tables are read once');
    assert.ok(r.diagnostics.some((d) => d.kind === 'tableCap'));
  });

  void test('regions coalesce contiguous leaves with equal attributes', async () => {
    const { t, regs } = pvmfwLike();
    const r = await walk(regimeFromRegisters('el1', regs), t.mem);
    const regions = coalesce(r.leaves).map(
      (g) => `${g.va.toString(16)}+${g.size.toString(16)} x${g.count} ${g.first.kind}`,
    );
    assert.deepEqual(regions, [
      '9000000+1000 x1 page',
      '9001000+1000 x1 invalid',
      'a000000+200000 x1 invalid',
      '40000000+40000000 x1 invalid',
      '80000000+200000 x1 block',
      '80200000+2000 x2 page',
      '80202000+1000 x1 page',
      '80203000+2000 x2 page',
    ]);
  });

  void test('batches: one read call per level when the reader allows it', async () => {
    const { t, regs } = pvmfwLike();
    t.mem.calls = 0;
    await walk(regimeFromRegisters('el1', regs), t.mem);
    assert.equal(t.mem.calls, 3); // L1 root, the two L2 tables, the two L3 tables
  });
});

void describe('translate', () => {
  void test('valid page: trace of three levels and the PA', async () => {
    const { t, regs } = pvmfwLike();
    const x = await translate(regimeFromRegisters('el1', regs), t.mem, 0x8020_3abcn);
    assert.equal(x.pa, 0x8020_3abcn);
    assert.deepEqual(
      x.steps.map((s) => [s.level, s.index, s.decoded?.type]),
      [
        [1, 2, 'table'],
        [2, 1, 'table'],
        [3, 3, 'page'],
      ],
    );
    assert.equal(x.memType?.name, 'Normal WB RA WA');
  });
  void test('lazy page: translation fault at level 3 that names the page it will map', async () => {
    const { t, regs } = pvmfwLike();
    const x = await translate(regimeFromRegisters('el1', regs), t.mem, 0x0900_1010n);
    assert.equal(x.fault?.message, 'Translation fault, level 3');
    assert.equal(x.shadowPa, 0x0900_1010n);
    assert.equal(x.leaf?.sw, 1);
    const blk = await translate(regimeFromRegisters('el1', regs), t.mem, 0x4123_4567n);
    assert.equal(blk.fault?.message, 'Translation fault, level 1');
    assert.equal(blk.shadowPa, 0x4123_4567n);
  });
  void test('permission fault on a write to RODATA; access flag fault when AF = 0', async () => {
    const { t, regs, l3img } = pvmfwLike();
    const x = await translate(regimeFromRegisters('el1', regs), t.mem, 0x8020_2000n, { write: true });
    assert.equal(x.fault?.kind, 'permission');
    t.set(l3img, 4, (DATA_PAGE & ~(1n << 10n)) | 0x8020_4000n);
    const y = await translate(regimeFromRegisters('el1', regs), t.mem, 0x8020_4000n);
    assert.equal(y.fault?.message, 'Access flag fault, level 3');
  });
  void test('address outside the 39-bit range: translation fault level 0; unmapped: level of the zero entry', async () => {
    const { t, regs } = pvmfwLike();
    const x = await translate(regimeFromRegisters('el1', regs), t.mem, 0x80_0000_0000n);
    assert.equal(x.fault?.level, 0);
    const y = await translate(regimeFromRegisters('el1', regs), t.mem, 0xc000_0000n);
    assert.equal(y.fault?.message, 'Translation fault, level 1');
  });
});
