// How entries read in the Page Tables tree, and the webview's page-state diff (both pure).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GuardRegion, PteEntry } from '../../../src/shared/protocol';
import {
  coalesce,
  entryDescription,
  entryIcon,
  groupDescription,
  parseAddress,
  shortHex,
  sizeLabel,
} from '../../../src/ui/format';
import { COLOR } from '../../../src/ui/ids';
import { diffRegions, expand, snapshotOf } from '../../../media/diff';

function lazyPage(index: number, pa = 0x0900_0000 + index * 0x1000): PteEntry {
  const hex = (v: number): string => '0x' + v.toString(16);
  return {
    id: `TTBR0_EL1/3/${hex(0x4022_4000 + index * 8)}`,
    regime: 'TTBR0_EL1',
    level: 3,
    index,
    descriptorAddress: hex(0x4022_4000 + index * 8),
    descriptor: '0x' + (0x00e0_0000_0000_0402n | BigInt(pa)).toString(16),
    kind: 'lazy',
    vaStart: hex(pa),
    vaEnd: hex(pa + 0xfff),
    size: 4096,
    outputAddress: hex(pa),
    guard: 'lazy',
    fields: [],
  };
}

void describe('Page Tables labels', () => {
  void test('parseAddress takes what people type and rejects the rest', () => {
    assert.equal(parseAddress('0x0901_0000'), 0x0901_0000n);
    assert.equal(parseAddress(' 0X9010000 '), 0x0901_0000n);
    assert.equal(parseAddress('9010000h'), 0x0901_0000n);
    assert.equal(parseAddress('151060480'), 0x0901_0000n);
    assert.equal(parseAddress('0xffffffffffffffff'), 0xffff_ffff_ffff_ffffn);
    assert.equal(parseAddress('0x1ffffffffffffffff'), undefined);
    assert.equal(parseAddress('18446744073709551616'), undefined);
    assert.equal(parseAddress('x0'), undefined);
    assert.equal(parseAddress(''), undefined);
  });

  void test('sizes and hex read like the Arm ARM', () => {
    assert.equal(sizeLabel(4096), '4 KiB');
    assert.equal(sizeLabel(2 * 1024 * 1024), '2 MiB');
    assert.equal(sizeLabel(1024 ** 3), '1 GiB');
    assert.equal(sizeLabel(4097), '4097 B');
    assert.equal(shortHex('0x0000000009010000'), '0x09010000');
    assert.equal(shortHex('0x4010000000'), '0x4010000000');
  });

  void test('icons: anomaly beats guard state beats kind', () => {
    const e = lazyPage(16);
    assert.deepEqual(entryIcon(e), { icon: 'clock', color: COLOR.lazy });
    assert.deepEqual(entryIcon({ ...e, guard: 'guardMappedPending' }), {
      icon: 'sync',
      color: COLOR.guardMapped,
    });
    assert.deepEqual(entryIcon({ ...e, kind: 'page', guard: 'guardMapped' }), {
      icon: 'shield',
      color: COLOR.guardMapped,
    });
    const bad = {
      ...e,
      anomalies: [{ code: 'invalidPte' as const, severity: 'error' as const, message: 'x' }],
    };
    assert.equal(entryIcon(bad).color, COLOR.anomaly);
    assert.equal(entryIcon({ ...e, kind: 'invalidWithBits', guard: undefined }).color, COLOR.invalidWithBits);
  });

  void test('description: change marker first, then OA, size, kind', () => {
    const d = entryDescription(lazyPage(16), true);
    assert.match(d, /^Δ · → 0x09010000 · 4 KiB · lazy MMIO$/);
    assert.doesNotMatch(entryDescription(lazyPage(16), false), /Δ/);
  });

  void test('coalesce groups index-consecutive, OA-contiguous alike entries only', () => {
    const run = [0, 1, 2, 3].map((i) => lazyPage(i));
    const gap = lazyPage(5); // index gap
    const moved = lazyPage(6, 0x0a00_0000); // OA not contiguous with index 5
    const valid = { ...lazyPage(7, 0x0a00_1000), kind: 'page' as const, descriptor: '0x00e000000a001403' };
    const out = coalesce([...run, gap, moved, valid]);
    assert.equal(out.length, 4);
    assert.ok('entries' in out[0]);
    assert.equal(groupDescription(out[0]), '4 × 4 KiB lazy MMIO');
    assert.equal((out[1] as PteEntry).index, 5);
    assert.equal((out[3] as PteEntry).kind, 'page');
    // Runs shorter than the minimum stay as single entries.
    assert.equal(coalesce(run.slice(0, 2)).length, 2);
  });
});

void describe('MMIO Guard page diff', () => {
  const region = (runs: GuardRegion['runs']): GuardRegion => ({
    start: '0xa000000',
    end: '0xa200000',
    pageCount: 512,
    runs,
    counts: { lazy: 0, guardMapped: 0, guardMappedPending: 0, validUnguarded: 0, unmapped: 0, anomaly: 0 },
  });

  void test('expand covers runs exactly, leaving untracked pages marked', () => {
    const e = expand(snapshotOf(region([{ start: '0xa001000', pages: 2, state: 'guardMapped' }])));
    assert.equal(e[0], 255);
    assert.equal(e[1], 1);
    assert.equal(e[2], 1);
    assert.equal(e[3], 255);
  });

  void test('reports the pages that changed state between two stops', () => {
    const before = region([{ start: '0xa000000', pages: 512, state: 'lazy' }]);
    const after = region([
      { start: '0xa000000', pages: 1, state: 'guardMapped' },
      { start: '0xa001000', pages: 511, state: 'lazy' },
    ]);
    const d = diffRegions([snapshotOf(before)], [snapshotOf(after)]);
    assert.equal(d.count, 1);
    assert.deepEqual(d.changes, [{ address: 0xa000000n, before: 'lazy', after: 'guardMapped' }]);
    assert.equal(diffRegions([snapshotOf(after)], [snapshotOf(after)]).count, 0);
    // A region seen for the first time has nothing to compare with.
    assert.equal(diffRegions([], [snapshotOf(after)]).count, 0);
  });

  void test('a 1 GiB region (262,144 pages) diffs by runs: one change found, the rest unchanged', () => {
    const big = (state: 'lazy' | 'guardMapped', at: number): GuardRegion => ({
      start: '0x4000000000',
      end: '0x4040000000',
      pageCount: 262_144,
      runs: [
        { start: '0x4000000000', pages: at, state: 'lazy' },
        { start: '0x' + (0x40_0000_0000 + at * 4096).toString(16), pages: 1, state },
        { start: '0x' + (0x40_0000_0000 + (at + 1) * 4096).toString(16), pages: 262_143 - at, state: 'lazy' },
      ],
      counts: { lazy: 0, guardMapped: 0, guardMappedPending: 0, validUnguarded: 0, unmapped: 0, anomaly: 0 },
    });
    // No timed assertion here (shared, noisy machines): speed is the benchmarks' job.
    const d = diffRegions([snapshotOf(big('lazy', 65_536))], [snapshotOf(big('guardMapped', 65_536))]);
    assert.equal(d.count, 1);
    assert.equal(d.changes[0].address, 0x40_1000_0000n);
  });
});
