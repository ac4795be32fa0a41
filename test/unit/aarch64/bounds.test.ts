// The walker on crafted table graphs (issue #10): fan-out at every level and cycles must cost
// bounded time and memory, with the diagnostics capped per kind and the rest summed up.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_MAX_DIAGNOSTICS,
  DEFAULT_MAX_TABLES,
  PhysImage,
  regimeFromRegisters,
  walk,
  type WalkResult,
} from '../../../src/aarch64';
import { BASE, cycle48, fanOut48, table } from './boundsFixtures';

const summaries = (r: WalkResult) => r.diagnostics.filter((d) => d.omitted !== undefined);

void describe('walker bounds on crafted table graphs', () => {
  void test('512-way fan-out at every level: bounded heap, the table cap, a capped and summarized list', async () => {
    const { mem, regs } = fanOut48();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const r = await walk(regimeFromRegisters('el1', regs), mem);
    const ms = performance.now() - t0;
    const grown = process.memoryUsage().heapUsed - heap0;
    // Before the fix: every one of 51M unfollowed entries became an object; V8 died at 4.3 GB.
    assert.ok(grown < 512 * 2 ** 20, `heap grew by ${(grown / 2 ** 20).toFixed(0)} MiB`);
    assert.ok(ms < 60_000, `walk took ${ms.toFixed(0)} ms`);
    assert.equal(r.stats.tablesVisited, DEFAULT_MAX_TABLES);
    assert.equal(r.stats.tablesRead, 3, 'shared tables are read once');
    const total = r.diagnosticTotals.tableCap ?? 0;
    // Level 2 scans ~3.6k tables of 512 entries, none followed; level 1 runs into the cap part way.
    assert.ok(total > 1_000_000, `tableCap total ${total}`);
    assert.equal(r.diagnostics.filter((d) => d.kind === 'tableCap').length, DEFAULT_MAX_DIAGNOSTICS + 1);
    const [s] = summaries(r);
    assert.equal(s.kind, 'tableCap');
    assert.equal(s.omitted, total - DEFAULT_MAX_DIAGNOSTICS);
    assert.match(
      s.message,
      /^… and [\d,]+ more diagnostics of kind tableCap \(the first at TTBR0_EL1 level \d 0x/,
    );
    assert.ok(s.message.includes((total - DEFAULT_MAX_DIAGNOSTICS).toLocaleString('en-US')));
  });

  void test('a cycle at every entry: each counted, 100 listed, one summary', async () => {
    const { mem, regs } = cycle48();
    const r = await walk(regimeFromRegisters('el1', regs), mem);
    assert.equal(r.diagnosticTotals.cycle, 512 * 512);
    assert.equal(r.diagnostics.length, DEFAULT_MAX_DIAGNOSTICS + 1);
    assert.equal(summaries(r)[0].omitted, 512 * 512 - DEFAULT_MAX_DIAGNOSTICS);
    assert.match(r.diagnostics[0].message, /\(cycle\): not followed$/);
    assert.match(summaries(r)[0].message, /^… and 262,044 more diagnostics of kind cycle/);
  });

  void test('maxDiagnostics sets the per-kind list; a kind under it has no summary', async () => {
    const { mem, regs } = fanOut48();
    const r = await walk(regimeFromRegisters('el1', regs), mem, { maxTables: 600, maxDiagnostics: 3 });
    assert.deepEqual(
      r.diagnostics.map((d) => d.kind),
      ['tableCap', 'tableCap', 'tableCap', 'tableCap'],
    );
    assert.equal(r.stats.tablesVisited, 600);
    // Three table descriptors pointing where there is no memory: under the cap, listed, no summary.
    table(mem, BASE, (i) => (i < 3 ? 0x1000_0000_0000n | 3n : 0n));
    const few = await walk(regimeFromRegisters('el1', regs), mem, { maxDiagnostics: 3 });
    assert.deepEqual(
      few.diagnostics.map((d) => [d.kind, d.omitted]),
      [
        ['unreadable', undefined],
        ['unreadable', undefined],
        ['unreadable', undefined],
      ],
    );
    assert.deepEqual(few.diagnosticTotals, { unreadable: 3 });
  });

  void test('the table cap counts a 64 KiB-granule table as 16 tables of 4 KiB', async () => {
    // T0SZ 22 (42 bits), TG0 64K: root at level 2 with 8192 entries, all -> one level-3 table.
    const mem = new PhysImage();
    const l2 = 0x4000_0000n;
    const l3 = 0x4001_0000n;
    table(mem, l2, () => l3 | 3n, 8192);
    table(mem, l3, (i) => 0x0060_0000_0000_0f07n | (BigInt(i) << 16n), 8192);
    const regs = {
      TTBR0_EL1: l2,
      TCR_EL1: 22n | (1n << 14n) | (1n << 23n) | (2n << 32n),
      MAIR_EL1: 0xff04n,
      SCTLR_EL1: 1n,
    };
    const r = await walk(regimeFromRegisters('el1', regs), mem, { maxTables: 160 });
    assert.equal(r.stats.tablesVisited, 10, 'root + 9 level-3 tables: 160 units of 16');
    assert.equal(r.store.length, 9 * 8192);
    assert.equal(r.diagnosticTotals.tableCap, 8192 - 9);
  });
});
