// What changed between two stops, from the tables' words (pure): the lazy-MMIO paths of the seed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { regimeFromRegisters } from '../../../src/aarch64';
import { diffTables, type TableSnapshot } from '../../../src/analysis/diff';

const regime = regimeFromRegisters('el1', {
  TTBR0_EL1: 0x40241000n,
  TCR_EL1: 0x680803519n,
  MAIR_EL1: 0xff04n,
  SCTLR_EL1: 0x30d8180dn,
});
const fmt = { granule: 4, stage: 1, oa: 'pa48' } as const;

function table(
  pa: number,
  level: number,
  vaStart: bigint,
  entries: Record<number, bigint>,
): [number, TableSnapshot] {
  const words = new Uint32Array(1024);
  for (const [i, v] of Object.entries(entries)) {
    words[2 * Number(i)] = Number(v & 0xffff_ffffn);
    words[2 * Number(i) + 1] = Number(v >> 32n);
  }
  const info = {
    base: 'TTBR0_EL1' as const,
    level,
    pa: BigInt(pa),
    vaStart,
    entries: 512,
    nonZero: Object.keys(entries).length,
    read: true,
  };
  return [pa, { info, fmt, regime, words }];
}

void describe('diffTables', () => {
  void test('a lazy 2 MiB block split into a table with its one touched page valid', () => {
    const prev = new Map([table(0x40223000, 2, 0n, { 80: 0x00e0_0000_0a00_0400n })]);
    const next = new Map([
      table(0x40223000, 2, 0n, { 80: 0x4025_0003n }),
      table(0x40250000, 3, 0xa00_0000n, { 0: 0x00e0_0000_0a00_0403n, 1: 0x00e0_0000_0a00_1402n }),
    ]);
    const changes = diffTables(prev, next, 55);
    assert.equal(changes.length, 2);
    const [split, page] = changes;
    assert.equal(split.kind, 'split');
    assert.equal(split.level, 2);
    assert.equal(split.vaStart, '0xa000000');
    assert.equal(split.vaEnd, '0xa1fffff');
    assert.deepEqual(split.newTable, { table: '0x40250000', level: 3, vaBase: '0xa000000' });
    assert.equal(split.descriptorAddress, `0x${(0x40223000 + 80 * 8).toString(16)}`);
    assert.match(split.summary, /L2 2 MiB block at 0x0a000000 split into a table/);
    assert.equal(page.kind, 'becameValid');
    assert.equal(page.level, 3);
    assert.equal(page.vaStart, '0xa000000');
    assert.equal(page.before, undefined);
  });

  void test('a lazy page made valid, a valid page made invalid, an attribute change', () => {
    const prev = new Map([
      table(0x40224000, 3, 0x900_0000n, {
        16: 0x00e0_0000_0901_0402n,
        17: 0x00e0_0000_0901_1403n,
        18: 0x0060_0000_0901_2f07n,
      }),
    ]);
    const next = new Map([
      table(0x40224000, 3, 0x900_0000n, {
        16: 0x00e0_0000_0901_0403n,
        17: 0x00e0_0000_0901_1402n,
        18: 0x0060_0000_0901_2f87n,
      }),
    ]);
    const kinds = diffTables(prev, next, 55).map((c) => [c.kind, c.vaStart, c.before, c.after]);
    assert.deepEqual(kinds, [
      ['becameValid', '0x9010000', '0xe0000009010402', '0xe0000009010403'],
      ['becameInvalid', '0x9011000', '0xe0000009011403', '0xe0000009011402'],
      ['modified', '0x9012000', '0x60000009012f07', '0x60000009012f87'],
    ]);
  });

  void test('no change, no report; a table replaced by a block is a merge', () => {
    const same = new Map([table(0x1000, 3, 0n, { 3: 0x3403n })]);
    assert.deepEqual(diffTables(same, new Map([table(0x1000, 3, 0n, { 3: 0x3403n })]), 55), []);
    const merged = diffTables(
      new Map([table(0x2000, 2, 0n, { 1: 0x5003n })]),
      new Map([table(0x2000, 2, 0n, { 1: 0x00e0_0000_0020_0401n })]),
      55,
    );
    assert.equal(merged[0].kind, 'merged');
  });
});
