// WalkReuse: a stop that changed none of the tables a walk read, nor the registers its regime comes
// from, gets the last stop's walk; any change walks again. Whatever is reused, the picture must be
// the one a fresh analysis (no reuse) makes of the same memory and registers.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { type PhysImage } from '../../../src/aarch64';
import { analyzeStop, stopSummary, WalkReuse, type StopPicture } from '../../../src/analysis';
import { DATA_PAGE, DEVICE_PAGE, TABLE } from '../aarch64/fixtures';
import { s2Page, twoStageLike } from '../aarch64/twoStageFixtures';
import { pvmfwStop } from './stopFixtures';

function analyze(
  regs: Record<string, bigint>,
  mem: PhysImage,
  reuse?: WalkReuse,
  options: { maxTables?: number } = {},
): Promise<StopPicture> {
  return analyzeStop({
    stopId: 1,
    reason: 'step',
    threadId: 1,
    registers: regs,
    reader: mem,
    options: { lazyBit: 55, guardLogSymbol: 'guard_log', ...options },
    ...(reuse ? { reuse } : {}),
  });
}

/** What a walk found, entry by entry: tables, leaves (address, size, descriptor), diagnostics. */
function described(p: StopPicture): string[] {
  return [p.el1, p.stage2, p.el2].flatMap((w) =>
    w
      ? [
          ...w.result.tables.map((t) => `table L${t.level} ${t.pa.toString(16)} read=${t.read}`),
          ...w.result.leaves.map(
            (l) => `leaf ${l.va.toString(16)} ${l.pa.toString(16)} ${l.size} ${l.desc.toString(16)}`,
          ),
          ...w.result.diagnostics.map((d) => `diag ${d.kind} ${d.message}`),
        ]
      : [],
  );
}

void describe('walk reuse across stops', () => {
  void test('nothing changed: the same walk, and the picture a fresh analysis makes', async () => {
    const { regs, mem } = pvmfwStop();
    const reuse = new WalkReuse();
    const first = await analyze(regs, mem, reuse);
    const second = await analyze(regs, mem, reuse);
    assert.equal(reuse.reused, 1);
    assert.equal(second.el1.result, first.el1.result);
    assert.deepEqual(described(second), described(await analyze(regs, mem)));
    assert.deepEqual(stopSummary(first, second).changes, []);
  });

  void test('a changed descriptor, a changed register or other walk options walk again', async () => {
    const { regs, mem, f } = pvmfwStop();
    const reuse = new WalkReuse();
    const first = await analyze(regs, mem, reuse);
    // The lazy page after the UART mapped (what pvmfw's fault handler does).
    mem.write64(f.l3dev + 8n, DEVICE_PAGE | 0x0900_1000n);
    const mapped = await analyze(regs, mem, reuse);
    assert.equal(reuse.reused, 0);
    assert.notEqual(mapped.el1.result, first.el1.result);
    assert.deepEqual(described(mapped), described(await analyze(regs, mem)));
    assert.notDeepEqual(described(mapped), described(first));
    // MAIR changes what the same descriptors mean.
    const mair = { ...regs, MAIR_EL1: 0x44n };
    const other = await analyze(mair, mem, reuse);
    assert.equal(reuse.reused, 0);
    assert.deepEqual(described(other), described(await analyze(mair, mem)));
    // A table cap changes what is read.
    await analyze(mair, mem, reuse, { maxTables: 2 });
    assert.equal(reuse.reused, 0);
    // Then unchanged again: reused.
    await analyze(mair, mem, reuse, { maxTables: 2 });
    assert.equal(reuse.reused, 1);
  });

  void test('a walk that could not read a table is not reused (it may be readable now)', async () => {
    const { regs, mem, f } = pvmfwStop();
    // L1[3] points at a table outside the image: unreadable.
    mem.write64(f.l1 + 3n * 8n, 0x7000_0000n | TABLE);
    const reuse = new WalkReuse();
    const first = await analyze(regs, mem, reuse);
    assert.ok(first.el1.result.diagnosticTotals.unreadable, 'the fixture has an unreadable table');
    const second = await analyze(regs, mem, reuse);
    assert.equal(reuse.reused, 0);
    assert.notEqual(second.el1.result, first.el1.result);
  });

  void test('two stages: each walk is reused on its own evidence, the picture stays a fresh one', async () => {
    const fx = twoStageLike();
    const { mem, regs } = fx.build();
    const reuse = new WalkReuse();
    await analyze(regs, mem, reuse);
    await analyze(regs, mem, reuse);
    assert.equal(reuse.reused, 2, 'stage 2 and EL1 both reused');
    // A stage-2 page that no stage-1 table lies in: stage 2 walks again, EL1's tables read the same.
    mem.write64(fx.s2l3 + 3n * 8n, s2Page(0x0900_3000n, 0b0001, 3, 2));
    const after = await analyze(regs, mem, reuse);
    assert.equal(reuse.reused, 3, 'EL1 reused, stage 2 walked again');
    assert.deepEqual(described(after), described(await analyze(regs, mem)));
    // A stage-1 descriptor (at its PA): EL1 walks again.
    mem.write64(0x1_0000_0000n + (fx.s1.l3img - 0x8000_0000n) + 5n * 8n, DATA_PAGE | 0x8020_5000n);
    const changed = await analyze(regs, mem, reuse);
    assert.equal(reuse.reused, 4, 'stage 2 reused, EL1 walked again');
    assert.deepEqual(described(changed), described(await analyze(regs, mem)));
  });
});
