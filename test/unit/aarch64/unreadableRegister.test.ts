// A register the stub could not read is never a 0: the regime says which decision it blocks, and
// translate gives no verdict ("unknown"), where a missing SCTLR_EL1 used to read as "MMU off".
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { regimeFromRegisters, translate, walk } from '../../../src/aarch64';
import { predictAccess } from '../../../src/pvmfw/verdict';
import { pvmfwLike } from './fixtures';

const without = (regs: Record<string, bigint>, ...names: string[]) =>
  Object.fromEntries(Object.entries(regs).filter(([k]) => !names.includes(k)));

void describe('unreadable registers', () => {
  void test('SCTLR_EL1 unreadable: the MMU state is unknown, not off, and translate has no verdict', async () => {
    const { t, regs } = pvmfwLike();
    const regime = regimeFromRegisters('el1', without(regs, 'SCTLR_EL1'));
    assert.equal(regime.mmuEnabled, undefined);
    const why = 'SCTLR_EL1 could not be read: cannot tell whether the MMU is on';
    assert.ok(regime.problems.includes(why), regime.problems.join('; '));
    for (const r of regime.roots) {
      assert.equal(r.enabled, false);
      assert.equal(r.unknown, true);
      assert.equal(r.reason, why);
    }
    const x = await translate(regime, t.mem, 0x8020_3000n);
    assert.equal(x.pa, undefined);
    assert.equal(x.fault?.kind, 'unknown');
    assert.equal(x.fault?.message, why);
    assert.doesNotMatch(x.fault?.message ?? '', /MMU off/);
    assert.equal(predictAccess(x), undefined, 'no pvmfw verdict is invented for an unknown walk');
    assert.equal((await walk(regime, t.mem)).leaves.length, 0);
  });

  void test('SCTLR_EL1.M = 0 still reads as MMU off (disabled, not unknown)', async () => {
    const { t, regs } = pvmfwLike();
    const regime = regimeFromRegisters('el1', { ...regs, SCTLR_EL1: 0n });
    assert.equal(regime.mmuEnabled, false);
    assert.equal(regime.roots[0].unknown, undefined);
    const x = await translate(regime, t.mem, 0x8020_3000n);
    assert.equal(x.fault?.kind, 'disabled');
    assert.match(x.fault?.message ?? '', /SCTLR_EL1\.M = 0: MMU off/);
  });

  void test('the AArch32 name SCTLR stands in for SCTLR_EL1', () => {
    const { regs } = pvmfwLike();
    const regime = regimeFromRegisters('el1', { ...without(regs, 'SCTLR_EL1'), SCTLR: regs.SCTLR_EL1 });
    assert.equal(regime.mmuEnabled, true);
    assert.equal(regime.roots[0].enabled, true);
  });

  void test('TCR_EL1 unreadable with the MMU on: the layout is unknown, nothing is walked', async () => {
    const { t, regs } = pvmfwLike();
    const regime = regimeFromRegisters('el1', without(regs, 'TCR_EL1'));
    assert.equal(regime.mmuEnabled, true);
    assert.ok(regime.roots.every((r) => !r.enabled && r.unknown));
    assert.match(regime.roots[0].reason ?? '', /^TCR_EL1 could not be read/);
    assert.equal((await translate(regime, t.mem, 0x8020_3000n)).fault?.kind, 'unknown');
  });

  void test('TTBR0_EL1 unreadable: that root is unknown and names the register', async () => {
    const { t, regs } = pvmfwLike();
    const regime = regimeFromRegisters('el1', without(regs, 'TTBR0_EL1'));
    assert.equal(regime.roots[0].unknown, true);
    assert.match(regime.roots[0].reason ?? '', /^TTBR0_EL1 could not be read/);
    const x = await translate(regime, t.mem, 0x8020_3000n);
    assert.equal(x.fault?.kind, 'unknown');
    assert.match(x.fault?.message ?? '', /TTBR0_EL1/);
  });

  void test('MAIR_EL1 unreadable: the walk goes on, memory types are unknown rather than Device-nGnRnE', async () => {
    const { t, regs } = pvmfwLike();
    const regime = regimeFromRegisters('el1', without(regs, 'MAIR_EL1'));
    assert.ok(regime.problems.some((p) => p.startsWith('MAIR_EL1 could not be read')));
    const x = await translate(regime, t.mem, 0x8020_3000n);
    assert.equal(x.pa, 0x8020_3000n);
    assert.equal(x.memType?.kind, 'reserved');
    assert.match(x.memType?.name ?? '', /unknown/);
  });

  void test('HCR_EL2 unreadable: stage 2 is unknown, not off', () => {
    const regime = regimeFromRegisters('stage2', { VTTBR_EL2: 0x8010_0000n, VTCR_EL2: 24n | (1n << 6n) });
    assert.equal(regime.mmuEnabled, undefined);
    assert.equal(regime.roots[0].enabled, false);
    assert.equal(regime.roots[0].unknown, true);
    assert.equal(regime.roots[0].reason, 'HCR_EL2 could not be read: cannot tell whether stage 2 is on');
    const off = regimeFromRegisters('stage2', { VTTBR_EL2: 0x8010_0000n, VTCR_EL2: 0n, HCR_EL2: 0n });
    assert.equal(off.mmuEnabled, false);
    assert.equal(off.roots[0].unknown, undefined);
    assert.match(off.roots[0].reason ?? '', /VM = 0/);
  });

  void test('EL2: SCTLR_EL2 or HCR_EL2 unreadable leaves the regime unknown', () => {
    const base = { TTBR0_EL2: 0x8010_0000n, TCR_EL2: 25n, MAIR_EL2: 0xffn, SCTLR_EL2: 1n, HCR_EL2: 0n };
    assert.equal(regimeFromRegisters('el2', base).roots[0].enabled, true);
    const noSctlr = regimeFromRegisters('el2', without(base, 'SCTLR_EL2'));
    assert.match(noSctlr.roots[0].reason ?? '', /^SCTLR_EL2 could not be read/);
    const noHcr = regimeFromRegisters('el2', without(base, 'HCR_EL2'));
    assert.equal(noHcr.roots[0].unknown, true);
    assert.match(noHcr.roots[0].reason ?? '', /^HCR_EL2 could not be read/);
  });
});
