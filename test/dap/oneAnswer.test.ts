// One question, one answer: at every golden stop point of every demo scenario, the adapter's
// guardState request and the CLI's `guard --json` on the same halted QEMU give identical guard state
// (tracked regions and their page states, untracked guard mappings, the guard-call log, anomalies)
// and the same fault verdict. The adapter attaches, runs to the point, answers, and detaches leaving
// the guest paused; the CLI then reads the very same machine state through its own connection.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { GuardStateResponseBody } from '../../src/shared/protocol';
import { startQemu, type QemuInstance } from '../harness/qemu';
import { demoQemu, type Scenario } from '../qemu/firmware-support';
import { attachTo, buildGuest, Dap, demoElf, repoRoot } from './support';

const cli = resolve(repoRoot, 'out/src/cli/main.js');

interface CliGuard {
  guard: Omit<GuardStateResponseBody, 'stopId' | 'fault'>;
  fault?: GuardStateResponseBody['fault'];
}

/** Attaches, runs to the `hits`-th arrival at `fn`, returns the adapter's guard state, detaches paused. */
async function adapterAt(port: number, fn: string, hits: number): Promise<GuardStateResponseBody> {
  const dap = new Dap();
  await dap.start();
  try {
    await attachTo(dap, port, { onDisconnect: 'pause' }, () =>
      dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: fn }] }),
    );
    for (let i = 0; i < hits; i++) {
      const k = dap.mark();
      await dap.dc.continueRequest({ threadId: 1 });
      await dap.nextStop(k, 30_000);
    }
    assert.match((await dap.topFrame()).name, new RegExp(`^${fn}`));
    const g = await dap.custom<GuardStateResponseBody>('guardState', {});
    await dap.dc.disconnectRequest({ terminateDebuggee: false });
    return g;
  } finally {
    await dap.stop();
  }
}

function cliAt(port: number): CliGuard {
  const r = spawnSync(
    process.execPath,
    [cli, 'guard', '--gdb', `127.0.0.1:${port}`, '--elf', demoElf, '--json'],
    {
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  assert.ok(r.status === 0 || r.status === 3, `pvmfw-mmu guard exited ${String(r.status)}: ${r.stderr}`);
  return JSON.parse(r.stdout) as CliGuard;
}

const POINTS: Record<string, [fn: string, hits: number][]> = {
  normal: [
    ['mmio_read32', 1],
    ['sync_exception_current', 1],
    ['mmio_read32', 1],
    ['scenario_done', 1],
  ],
  a: [['panic_park', 1]],
  b: [['sync_exception_current', 3]],
  c: [['panic_park', 1]],
  d: [['scenario_done', 1]],
};

for (const [scenario, points] of Object.entries(POINTS)) {
  void describe(`guard state: the adapter and the CLI agree (scenario ${scenario})`, () => {
    let qemu: QemuInstance | undefined;
    before(async () => {
      buildGuest();
      qemu = await startQemu(demoQemu(scenario as Scenario));
    });
    after(async () => {
      await qemu?.kill();
    });
    for (const [i, [fn, hits]] of points.entries()) {
      void test(`stop ${i + 1}: ${fn}${hits > 1 ? ` (hit ${hits})` : ''}`, async () => {
        const q = qemu;
        assert.ok(q);
        const adapter = await adapterAt(q.port, fn, hits);
        const { guard, fault } = cliAt(q.port);
        const { stopId: _stopId, fault: adapterFault, ...adapterGuard } = adapter;
        assert.deepEqual(guard, adapterGuard);
        // The last exception the registers record, its walk and pvmfw's verdict on it.
        assert.deepEqual(fault, adapterFault);
        if (fn === 'sync_exception_current') assert.ok(fault?.verdict.summary, 'a fault to compare');
        // Not vacuous: the demo always has tracked regions and a log.
        assert.ok(adapterGuard.regions.length >= 4 && adapterGuard.log.length >= 3);
      });
    }
  });
}
