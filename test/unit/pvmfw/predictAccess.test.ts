// pvmfw's verdict is about what handle_mmio_fault does with an access: an address no regime covers,
// or any address while the MMU is off, never reaches that handler, so it gets no verdict (the Debug
// Console used to say "address outside every translation range" and then "it will MMIO_GUARD_MAP").
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { regimeFromRegisters, translate } from '../../../src/aarch64';
import { predictAccess } from '../../../src/pvmfw';
import { pvmfwLike } from '../aarch64/fixtures';

void describe('predictAccess: no verdict where pvmfw is never asked', () => {
  void test('an address outside every translation range has none', async () => {
    const f = pvmfwLike();
    const t = await translate(regimeFromRegisters('el1', f.regs), f.t.mem, 0xdeadbeefdeadbeefn);
    assert.equal(t.fault?.kind, 'translation');
    assert.match(t.fault?.message ?? '', /outside every translation range/);
    assert.equal(predictAccess(t), undefined);
  });

  void test('with the MMU off there is none', async () => {
    const f = pvmfwLike();
    const regs = { ...f.regs, SCTLR_EL1: 0n };
    const t = await translate(regimeFromRegisters('el1', regs), f.t.mem, 0x0901_0000n);
    assert.equal(t.fault?.kind, 'disabled');
    assert.equal(predictAccess(t), undefined);
  });

  void test('a lazy page inside the range still has its verdict', async () => {
    const f = pvmfwLike();
    const t = await translate(regimeFromRegisters('el1', f.regs), f.t.mem, 0x0a01_2345n);
    assert.match(predictAccess(t)?.summary ?? '', /MMIO_GUARD_MAP 0x0a012000/);
  });
});
