// Guard-state transitions per page run between two guard reports (pure): runs split and merged by
// state, pages leaving or entering the tracked regions, linear in runs for a 1 GiB region.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { guardTransitions, regionChanges, transitionText, type GuardPages } from '../../../src/analysis';
import type { GuardRegion, PageGuardState, PageRun } from '../../../src/shared/protocol';

const run = (start: number, pages: number, state: PageGuardState): PageRun => ({
  start: `0x${start.toString(16)}`,
  pages,
  state,
});

function region(start: number, runs: PageRun[], name?: string): GuardRegion {
  const pages = runs.reduce((n, r) => n + r.pages, 0);
  return {
    ...(name ? { name } : {}),
    start: `0x${start.toString(16)}`,
    end: `0x${(start + pages * 4096).toString(16)}`,
    pageCount: pages,
    runs,
    counts: { lazy: 0, guardMapped: 0, guardMappedPending: 0, validUnguarded: 0, unmapped: 0, anomaly: 0 },
  };
}

const pages = (regions: GuardRegion[], untracked: PageRun[] = []): GuardPages => ({ regions, untracked });

void describe('guardTransitions', () => {
  void test('a page mapped inside a lazy run: one transition, the rest unchanged', () => {
    const before = pages([region(0x900_0000, [run(0x900_0000, 16, 'lazy')], 'pl031 rtc')]);
    const after = pages([
      region(
        0x900_0000,
        [run(0x900_0000, 1, 'lazy'), run(0x900_1000, 1, 'guardMapped'), run(0x900_2000, 14, 'lazy')],
        'pl031 rtc',
      ),
    ]);
    const t = guardTransitions(before, after);
    assert.deepEqual(t, [
      { start: '0x9001000', pages: 1, from: 'lazy', to: 'guardMapped', region: 'pl031 rtc' },
    ]);
    assert.equal(transitionText(t[0]), '0x09001000 (1 page, pl031 rtc): untouched (lazy) → guard-mapped');
    assert.deepEqual(guardTransitions(after, after), []);
  });

  void test('adjacent pages with the same transition merge; outside the regions is untracked', () => {
    const before = pages(
      [region(0x1000_0000, [run(0x1000_0000, 2, 'guardMapped'), run(0x1000_2000, 2, 'guardMapped')])],
      [run(0x900_0000, 1, 'guardMapped')],
    );
    const after = pages([region(0x1000_0000, [run(0x1000_0000, 4, 'unmapped')])]);
    assert.deepEqual(guardTransitions(before, after), [
      { start: '0x9000000', pages: 1, from: 'guardMapped', to: 'untracked' },
      { start: '0x10000000', pages: 4, from: 'guardMapped', to: 'unmapped' },
    ]);
  });

  void test('a 1 GiB region: runs, not pages', () => {
    const gib = 262_144;
    const before = pages([region(0x4000_0000, [run(0x4000_0000, gib, 'lazy')])]);
    const after = pages([
      region(0x4000_0000, [
        run(0x4000_0000, gib - 1, 'lazy'),
        run(0x4000_0000 + (gib - 1) * 4096, 1, 'guardMapped'),
      ]),
    ]);
    const t = guardTransitions(before, after);
    assert.deepEqual(t, [{ start: '0x7ffff000', pages: 1, from: 'lazy', to: 'guardMapped' }]);
  });

  void test('regions by their bounds: added and removed', () => {
    const a = region(0x900_0000, [run(0x900_0000, 1, 'lazy')]);
    const b = region(0xa00_0000, [run(0xa00_0000, 1, 'lazy')]);
    const c = region(0x900_0000, [run(0x900_0000, 2, 'lazy')]);
    const d = regionChanges(pages([a, b]), pages([b, c]));
    assert.deepEqual(
      d.added.map((r) => r.end),
      ['0x9002000'],
    );
    assert.deepEqual(
      d.removed.map((r) => r.end),
      ['0x9001000'],
    );
  });
});
