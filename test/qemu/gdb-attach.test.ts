// Attaching the client to a QEMU whose guest is already running. QEMU pauses the guest when a
// debugger connects and sends that stop (T02) without being asked; the client must not take it for
// the reply to its first request.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectTcp, type StopEvent } from '../../src/gdb';
import { buildMini } from '../harness/mini';
import { useQemu } from '../harness/node-test';

void describe('gdb client attaching to a running QEMU', () => {
  const suite = useQemu(() => ({ kernel: buildMini().elf, running: true }));

  void test('the attach-time stop is an event, and the target XML is still read', async () => {
    // Let the guest run for a moment so the connection really is an attach to a running VM.
    await new Promise((r) => setTimeout(r, 300));
    const gdb = await connectTcp('127.0.0.1', suite.qemu.port, { timeoutMs: 5000 });
    try {
      assert.ok(gdb.registers.get('TTBR0_EL1'), 'TTBR0_EL1 in the target description');
      assert.ok(gdb.registers.all.length > 34, `${gdb.registers.all.length} registers`);
      const stop: StopEvent = await gdb.queryStopReason();
      assert.equal(stop.kind, 'signal');
      const pc = await gdb.readRegister('pc');
      assert.ok(pc > 0n, `pc 0x${pc.toString(16)}`);
    } finally {
      await gdb.close({ detach: true });
    }
  });
});
