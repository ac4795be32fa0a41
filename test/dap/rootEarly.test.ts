// The tree's first level asked at the stop, before the stop's picture is done (#15): the adapter then
// answers an EL1 root listing from that root table alone (rootPicture). Attached to Debian's kernel
// through the gdbstub (the slower path, so the picture is still being computed when the request
// comes) and through the local fast path, the listing asked at once equals the one asked after
// mmuChanged, for both roots, stop after stop. (The same equality, over the whole root and a page of it, is checked on the analysis alone in
// test/qemu/kernel.test.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PageTableResponseBody } from '../../src/shared/protocol';
import type { QemuInstance } from '../harness/qemu';
import { bootKernelToPanic } from '../qemu/kernel-boot';
import { attachTo, Dap } from './support';

for (const path of ['gdbstub', 'shared-memory'] as const) {
  void describe(`adapter: the root listing at the stop (${path})`, { timeout: 240_000 }, () => {
    let qemu: QemuInstance | undefined;
    const dap = new Dap();
    const saved = process.env.PVMFW_MMU_LOCAL_RAM;

    before(async () => {
      const k = await bootKernelToPanic();
      qemu = k.qemu;
      await k.gdb.close();
      // The adapter process inherits it. Read locally, the root pictures are made only when a root is
      // asked before the picture is done; through the gdbstub, before the whole walk.
      if (path === 'gdbstub') process.env.PVMFW_MMU_LOCAL_RAM = 'off';
      else delete process.env.PVMFW_MMU_LOCAL_RAM;
      await dap.start();
      await attachTo(dap, qemu.port, { program: undefined, onDisconnect: 'pause', stopOnEntry: true });
    });
    after(async () => {
      if (saved === undefined) delete process.env.PVMFW_MMU_LOCAL_RAM;
      else process.env.PVMFW_MMU_LOCAL_RAM = saved;
      await dap.dc.disconnectRequest({ terminateDebuggee: false }).catch(() => undefined);
      await dap.stop();
      await qemu?.kill();
    });

    void test('asked at the stop, the roots list what they list once the picture is done', async () => {
      const root = (regime: string) => dap.custom<PageTableResponseBody>('pageTable', { regime });
      for (let step = 0; step < 3; step++) {
        const m = dap.mark();
        await dap.dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
        await dap.nextStop(m);
        const early = await Promise.all([root('TTBR1_EL1'), root('TTBR0_EL1')]);
        const mmu = await dap.nextMmu(m);
        assert.equal(mmu.memoryPath?.path, path);
        const late = await Promise.all([root('TTBR1_EL1'), root('TTBR0_EL1')]);
        assert.deepEqual(early, late, `step ${step}`);
        assert.ok(early[0].entries.length > 0 && early[0].entries.every((e) => e.kind === 'table'));
        assert.equal(early[0].regime.regime, 'TTBR1_EL1');
        // The kernel runs in TTBR1's upper half: its VAs are written at all 64 bits.
        assert.ok(BigInt(mmu.pc) >= 2n ** 63n, `pc ${mmu.pc}`);
        assert.equal(mmu.vaBits, 64);
      }
    });
  });
}
