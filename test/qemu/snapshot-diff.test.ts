// Snapshots of the demo firmware under real QEMU, through the CLI as a user runs it: a snapshot
// answers `guard --json` exactly as the live target did at that stop, and `diff` of the snapshots
// taken before the first lazy fault (at mmio_read32) and after it returned (the next mmio_read32)
// names the RTC page 0x9010000 becoming valid (lazy -> guardMapped) and the MAP(0x9010000) between.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isGzip, type StopDiff } from '../../src/analysis';
import { connectTcp, BP_SOFTWARE, type GdbClient } from '../../src/gdb';
import { startQemu, type QemuInstance } from '../harness/qemu';
import { buildGuest, demoElf, demoQemu, loadSymbols, repoRoot, sym, type Symbols } from './firmware-support';

const cli = resolve(repoRoot, 'out/src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-snapdiff-'));

function run(args: string[], expectStatus = 0): string {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, expectStatus, `pvmfw-mmu ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

void describe('CLI snapshots of the demo firmware', () => {
  let qemu: QemuInstance | undefined;
  let gdb: GdbClient | undefined;
  let symbols: Symbols;
  let target = '';

  /** Continues to the next arrival at `symbol` (stepping off it first when already there). */
  async function runTo(symbol: string): Promise<void> {
    const at = sym(symbols, symbol);
    const g = gdb!;
    if ((await g.readRegister('pc', 1)) === at) await g.step(1, 15000);
    await g.insertBreakpoint(BP_SOFTWARE, at);
    await g.resume('continue');
    const stop = await g.waitForStop(15000);
    assert.equal(stop.kind, 'signal');
    await g.removeBreakpoint(BP_SOFTWARE, at);
    assert.equal(await g.readRegister('pc', 1), at, `stopped at ${symbol}`);
  }

  /**
   * At the current stop, with the test's client detached (the gdbstub takes one client): the live
   * `guard --json`, then a snapshot and the same report from it.
   */
  async function capture(name: string): Promise<{ file: string; live: unknown; replay: unknown }> {
    await gdb!.close();
    try {
      const live = JSON.parse(run(['guard', '--gdb', target, '--elf', demoElf, '--json'])) as Record<
        string,
        unknown
      >;
      const file = join(dir, `${name}.snap.gz`);
      const said = run(['snapshot', '--gdb', target, '--elf', demoElf, '-o', file]);
      assert.match(said, /program demo\.elf \(sha256 [0-9a-f]{8}…[0-9a-f]{4}\) -> .* KiB gzip\)\n$/);
      assert.ok(isGzip(readFileSync(file)));
      const replay = JSON.parse(run(['guard', '--snapshot', file, '--json'])) as Record<string, unknown>;
      assert.equal(live.source, `gdb ${target}`);
      assert.equal(replay.source, `snapshot ${file}`);
      return { file, live: { ...live, source: undefined }, replay: { ...replay, source: undefined } };
    } finally {
      gdb = await connectTcp(qemu!.host, qemu!.port, { timeoutMs: 5000, requestTimeoutMs: 10000 });
    }
  }

  before(async () => {
    buildGuest();
    symbols = loadSymbols();
    qemu = await startQemu(demoQemu('normal'));
    target = `127.0.0.1:${qemu.port}`;
    gdb = await connectTcp(qemu.host, qemu.port, { timeoutMs: 5000, requestTimeoutMs: 10000 });
  });
  after(async () => {
    await gdb?.close();
    await qemu?.kill();
  });

  void test('before and after the first lazy fault: guard --json replays exactly; diff names the RTC page and its MAP', async () => {
    await runTo('mmio_read32');
    const first = await capture('before-first-fault');
    assert.deepEqual(first.replay, first.live, 'the snapshot answers guard --json as the live target did');
    await runTo('mmio_read32');
    const second = await capture('after-first-fault');
    assert.deepEqual(second.replay, second.live);

    const d = JSON.parse(run(['diff', first.file, second.file, '--json'])) as StopDiff & {
      sameProgram: boolean;
      warnings: string[];
    };
    assert.equal(d.sameProgram, true);
    assert.deepEqual(d.warnings, []);
    const rtc = d.guard.transitions.filter((t) => t.start === '0x9010000');
    assert.deepEqual(rtc, [
      { start: '0x9010000', pages: 1, from: 'lazy', to: 'guardMapped', region: 'pl031 rtc' },
    ]);
    const maps = d.guard.calls.filter((c) => c.fn === 'MAP').map((c) => `${c.fn}(${c.arg})=${c.result}`);
    assert.deepEqual(maps, ['MAP(0x9010000)=0']);
    assert.equal(d.guard.callsLost, 0);
    // Stage 1: the lazy page made valid by the handler; stage 2: the EL2 stub's new mapping.
    const s1 = d.entries.find((c) => c.regime === 'TTBR0_EL1' && c.vaStart === '0x9010000');
    assert.equal(s1?.kind, 'becameValid');
    assert.deepEqual(
      s1?.changedFields?.map((x) => x.name),
      ['VALID'],
    );
    assert.ok(
      d.entries.some(
        (c) => c.regime === 'VTTBR_EL2' && c.vaStart === '0x9010000' && c.kind === 'becameValid',
      ),
      JSON.stringify(d.entries.map((c) => c.summary)),
    );
    assert.deepEqual(d.anomalies, { new: [], resolved: [] });

    const text = run(['diff', first.file, second.file]);
    assert.match(text, /program: demo\.elf \(sha256 .*\), the same in both\n/);
    assert.match(text, /TTBR0_EL1 L3 4 KiB entry at 0x09010000 became valid .*\n {6}VALID 0 → 1\n/);
    assert.match(
      text,
      /MMIO guard pages:\n(?: {2}.*\n)* {2}0x09010000 \(1 page, pl031 rtc\): untouched \(lazy\) → guard-mapped\n/,
    );
    assert.match(text, /guard calls between A and B .*:\n(?: {2}.*\n)* {2}#\d+ MAP\(0x09010000\) = 0\n/);
  });
});
