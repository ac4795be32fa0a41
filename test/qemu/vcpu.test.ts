// Which vCPU the CLI reads (#12): the demo booted with two vCPUs, the second parked with its MMU off
// (guest/src/el2_boot.S's parking loop), so the vCPUs' regimes differ. The CLI reads the vCPU that
// stopped unless --cpu names one, names it in text and JSON, warns that the regimes differ, and a
// snapshot records every vCPU so `--snapshot FILE --cpu 2` answers as the live `--cpu 2` did.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startQemu, type QemuInstance } from '../harness/qemu';
import { buildGuest, demoElf, demoQemu, repoRoot } from './firmware-support';

const cli = resolve(repoRoot, 'out/src/cli/main.js');

function run(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

void describe('CLI --cpu on a two-vCPU guest', { timeout: 120_000 }, () => {
  let qemu: QemuInstance | undefined;
  let gdb: string;

  before(async () => {
    buildGuest();
    qemu = await startQemu({ ...demoQemu('normal'), smp: 2, extraArgs: [] });
    gdb = `127.0.0.1:${qemu.port}`;
    // Let the boot vCPU reach its tables (the demo runs to scenario_done and parks).
    spawnSync(process.execPath, [cli, 'walk', '--gdb', gdb, '--resume'], { timeout: 30_000 });
    await qemu.waitForOutput(/scenario_done|SCENARIO DONE|done/i, 30_000).catch(() => undefined);
  });
  after(async () => {
    await qemu?.kill();
  });

  void test('the stopped vCPU by default, named; a warning that the regimes differ; --cpu 2 reads the parked one', () => {
    const one = run('walk', '--gdb', gdb, '--elf', demoElf);
    assert.equal(one.code, 0, one.err);
    assert.match(one.out, /from gdb 127\.0\.0\.1:\d+, vCPU 1 of 2/);
    assert.match(one.out, /TTBR0_EL1 +0x[0-9a-f]+ +root 0x/);
    assert.match(
      one.err,
      /warning: the vCPUs' translation registers differ: TTBR0_EL1 \(vCPU 1 0x[0-9a-f]+, vCPU 2 0x0\)/,
    );
    const two = run('walk', '--gdb', gdb, '--cpu', '2', '--json');
    assert.equal(two.code, 0, two.err);
    const j = JSON.parse(two.out) as {
      vcpu: number;
      regime: { roots: { enabled: boolean; reason?: string }[] };
    };
    assert.equal(j.vcpu, 2);
    assert.ok(j.regime.roots.every((r) => !r.enabled));
    const bad = run('walk', '--gdb', gdb, '--cpu', '3');
    assert.equal(bad.code, 1);
    assert.match(bad.err, /--cpu 3: the guest has 2 vCPUs \(1\.\.2\)/);
  });

  void test('a snapshot records both vCPUs; --cpu on it answers as live', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'pvmfw-mmu-vcpu-')), 'two.snap');
    const snap = run('snapshot', '--gdb', gdb, '--elf', demoElf, '-o', file);
    assert.equal(snap.code, 0, snap.err);
    const live = run('walk', '--gdb', gdb, '--cpu', '2');
    const saved = run('walk', '--snapshot', file, '--cpu', '2');
    assert.equal(saved.code, 0, saved.err);
    const roots = (s: string) => s.split('\n').filter((l) => /^ {2}TTBR[01]_EL1/.test(l));
    assert.deepEqual(roots(saved.out), roots(live.out));
    assert.match(saved.out, /from snapshot .*, vCPU 2/);
    const first = run('walk', '--snapshot', file);
    assert.deepEqual(roots(first.out), roots(run('walk', '--gdb', gdb, '--cpu', '1').out));
  });
});
