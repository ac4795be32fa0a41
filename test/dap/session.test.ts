// Session life cycle through the adapter with real QEMU: attach to a QEMU someone else started
// (left running or paused on disconnect), clear errors (QEMU missing, port refused, wrong
// architecture, an ELF that does not match), and the session ending cleanly when QEMU dies or quits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort, startQemu, type QemuInstance } from '../harness/qemu';
import { buildMini } from '../harness/mini';
import { readFileSync } from 'node:fs';
import { demoQemu } from '../qemu/firmware-support';
import {
  adapterMain,
  attachTo,
  buildGuest,
  childrenOf,
  Dap,
  demoLaunch,
  processAlive,
  withDap,
} from './support';

function qemuPid(dap: Dap): number {
  const m = /QEMU \(pid (\d+)\)/.exec(dap.transcript());
  assert.ok(m, 'the adapter names the QEMU it started');
  return Number(m[1]);
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!processAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return !processAlive(pid);
}

void describe('attach to a QEMU started elsewhere', () => {
  let qemu: QemuInstance | undefined;
  before(async () => {
    buildGuest();
    qemu = await startQemu(demoQemu('normal', { smp: 2 }));
  });
  after(async () => {
    await qemu?.kill();
  });

  void test('attach at entry, two vCPUs, disconnect leaves the guest running', async () => {
    const q = qemu;
    assert.ok(q);
    const dap = new Dap();
    await dap.start();
    try {
      const stop = await attachTo(dap, q.port);
      assert.equal(stop.reason, 'entry');
      assert.equal((await dap.topFrame()).name, '_start');
      const threads = (await dap.dc.threadsRequest()).body.threads;
      assert.equal(threads.length, 2);
      assert.match(threads[0].name, /^vCPU 0/);
      assert.match(threads[1].name, /^vCPU 1/);
      // Each vCPU has its own registers and stack: vCPU 1 is still at the reset entry too.
      const second = (await dap.dc.stackTraceRequest({ threadId: threads[1].id })).body.stackFrames;
      assert.ok(second.length >= 1);
      assert.match(second[0].instructionPointerReference ?? '', /^0x[0-9a-f]+$/);
      await dap.dc.disconnectRequest({ terminateDebuggee: false });
    } finally {
      await dap.stop();
    }
    // Detached with the guest running: it reaches the end of its scenario on its own.
    await q.waitForOutput('parked at scenario_done', 10000);
    assert.equal(q.exitStatus(), undefined);
  });

  void test('attach again to the parked guest (onDisconnect: pause), QEMU keeps running', async () => {
    const q = qemu;
    assert.ok(q);
    const dap = new Dap();
    await dap.start();
    try {
      const stop = await attachTo(dap, q.port, { onDisconnect: 'pause' });
      assert.equal(stop.reason, 'entry');
      const pc = (await dap.topFrame()).name;
      assert.match(pc, /^scenario_done/);
      await dap.dc.disconnectRequest({ terminateDebuggee: false });
    } finally {
      await dap.stop();
    }
    assert.equal(q.exitStatus(), undefined, 'QEMU keeps running after an attach session');
  });
});

void describe('errors', () => {
  before(() => buildGuest());

  void test('a missing QEMU binary is named', () =>
    withDap(async (dap) => {
      await dap.dc.initializeRequest({ adapterID: 'pvmfw-mmu', pathFormat: 'path' });
      await assert.rejects(
        dap.dc.launchRequest(demoLaunch({ qemu: '/nonexistent/qemu-system-aarch64' })),
        /QEMU binary '\/nonexistent\/qemu-system-aarch64' not found/,
      );
    }));

  void test('qemuArgs that bring their own gdbstub are refused before anything runs', () =>
    withDap(async (dap) => {
      await dap.dc.initializeRequest({ adapterID: 'pvmfw-mmu', pathFormat: 'path' });
      const launch = demoLaunch({ qemuArgs: ['-M', 'virt', '-s'] });
      await assert.rejects(dap.dc.launchRequest(launch), /remove '-s' from "qemuArgs"/);
      assert.doesNotMatch(dap.transcript(), /QEMU \(pid/);
    }));

  void test('a refused gdb port says what to start', async () => {
    const port = await freePort();
    const dap = new Dap();
    await dap.start();
    try {
      await dap.dc.initializeRequest({ adapterID: 'pvmfw-mmu', pathFormat: 'path' });
      await assert.rejects(
        dap.dc.attachRequest({ gdb: `127.0.0.1:${port}` } as never),
        new RegExp(
          `Nothing accepts connections at 127\\.0\\.0\\.1:${port}.*-gdb tcp:127\\.0\\.0\\.1:${port}`,
        ),
      );
    } finally {
      await dap.stop();
    }
  });

  void test('a 32-bit Arm QEMU is refused as the wrong architecture, and killed', () =>
    withDap(async (dap) => {
      await dap.dc.initializeRequest({ adapterID: 'pvmfw-mmu', pathFormat: 'path' });
      const args = {
        qemu: 'qemu-system-arm',
        qemuArgs: ['-M', 'virt', '-nic', 'none', '-display', 'none', '-monitor', 'none', '-serial', 'null'],
      };
      await assert.rejects(
        dap.dc.launchRequest(args as never),
        /describes a arm target; pvmfw-mmu debugs aarch64 guests/,
      );
      assert.ok(await waitGone(qemuPid(dap), 3000), 'the QEMU it started is gone (and reaped)');
    }));

  void test('an ELF that is not the guest is refused', async () => {
    const mini = buildMini();
    const dap = new Dap();
    await dap.start();
    try {
      await dap.dc.initializeRequest({ adapterID: 'pvmfw-mmu', pathFormat: 'path' });
      await assert.rejects(
        dap.dc.launchRequest(demoLaunch({ program: mini.elf })),
        /does not match the guest/,
      );
      assert.ok(await waitGone(qemuPid(dap), 3000));
    } finally {
      await dap.stop();
    }
  });

  void test('QEMU killed mid-step: the session ends within a second, no zombie', () =>
    withDap(async (dap) => {
      await dap.launch(demoLaunch());
      const pid = qemuPid(dap);
      const m = dap.mark();
      const t0 = Date.now();
      process.kill(pid, 'SIGKILL');
      await dap.dc.stepInRequest({ threadId: 1, granularity: 'instruction' }).catch(() => undefined);
      const exited = await dap.next<{ exitCode: number }>('exited', m, () => true, 1000);
      assert.equal(exited.exitCode, 128 + 9, 'SIGKILL');
      await dap.next('terminated', m, () => true, 1000);
      assert.ok(Date.now() - t0 < 1000);
      assert.ok(await waitGone(pid, 1000), 'QEMU reaped');
    }));

  void test('QEMU quitting (monitor quit) ends the session with exited + terminated', () =>
    withDap(async (dap) => {
      await dap.launch(demoLaunch());
      const pid = qemuPid(dap);
      const m = dap.mark();
      await dap.dc.evaluateRequest({ expression: 'monitor quit', context: 'repl' }).catch(() => undefined);
      await dap.next('exited', m, () => true, 1000);
      await dap.next('terminated', m, () => true, 1000);
      assert.ok(await waitGone(pid, 1000));
    }));

  void test('an adapter killed by its client takes its QEMU with it', async () => {
    const dap = new Dap();
    await dap.start();
    let pid: number;
    try {
      await dap.launch(demoLaunch());
      pid = qemuPid(dap);
    } finally {
      await dap.stop();
    }
    assert.ok(await waitGone(pid, 3000), 'QEMU killed when the adapter process ended');
  });

  void test('an adapter killed with SIGKILL takes its QEMU with it (parent-death signal)', async () => {
    const dap = new Dap();
    await dap.start();
    let killed = false;
    try {
      await dap.launch(demoLaunch());
      const qemu = qemuPid(dap);
      const adapter = childrenOf(process.pid).find((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'latin1').includes(adapterMain);
        } catch {
          return false;
        }
      });
      assert.ok(adapter, 'the adapter is a child process of this test');
      assert.ok(childrenOf(adapter).includes(qemu), "QEMU is the adapter's child");
      process.kill(adapter, 'SIGKILL');
      killed = true;
      // No exit handler runs on SIGKILL: only the kernel's parent-death signal can end QEMU here.
      assert.ok(await waitGone(qemu, 3000), `QEMU (pid ${qemu}) still running 3 s after its adapter died`);
    } finally {
      // A disconnect written to the dead adapter's stdin would fail with EPIPE.
      if (!killed) await dap.stop();
    }
  });

  void test('stopOnEntry false runs straight to the first breakpoint', async () => {
    const dap = new Dap();
    await dap.start();
    try {
      const stop = await dap.launch(demoLaunch({ stopOnEntry: false }), async () => {
        await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'handle_mmio_fault' }] });
      });
      assert.equal(stop.reason, 'breakpoint');
      assert.equal((await dap.topFrame()).name, 'handle_mmio_fault');
    } finally {
      await dap.dc.disconnectRequest({ terminateDebuggee: true }).catch(() => undefined);
      await dap.stop();
    }
  });

  void test('terminate kills the launched QEMU', async () => {
    const dap = new Dap();
    await dap.start();
    try {
      await dap.launch(demoLaunch());
      await dap.dc.continueRequest({ threadId: 1 });
      const pid = qemuPid(dap);
      const m = dap.mark();
      await dap.dc.terminateRequest();
      await dap.next('terminated', m, () => true, 3000);
      assert.ok(await waitGone(pid, 3000));
    } finally {
      await dap.stop();
    }
  });
});
