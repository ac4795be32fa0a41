// A stage-2 abort taken to EL2, as the Fault scope and the CLI report it: the demo under `s2=pkvm`
// records guard maps as pKVM does (invalid stage-2 entries with KVM_INVALID_PTE_MMIO_NOTE), so the
// guest's device accesses abort to the stub's EL2 vector. Stopped there, the picture's fault names the
// IPA from HPFAR_EL2 (QEMU's, not ours) and it must be the IPA our stage-1 walk gives FAR_EL2; the
// stage-2 walk of it ends on the annotated entry, said as a guard-mapped page.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hex } from '../../src/aarch64';
import { programSymbols, translateQuery } from '../../src/analysis';
import { readFileSync } from 'node:fs';
import { ElfImage, SymbolTable } from '../../src/elf';
import { BP_SOFTWARE, connectTcp, type GdbClient } from '../../src/gdb';
import { livePicture, stopRegisters } from '../harness/livePicture';
import { startQemu, type QemuInstance } from '../harness/qemu';
import { buildGuest, demoElf, demoQemu, loadSymbols, sym } from './firmware-support';

void describe('stage-2 abort at the EL2 vector (demo, s2=pkvm)', { timeout: 120_000 }, () => {
  let qemu: QemuInstance | undefined;
  let gdb: GdbClient;

  before(async () => {
    buildGuest();
    qemu = await startQemu(demoQemu('normal', {}, { s2: 'pkvm' }));
    gdb = await connectTcp(qemu.host, qemu.port, { timeoutMs: 5000, requestTimeoutMs: 10_000 });
  });
  after(async () => {
    await gdb?.close().catch(() => undefined);
    await qemu?.kill();
  });

  void test('the fault names HPFAR_EL2’s IPA, equal to stage 1’s translation of FAR_EL2, and the entry’s meaning', async () => {
    const symbols = loadSymbols();
    const lower = sym(symbols, 'el2_vectors') + 0x400n;
    await gdb.insertBreakpoint(BP_SOFTWARE, lower);
    let esr = 0n;
    for (let i = 0; i < 64; i++) {
      // Off the breakpoint first: continuing from it reports the same stop again.
      if (i > 0) await gdb.step(1, 15_000);
      await gdb.resume('continue');
      await gdb.waitForStop(15_000);
      esr = (await gdb.readRegister('ESR_EL2')) ?? 0n;
      if (((esr >> 26n) & 0x3fn) === 0x24n) break;
    }
    assert.equal((esr >> 26n) & 0x3fn, 0x24n, 'a data abort from EL1 reached the EL2 vector');
    const registers = await stopRegisters(gdb);
    assert.notEqual(registers.HPFAR_EL2, undefined, 'QEMU exposes HPFAR_EL2');
    const picture = await livePicture(gdb, {
      reason: 'breakpoint',
      registers,
      symbols: programSymbols(SymbolTable.fromElf(ElfImage.parse(new Uint8Array(readFileSync(demoElf))).elf)),
    });
    const s2 = picture.fault?.stage2;
    assert.ok(s2, `fault: ${JSON.stringify(picture.fault)}`);
    // The IPA stage 1 gives the faulting VA, by our walk, must be the one the CPU reported.
    const t = await translateQuery(picture, { address: hex(registers.FAR_EL2 ?? 0n) });
    assert.equal(s2.ipa, t.ipa ?? t.outputAddress);
    assert.equal(s2.s1ptw, false);
    assert.match(s2.meaning ?? '', /guard-mapped MMIO \(pKVM/);
    assert.match(picture.fault?.verdict.summary ?? '', new RegExp(`at IPA ${s2.ipa}.*guard-mapped MMIO`));
    await gdb.removeBreakpoint(BP_SOFTWARE, lower);
  });
});
