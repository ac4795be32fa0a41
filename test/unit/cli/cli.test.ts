import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { regimeFromRegisters, walk } from '../../../src/aarch64';
import { loadSnapshot, makeSnapshot } from '../../../src/analysis';
import { main, UsageError } from '../../../src/cli/run';
import { LAZY_BLOCK, pvmfwLike } from '../aarch64/fixtures';
import type { JsonReport } from '../../../src/pvmfw';

const cli = resolve(__dirname, '../../../src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-cli-'));

function fixtureSnapshot(name: string, mutate?: (f: ReturnType<typeof pvmfwLike>) => void): string {
  const f = pvmfwLike();
  mutate?.(f);
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(makeSnapshot(f.regs, f.t.mem, { source: 'unit test' })));
  return file;
}

async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(args, (s) => (out += s));
  return { code, out };
}

void describe('pvmfw-mmu CLI on snapshots', () => {
  void test('walk --json has the documented shape', async () => {
    const { code, out } = await run(['walk', '--snapshot', fixtureSnapshot('a.json'), '--json']);
    assert.equal(code, 0);
    const j = JSON.parse(out) as JsonReport;
    assert.equal(j.leaves.length, 10);
    assert.deepEqual(
      j.leaves.filter((l) => l.lazy).map((l) => `${l.va} ${l.lazy}`),
      ['0x9000000 mapped', '0x9001000 pending', '0xa000000 pending', '0x40000000 pending'],
    );
    assert.equal(j.regime.registers.MAIR_EL1, '0x000000000000ff04');
    assert.equal(j.stats.tablesRead, 5);
    assert.ok(j.regions.length > 0 && j.anomalies.length === 0);
  });

  void test('walk prints a readable region table', async () => {
    const { out } = await run(['walk', '--snapshot', fixtureSnapshot('b.json')]);
    assert.match(out, /^regime el1 \(stage 1, 4K granule, 40-bit PA, WXN\)/);
    assert.match(out, /^0x0080200000 0x80200000 +8K +2 page +R-X\/--X +Normal WB RA WA +-$/m);
    assert.match(out, /^0x0040000000 0x40000000 +1G +1 invalid .* pending$/m);
  });

  void test('translate shows every level and the verdict; exit 4 when it faults', async () => {
    const file = fixtureSnapshot('c.json');
    const ok = await run(['translate', '--snapshot', file, '0x80203008']);
    assert.equal(ok.code, 0);
    assert.match(ok.out, /=> PA 0x80203008 +Normal WB RA WA +RW-\/---/);
    const lazy = await run(['translate', '--snapshot', file, '0x0a012345']);
    assert.equal(lazy.code, 4);
    assert.match(lazy.out, /Translation fault, level 2/);
    assert.match(lazy.out, /MMIO_GUARD_MAP 0x0a012000 .* splitting the level-2 2 MiB lazy block/);
  });

  void test('guard exits 3 on error anomalies (scenario a: valid lazy block)', async () => {
    const file = fixtureSnapshot('d.json', (f) => f.t.set(0x8010_1000n, 80, LAZY_BLOCK | 1n | 0x0a00_0000n));
    const r = await run(['guard', '--snapshot', file]);
    assert.equal(r.code, 3);
    assert.match(
      r.out,
      /anomaly lazyNotPage: valid lazy-flagged L2 block at 0x0a000000 .*Failed to break down block mapping/,
    );
  });

  void test('walk --json and guard --json give one answer: the same anomalies', async () => {
    const file = fixtureSnapshot('d-one.json', (f) =>
      f.t.set(0x8010_1000n, 80, LAZY_BLOCK | 1n | 0x0a00_0000n),
    );
    const walk = JSON.parse((await run(['walk', '--snapshot', file, '--json'])).out) as {
      anomalies: { kind: string; message: string }[];
    };
    const guard = JSON.parse((await run(['guard', '--snapshot', file, '--json'])).out) as {
      guard: { anomalies: { code: string; message: string }[] };
    };
    assert.ok(walk.anomalies.some((a) => a.kind === 'lazyNotPage'));
    assert.deepEqual(
      walk.anomalies.map((a) => [a.kind, a.message]),
      guard.guard.anomalies.map((a) => [a.code, a.message]),
    );
  });

  void test('an unreadable SCTLR_EL1 is an error (exit 1, the register named), never "MMU off"', () => {
    const file = fixtureSnapshot('no-sctlr.json', (f) => {
      delete (f.regs as Record<string, bigint | undefined>).SCTLR_EL1;
    });
    const cli = join(__dirname, '../../../src/cli/main.js');
    for (const command of ['walk', 'guard']) {
      const r = spawnSync(process.execPath, [cli, command, '--snapshot', file], { encoding: 'utf8' });
      assert.equal(r.status, 1, `${command}: ${r.stdout}`);
      assert.match(r.stderr, /SCTLR_EL1 could not be read: cannot tell whether the MMU is on/);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line on stderr');
      assert.doesNotMatch(r.stdout, /MMU off/);
    }
  });

  void test('a snapshot reproduces the walk it was taken from', async () => {
    const f = pvmfwLike();
    const regime = regimeFromRegisters('el1', f.regs);
    const live = await walk(regime, f.t.mem);
    const loaded = loadSnapshot(JSON.parse(JSON.stringify(makeSnapshot(f.regs, f.t.mem))));
    const again = await walk(regimeFromRegisters('el1', loaded.registers), loaded.image);
    assert.deepEqual(
      again.leaves.map((l) => [l.va, l.desc]),
      live.leaves.map((l) => [l.va, l.desc]),
    );
  });
});

void describe('pvmfw-mmu CLI errors', () => {
  void test('usage errors are typed', async () => {
    await assert.rejects(run(['walk']), UsageError);
    await assert.rejects(
      run(['walk', '--snapshot', 'x', '--regime', 'el3']),
      /--regime expects el1, el2 or stage2/,
    );
    await assert.rejects(run(['frob', '--snapshot', 'x']), /unknown command 'frob'/);
    await assert.rejects(run(['translate', '--snapshot', 'x']), /translate expects one address/);
    await assert.rejects(run(['walk', '--gdb', 'localhost:99999']), /--gdb expects HOST:PORT/);
  });

  void test('as a process: one clear line and a non-zero exit', () => {
    const bad = spawnSync(process.execPath, [cli, 'walk', '--bogus'], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^pvmfw-mmu: Unknown option '--bogus'/);
    // Port 1 on loopback: nothing listens there.
    const down = spawnSync(process.execPath, [cli, 'walk', '--gdb', '127.0.0.1:1'], { encoding: 'utf8' });
    assert.equal(down.status, 1);
    assert.equal(down.stderr.trim().split('\n').length, 1);
    assert.match(down.stderr, /^pvmfw-mmu: cannot connect to the gdbstub at 127\.0\.0\.1:1/);
    const missing = spawnSync(process.execPath, [cli, 'walk', '--snapshot', join(dir, 'nope.json')], {
      encoding: 'utf8',
    });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^pvmfw-mmu: cannot read snapshot/);
  });
});
