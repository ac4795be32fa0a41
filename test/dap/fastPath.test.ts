// The adapter's local fast path, end to end: a launch backs QEMU's RAM with a shared memfd and reads
// guest RAM from it, says so in the Debug Console and in every mmuChanged; with the fast path switched
// off it reads through the gdbstub and says why; both sessions show the same tables at the same stop,
// and nothing is left in /dev/shm.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import type { MmuChangedEventBody, PageTableResponseBody } from '../../src/shared/protocol';
import { buildGuest, demoLaunch, withDap, type Dap } from './support';

/** Launches the demo, stops in handle_mmio_fault; the stop's mmuChanged and TTBR0's root table. */
async function atFaultHandler(dap: Dap): Promise<{ mmu: MmuChangedEventBody; root: PageTableResponseBody }> {
  await dap.launch(demoLaunch(), async () => {
    await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'handle_mmio_fault' }] });
  });
  const m = dap.mark();
  await dap.dc.continueRequest({ threadId: 1 });
  const { mmu } = await dap.nextStopWithMmu(m);
  const root = await dap.custom<PageTableResponseBody>('pageTable', { regime: 'TTBR0_EL1' });
  return { mmu, root };
}

void describe('adapter: the local fast path', () => {
  void test('a launch reads RAM from the shared backend, says so, and shows what the gdbstub path shows', async () => {
    buildGuest();
    const shm = new Set(readdirSync('/dev/shm'));
    let fast: { mmu: MmuChangedEventBody; root: PageTableResponseBody } | undefined;
    await withDap(async (dap) => {
      fast = await atFaultHandler(dap);
      const console = dap.transcript();
      assert.match(
        console,
        /QEMU \(pid \d+\): .*-object memory-backend-memfd,id=mach-virt\.ram,size=536870912,share=on -machine memory-backend=mach-virt\.ram/,
      );
      assert.match(
        console,
        /physical memory via shared-memory: guest RAM \(512 MiB\) read from QEMU's shared memory backend/,
      );
      assert.equal(fast.mmu.memoryPath?.path, 'shared-memory');
      // The width the views write VAs at: pvmfw's TTBR0_EL1 alone, T0SZ = 25 (DESIGN.md): 39 bits.
      assert.equal(fast.mmu.vaBits, 39);
      assert.deepEqual(
        fast.mmu.regimes.filter((r) => r.enabled && r.regime.endsWith('_EL1')).map((r) => r.inputBits),
        [39],
      );
      await dap.dc.disconnectRequest({ terminateDebuggee: true });
    });
    const saved = process.env.PVMFW_MMU_LOCAL_RAM;
    process.env.PVMFW_MMU_LOCAL_RAM = 'off'; // the adapter process inherits it
    try {
      await withDap(async (dap) => {
        const stub = await atFaultHandler(dap);
        assert.doesNotMatch(dap.transcript(), /memory-backend/);
        assert.match(
          dap.transcript(),
          /physical memory via gdbstub: everything through the gdbstub: local RAM reads disabled by PVMFW_MMU_LOCAL_RAM/,
        );
        assert.equal(stub.mmu.memoryPath?.path, 'gdbstub');
        assert.ok(stub.root.entries.length > 0);
        assert.deepEqual(stub.root, fast!.root);
        assert.deepEqual(stub.mmu.regimes, fast!.mmu.regimes);
        assert.equal(stub.mmu.vaBits, fast!.mmu.vaBits);
        assert.deepEqual(stub.mmu.guardCounts, fast!.mmu.guardCounts);
        await dap.dc.disconnectRequest({ terminateDebuggee: true });
      });
    } finally {
      if (saved === undefined) delete process.env.PVMFW_MMU_LOCAL_RAM;
      else process.env.PVMFW_MMU_LOCAL_RAM = saved;
    }
    // The backend is a memfd: no name in any file system, nothing to clean up however QEMU ends (an
    // adapter killed with SIGKILL takes its QEMU with it: test/dap/session.test.ts).
    assert.deepEqual(
      readdirSync('/dev/shm').filter((f) => !shm.has(f)),
      [],
    );
  });
});
