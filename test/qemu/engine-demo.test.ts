// The table engine and the CLI against the demo firmware under real QEMU: golden text dumps of
// stage 1, stage 2, the lazy-MMIO report and the fault verdict at fixed points of every scenario.
// Regenerate the dumps with UPDATE_GOLDEN=1 (never implicitly).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { getRegister, hex } from '../../src/aarch64';
import { resolve } from 'node:path';
import { ElfImage, SymbolTable } from '../../src/elf';
import { connectTcp, type GdbClient } from '../../src/gdb';
import { startQemu, type QemuInstance } from '../harness/qemu';
import {
  anomalyList,
  capture as captureStop,
  golden,
  pagesIn,
  runTo as runToSymbol,
  type Capture,
} from './firmware-capture';
import {
  buildGuest,
  demoElf,
  demoQemu,
  loadSymbols,
  repoRoot,
  sym,
  type Scenario,
  type Symbols,
} from './firmware-support';

const cli = resolve(repoRoot, 'out/src/cli/main.js');

let symbols: Symbols;
let table: SymbolTable;

/** demo.elf's stop as text (test/qemu/firmware-capture.ts), its dumps without the flavour line. */
const capture = (gdb: GdbClient, point: string) =>
  captureStop(gdb, symbols, table, point, { flavour: false });
const runTo = (gdb: GdbClient, symbol: string, hits = 1) => runToSymbol(gdb, symbols, symbol, hits);

function scenarioSuite(
  scenario: Scenario,
  body: (ctx: { gdb: () => GdbClient; qemu: () => QemuInstance; reconnect: () => Promise<void> }) => void,
): void {
  void describe(`engine on the demo firmware, scenario ${scenario}`, () => {
    let qemu: QemuInstance | undefined;
    let gdb: GdbClient | undefined;
    before(async () => {
      buildGuest();
      symbols = loadSymbols();
      table = SymbolTable.fromElf(ElfImage.parse(new Uint8Array(readFileSync(demoElf))).elf);
      qemu = await startQemu(demoQemu(scenario));
      gdb = await connectTcp(qemu.host, qemu.port, { timeoutMs: 5000, requestTimeoutMs: 10000 });
    });
    after(async () => {
      await gdb?.close();
      await qemu?.kill();
    });
    body({
      gdb: () => gdb!,
      qemu: () => qemu!,
      reconnect: async () => {
        gdb = await connectTcp(qemu!.host, qemu!.port, { timeoutMs: 5000, requestTimeoutMs: 10000 });
      },
    });
  });
}

scenarioSuite('normal', ({ gdb, qemu, reconnect }) => {
  void test('before the first fault: RTC lazy, console guard-mapped', async () => {
    await runTo(gdb(), 'mmio_read32');
    const c = await capture(gdb(), 'before-first-fault');
    golden('demo-normal-1-before-first-fault', c.text);
    assert.deepEqual(pagesIn(c.guard, 'lazy').slice(0, 1), ['0x9010000']);
    assert.deepEqual(pagesIn(c.guard, 'guardMapped'), []);
    assert.deepEqual(
      c.guard.untracked.map((x) => x.start),
      ['0x9000000'],
      'the console: guard-mapped at boot, not a tracked region',
    );
    assert.deepEqual(c.guard.anomalies, []);
  });
  void test('in the first fault: verdict MAP 0x9010000', async () => {
    await runTo(gdb(), 'sync_exception_current');
    const c = await capture(gdb(), 'first-fault');
    golden('demo-normal-2-first-fault', c.text);
    assert.equal(c.verdict?.kind, 'lazyMmio');
    assert.equal(c.verdict?.mapIpa, '0x9010000');
  });
  void test('after the first fault: RTC valid at stage 1 and guard-mapped at stage 2', async () => {
    await runTo(gdb(), 'mmio_read32');
    const c = await capture(gdb(), 'after-first-fault');
    golden('demo-normal-3-after-first-fault', c.text);
    assert.deepEqual(pagesIn(c.guard, 'guardMapped'), ['0x9010000']);
    assert.deepEqual(
      c.guard.untracked.map((x) => x.start),
      ['0x9000000'],
    );
    assert.deepEqual(c.guard.anomalies, []);
  });
  void test('at scenario_done: touched pages valid at stage 1, MMIO_GUARD_UNMAPped, no leak', async () => {
    await runTo(gdb(), 'scenario_done');
    const c = await capture(gdb(), 'scenario_done');
    golden('demo-normal-4-scenario_done', c.text);
    assert.deepEqual(pagesIn(c.guard, 'guardMapped'), []);
    assert.deepEqual(pagesIn(c.guard, 'unmapped'), ['0x9010000', '0x9020000', '0xa000000', '0x4010000000']);
    assert.deepEqual(
      c.guard.untracked.map((x) => x.start),
      ['0x9000000'],
    );
    assert.deepEqual(anomalyList(c.guard), []);
  });
  void test('the pvmfw-mmu CLI on the live stub agrees (walk --json, guard, translate)', async () => {
    await gdb().close();
    const target = `127.0.0.1:${qemu().port}`;
    try {
      const w = spawnSync(process.execPath, [cli, 'walk', '--gdb', target, '--json'], { encoding: 'utf8' });
      assert.equal(w.status, 0, w.stderr);
      const j = JSON.parse(w.stdout) as {
        leaves: { va: string; lazy: string | null; valid: boolean }[];
        stats: { packets: number; tablesRead: number };
        memoryPath: { path: string };
      };
      assert.deepEqual(
        j.leaves.filter((l) => l.lazy === 'mapped').map((l) => l.va),
        ['0x9000000', '0x9010000', '0x9020000', '0xa000000', '0x4010000000'],
      );
      // QEMU is local: its RAM is read directly (test/qemu/fast-path.test.ts), no packet per table.
      assert.ok(j.stats.tablesRead === 8 && j.memoryPath.path === 'shared-memory');
      const g = spawnSync(process.execPath, [cli, 'guard', '--gdb', target, '--elf', demoElf], {
        encoding: 'utf8',
      });
      assert.equal(g.status, 0, g.stderr);
      assert.match(g.stdout, /guard-mapped outside the tracked regions: 0x09000000\n/);
      const t = spawnSync(process.execPath, [cli, 'translate', '--gdb', target, '0x9030000'], {
        encoding: 'utf8',
      });
      assert.equal(t.status, 4);
      assert.match(t.stdout, /pvmfw: lazy MMIO: handle_mmio_fault will MMIO_GUARD_MAP 0x09030000/);
    } finally {
      await reconnect();
    }
  });
});

scenarioSuite('a', ({ gdb }) => {
  void test('a valid lazy 2 MiB block: "Failed to break down block mapping"', async () => {
    await runTo(gdb(), 'panic_park');
    const c = await capture(gdb(), 'scenario a at panic_park');
    golden('demo-a-panic_park', c.text);
    assert.ok(
      c.guard.anomalies.some(
        (a) => a.code === 'lazyNotPage' && a.va === '0xa000000' && a.severity === 'error',
      ),
      JSON.stringify(anomalyList(c.guard)),
    );
  });
});

scenarioSuite('b', ({ gdb }) => {
  void test('fw_cfg valid without MMIO_GUARD_MAP: external abort verdict, validUnguarded', async () => {
    // Faults in order: RTC and virtio (lazy, handled), then fw_cfg's injected external abort.
    const seen: string[] = [];
    let c: Capture | undefined;
    for (let i = 0; i < 4 && c?.verdict?.kind !== 'externalAbort'; i++) {
      await runTo(gdb(), 'sync_exception_current');
      c = await capture(gdb(), 'scenario b in sync_exception_current');
      seen.push(`${c.verdict?.kind}@${hex(getRegister(c.registers, 'FAR_EL1') ?? 0n)}`);
    }
    assert.deepEqual(seen, ['lazyMmio@0x9010000', 'lazyMmio@0xa000000', 'externalAbort@0x9020000']);
    assert.ok(c);
    golden('demo-b-external-abort', c.text);
    assert.equal(c.verdict?.kind, 'externalAbort');
    assert.ok(
      c.guard.anomalies.some(
        (a) => a.code === 'validUnguarded' && a.va === '0x9020000' && a.severity === 'error',
      ),
      JSON.stringify(anomalyList(c.guard)),
    );
  });
});

scenarioSuite('c', ({ gdb }) => {
  void test('the lazy flag on a normal-memory page', async () => {
    await runTo(gdb(), 'panic_park');
    const c = await capture(gdb(), 'scenario c at panic_park');
    golden('demo-c-panic_park', c.text);
    const bugC = sym(symbols, 'bug_c_page');
    assert.ok(
      c.guard.anomalies.some((a) => a.code === 'lazyOnNormalMemory' && a.va === hex(bugC)),
      JSON.stringify(c.guard.anomalies.map((a) => a.message)),
    );
  });
});

scenarioSuite('d', ({ gdb }) => {
  void test('mmio_unmap_all skipped: every touched page still guard-mapped, each a guardLeak', async () => {
    await runTo(gdb(), 'scenario_done');
    const c = await capture(gdb(), 'scenario d at scenario_done');
    golden('demo-d-scenario_done', c.text);
    const leaked = ['0x9010000', '0x9020000', '0xa000000', '0x4010000000'];
    assert.deepEqual(pagesIn(c.guard, 'guardMapped'), leaked);
    assert.deepEqual(
      anomalyList(c.guard),
      leaked.map((p) => `guardLeak/warning ${p}`),
    );
  });
});
