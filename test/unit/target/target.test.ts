// The target model without DAP: a snapshot stands for one stop (the stop context answers, run
// control is refused in words), a launch refuses what it cannot start before spawning anything, and
// the listener hears stops and one exit.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PhysImage } from '../../../src/aarch64/reader';
import { SessionSetupError } from '../../../src/target/connect';
import type { Stop } from '../../../src/target/runControl';
import { SnapshotPort } from '../../../src/target/snapshotPort';
import { Target, type TargetListener } from '../../../src/target/target';
import { ramPa, twoStageLike } from '../aarch64/twoStageFixtures';

function recorder(): { listener: TargetListener; stops: Stop[]; exits: number[]; output: string[] } {
  const stops: Stop[] = [];
  const exits: number[] = [];
  const output: string[] = [];
  return {
    listener: {
      stopped: (s) => stops.push(s),
      exited: (c) => exits.push(c),
      output: (t, c) => output.push(`${c}: ${t}`),
    },
    stops,
    exits,
    output,
  };
}

const noClassify = () => Promise.resolve(undefined);

function snapshotTarget(): { target: Target; rec: ReturnType<typeof recorder> } {
  const rec = recorder();
  const target = new Target(rec.listener, noClassify);
  const image = PhysImage.fromRuns(new Uint8Array(16), [0x1000], [0], [16]);
  target.openSnapshot(new SnapshotPort({ pc: 0x40080000n, x0: 7n }, image, 'snapshot t.json'));
  return { target, rec };
}

void describe('Target', () => {
  void test('before any session it is neither stopped nor connected', async () => {
    const target = new Target(recorder().listener, noClassify);
    assert.throws(() => target.requireStopped(), /^Error: the target is running: pause it first$/);
    await assert.rejects(target.resume(), /^Error: not connected to a target$/);
    await assert.rejects(target.restart(), /not connected to a target/);
  });

  void test('a snapshot is one stop: the context reads its registers, run control is refused', async () => {
    const { target, rec } = snapshotTarget();
    assert.equal(target.mode, 'snapshot');
    const ctx = target.requireStopped();
    assert.equal(ctx.threadId, 1);
    assert.equal(ctx.stopId, 0);
    assert.equal(await ctx.reg('pc'), 0x40080000n);
    assert.equal(await ctx.reg('x1'), undefined);
    await assert.rejects(target.resume(), /not connected to a target/);
    await assert.rejects(target.pause(), /not connected to a target/);
    await assert.rejects(target.step(1, 'in'), /not connected to a target/);
    assert.equal(target.gdb, undefined);
    assert.deepEqual(rec.stops, []);
  });

  void test('a reported stop gets a fresh context and reaches the listener', async () => {
    const { target, rec } = snapshotTarget();
    const before = target.requireStopped();
    const stop: Stop = {
      reason: 'entry',
      threadId: 1,
      pc: 0x40080000n,
      description: 'Snapshot (post-mortem)',
    };
    target.reportStop(stop);
    assert.deepEqual(rec.stops, [stop]);
    assert.equal(target.lastStop, stop);
    const ctx = target.requireStopped();
    assert.notEqual(ctx, before);
    assert.equal(ctx.stopId, 1);
    assert.equal(await ctx.reg('x0'), 7n);
    target.refreshContext();
    assert.notEqual(target.requireStopped(), ctx);
    assert.equal(target.requireStopped().stopId, 1);
  });

  void test('it ends once; a stop after the end is not reported', async () => {
    const { target, rec } = snapshotTarget();
    await target.end(3);
    await target.end(4);
    await target.terminate();
    assert.deepEqual(rec.exits, [3]);
    assert.equal(target.ended, true);
    target.reportStop({ reason: 'pause', threadId: 1, pc: 0n });
    assert.deepEqual(rec.stops, []);
  });

  void test("a launch refuses qemuArgs that take the adapter's gdbstub, before spawning", async () => {
    const rec = recorder();
    const target = new Target(rec.listener, noClassify);
    await assert.rejects(
      target.launch({ qemu: '/nonexistent/qemu', qemuArgs: ['-M', 'virt', '-s'] }),
      (e: Error) =>
        e instanceof SessionSetupError &&
        e.message.startsWith(
          `remove '-s' from "qemuArgs": the adapter adds -gdb tcp:127.0.0.1:PORT -S itself`,
        ),
    );
    assert.equal(target.qemu, undefined);
    assert.deepEqual(rec.output, []);
  });

  void test('a launch with a missing QEMU binary names it', async () => {
    const rec = recorder();
    const target = new Target(rec.listener, noClassify);
    await assert.rejects(
      target.launch({ qemu: '/nonexistent/qemu-system-aarch64' }),
      (e: Error) =>
        e instanceof SessionSetupError &&
        e.message.includes("'/nonexistent/qemu-system-aarch64'") &&
        e.message.endsWith('(set "qemu" in the launch configuration)'),
    );
    assert.equal(target.qemu, undefined);
    assert.equal(target.mode, 'launch');
  });
});

void describe('SnapshotPort virtual reads', () => {
  void test("go through stage 2 when HCR_EL2.VM is set, as QEMU's `m` does", async () => {
    const f = twoStageLike().build();
    // VA 0x8020_3000 is a data page at IPA 0x8020_3000; stage 2 moves RAM to RAM_PA.
    const va = 0x8020_3008n;
    const pa = ramPa(va);
    assert.notEqual(pa, va);
    f.mem.write(va, Uint8Array.from([0xee, 0xee, 0xee, 0xee]));
    f.mem.write(pa, Uint8Array.from([0x11, 0x22, 0x33, 0x44]));
    const port = new SnapshotPort(f.regs, f.mem, 'snapshot two-stage.json');
    assert.deepEqual([...(await port.readMemory(va, 4))], [0x11, 0x22, 0x33, 0x44]);
    // A VA that does not translate is an error that says so, never stale bytes.
    await assert.rejects(port.readMemory(0x0902_0000n, 4), /has no translation in snapshot two-stage\.json/);
  });
});
