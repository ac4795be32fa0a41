// The QEMU test harness itself: ports, output capture, start failures, and that QEMU never outlives
// its test (kill by PID, and the process-exit hook when a test process dies).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { connectTcp } from '../../src/gdb';
import { buildMini, repoRoot } from '../harness/mini';
import { startQemu } from '../harness/qemu';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0; it is dead for our purpose.
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'latin1'));
  } catch {
    return false;
  }
}

void describe('QEMU harness', () => {
  void test('starts halted on a free port with extra args, captures the UART, kills by PID', async () => {
    const mini = buildMini();
    const [a, b] = await Promise.all([
      startQemu({ kernel: mini.elf, extraArgs: ['-name', 'harness-a'] }),
      startQemu({ kernel: mini.elf, smp: 2, cpu: 'cortex-a57' }),
    ]);
    try {
      assert.notEqual(a.port, b.port);
      assert.ok(alive(a.pid) && alive(b.pid));
      assert.match(readFileSync(`/proc/${a.pid}/cmdline`, 'latin1'), /harness-a/);
      assert.ok(a.commandLine.includes('-S'));
      // Halted: nothing printed until a debugger lets it run.
      await assert.rejects(a.waitForOutput('mmu on', 300), /did not print/);
      const gdb = await connectTcp(a.host, a.port);
      await gdb.resume('continue');
      assert.match(await a.waitForOutput(/mini: mmu on/, 5000), /mini: mmu on/);
      await gdb.close();
    } finally {
      await a.kill();
      await b.kill();
      await a.kill(); // twice is harmless
    }
    assert.equal(alive(a.pid), false);
    assert.equal(alive(b.pid), false);
    assert.ok(a.exitStatus());
  });

  void test('a QEMU that cannot start fails with its own error message', async () => {
    await assert.rejects(
      startQemu({ kernel: '/nonexistent/kernel.elf' }),
      /QEMU failed to start[\s\S]*kernel/i,
    );
  });

  void test('QEMU dies with the test process even if the test never calls kill()', async () => {
    // A child node process starts QEMU and exits abruptly; its exit hook must kill QEMU.
    const script = `
      const { startQemu } = require(${JSON.stringify(`${repoRoot}/out/test/harness/qemu.js`)});
      startQemu({ kernel: ${JSON.stringify(buildMini().elf)} }).then((q) => {
        process.stdout.write(String(q.pid));
        process.exit(3);
      });`;
    let pid = 0;
    try {
      execFileSync(process.execPath, ['-e', script], { encoding: 'latin1' });
    } catch (e) {
      const err = e as { status: number; stdout: string };
      assert.equal(err.status, 3);
      pid = Number(err.stdout);
    }
    assert.ok(pid > 0, 'child reported the QEMU pid');
    // SIGKILL is delivered at once but the process takes a moment to go: poll for at most 3 s.
    for (let i = 0; i < 60 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(alive(pid), false, `QEMU ${pid} outlived its parent by 3 s`);
  });
});
