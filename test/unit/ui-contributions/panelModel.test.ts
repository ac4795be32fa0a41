// The MMIO Guard panel at scale (#14 item 10), its pure parts: counts in words, long runs, the grid's
// zoom window and page cursor, the diff grouped by region and kind, the log's columns.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PteChange } from '../../../src/shared/protocol';
import { diffRuns, type RegionSnapshot } from '../../../media/diff';
import {
  cellStates,
  countText,
  describePage,
  GRID_HEIGHT,
  layoutFor,
  UNIFORM_GRID_HEIGHT,
  groupDiff,
  groupOpen,
  logColumns,
  longRuns,
  maxZoom,
  MIN_WINDOW,
  moveCursor,
  pagesText,
  runLine,
  windowText,
  zoomWindow,
} from '../../../media/panelModel';

const GIB_PAGES = 262_144;
const hex = (v: number): string => '0x' + v.toString(16);

void describe('MMIO Guard panel model', () => {
  void test('counts read as words: 1 page, 4,096 pages, 262,144 pages', () => {
    assert.equal(pagesText(1), '1 page');
    assert.equal(pagesText(0), '0 pages');
    assert.equal(pagesText(4096), '4,096 pages');
    assert.equal(pagesText(GIB_PAGES), '262,144 pages');
    assert.equal(countText(1234567), '1,234,567');
  });

  void test('a 1 GiB lazy region with one mapped page: its runs in words, the longest kept', () => {
    const base = 0x1000_0000;
    const runs = [
      { start: hex(base), pages: 16, state: 'lazy' as const },
      { start: hex(base + 16 * 4096), pages: 1, state: 'guardMapped' as const },
      { start: hex(base + 17 * 4096), pages: GIB_PAGES - 17, state: 'lazy' as const },
    ];
    const s = longRuns(runs, 2);
    assert.deepEqual(
      s.shown.map((r) => r.pages),
      [16, GIB_PAGES - 17],
      'the two longest, in address order',
    );
    assert.equal(s.others, 1);
    assert.equal(s.otherPages, 1);
    assert.equal(runLine(s.shown[1]), '0x10011000–0x4fffffff · 262,127 pages · untouched (lazy)');
  });

  void test('zoom: level 0 is the whole region, each level a quarter, down to 256 pages', () => {
    assert.equal(maxZoom(GIB_PAGES), 5); // 262,144 / 4^5 = 256
    assert.equal(maxZoom(16), 0);
    assert.deepEqual(zoomWindow(GIB_PAGES, 0, 1000), { level: 0, first: 0, count: GIB_PAGES });
    const w = zoomWindow(GIB_PAGES, 2, 100_000);
    assert.equal(w.count, GIB_PAGES / 16);
    assert.ok(w.first <= 100_000 && 100_000 < w.first + w.count, 'the centre stays in the window');
    // Clamped to the region at both ends and to the deepest level.
    assert.equal(zoomWindow(GIB_PAGES, 9, 0).first, 0);
    assert.equal(zoomWindow(GIB_PAGES, 9, 0).count, MIN_WINDOW);
    const end = zoomWindow(GIB_PAGES, 5, GIB_PAGES - 1);
    assert.equal(end.first + end.count, GIB_PAGES);
    assert.equal(windowText(zoomWindow(GIB_PAGES, 1, 0), GIB_PAGES), 'pages 1–65,536 of 262,144 · zoom 4×');
    assert.equal(windowText(zoomWindow(1, 0, 0), 1), 'all 1 page');
  });

  void test('layout: a 1 GiB region fits its height with several pages per cell; small ones get big cells', () => {
    const huge = layoutFor(GIB_PAGES, 600, GRID_HEIGHT);
    assert.ok(huge.rows * huge.cell <= GRID_HEIGHT, JSON.stringify(huge));
    assert.ok(huge.cols * huge.rows * huge.ppc >= GIB_PAGES, 'every page has a cell');
    // A single-colour gigabyte is a strip.
    const strip = layoutFor(GIB_PAGES, 600, UNIFORM_GRID_HEIGHT);
    assert.ok(strip.rows * strip.cell <= UNIFORM_GRID_HEIGHT, JSON.stringify(strip));
    assert.ok(strip.ppc > 1);
    assert.deepEqual(layoutFor(1, 600), { cell: 16, cols: 1, rows: 1, ppc: 1 });
    assert.equal(layoutFor(512, 600).ppc, 1);
  });

  void test('a cell of several pages shows its most notable page: one mapped page in a lazy run', () => {
    // codes: 0 lazy (rank 0), 1 guard-mapped (rank 2), 255 untracked
    const states = new Uint8Array([0, 0, 0, 1, 0, 0, 255, 255, 0]);
    assert.deepEqual([...cellStates(states, 0, 9, 3, [0, 2])], [0, 1, 0]);
    assert.deepEqual([...cellStates(states, 3, 6, 4, [0, 2])], [1, 0]);
    assert.deepEqual([...cellStates(new Uint8Array([255, 255]), 0, 2, 2, [0])], [255]);
  });

  void test('the cursor: arrows by page and row, Page Up/Down by screen, Home/End, never outside', () => {
    const cols = 64;
    assert.equal(moveCursor(10, 'ArrowRight', cols, 8, 4096), 11);
    assert.equal(moveCursor(10, 'ArrowDown', cols, 8, 4096), 74);
    assert.equal(moveCursor(10, 'ArrowUp', cols, 8, 4096), 0);
    assert.equal(moveCursor(0, 'ArrowLeft', cols, 8, 4096), 0);
    assert.equal(moveCursor(4095, 'ArrowRight', cols, 8, 4096), 4095);
    assert.equal(moveCursor(100, 'PageDown', cols, 8, 4096), 100 + 512);
    assert.equal(moveCursor(100, 'End', cols, 8, 4096), 4095);
    assert.equal(moveCursor(100, 'Home', cols, 8, 4096), 0);
    // Several pages per cell: a step is a cell.
    assert.equal(moveCursor(100, 'ArrowRight', cols, 8, GIB_PAGES, 21), 121);
    assert.equal(moveCursor(100, 'ArrowDown', cols, 8, GIB_PAGES, 21), 100 + cols * 21);
  });

  void test('the cursor described as a screen reader reads it', () => {
    assert.equal(
      describePage(0x0901_0000n, 'guardMappedPending', 16, 4096, 'pl031 rtc', { fault: true }),
      '0x09010000: mapped, stage 1 pending, page 17 of 4,096 (pl031 rtc); the fault page',
    );
    assert.equal(describePage(0x1000n, undefined, 0, 1), '0x00001000: not tracked, page 1 of 1');
  });

  void test('the diff: page runs coalesced, grouped by region and transition; table changes by kind', () => {
    const region = (runs: [number, string][]): RegionSnapshot => {
      let at = 0x0a00_0000;
      return {
        start: hex(0x0a00_0000),
        pageCount: 8,
        runs: runs.map(([pages, state]) => {
          const r = { start: hex(at), pages, state: state as 'lazy' };
          at += pages * 4096;
          return r;
        }),
      };
    };
    const before = [region([[8, 'lazy']])];
    const after = [
      region([
        [2, 'guardMapped'],
        [1, 'lazy'],
        [3, 'guardMapped'],
        [2, 'lazy'],
      ]),
    ];
    const d = diffRuns(before, after);
    assert.equal(d.count, 5);
    assert.deepEqual(
      d.runs.map((r) => [Number(r.start - 0x0a00_0000n) / 4096, r.pages]),
      [
        [0, 2],
        [3, 3],
      ],
    );
    const pte = (i: number): PteChange => ({
      kind: 'becameValid',
      regime: 'TTBR0_EL1',
      level: 3,
      descriptorAddress: hex(0x4022_4000 + i * 8),
      vaStart: hex(0x4000_0000 + i * 4096),
      vaEnd: hex(0x4000_0fff + i * 4096),
      summary: `L3 4 KiB entry at ${hex(0x4000_0000 + i * 4096)} became valid`,
    });
    const groups = groupDiff({
      pageRuns: d.runs.map((r) => ({ ...r, region: 'virtio-mmio' })),
      pteChanges: Array.from({ length: 56 }, (_, i) => pte(i)),
      anomalies: [],
      regions: [{ name: 'virtio-mmio', start: hex(0x0a00_0000), end: hex(0x0a00_8000) }],
    });
    assert.deepEqual(
      groups.map((g) => g.title),
      ['virtio-mmio · untouched (lazy) → guard-mapped · 5 pages', 'TTBR0_EL1 · became valid · 56 entries'],
    );
    assert.deepEqual(groups[0].lines, [
      '0x0a000000 (2 pages): untouched (lazy) → guard-mapped',
      '0x0a003000 (3 pages): untouched (lazy) → guard-mapped',
    ]);
    // The short group opens by itself; the 56 lines start closed unless the user opened them.
    assert.equal(groupOpen(groups[0], undefined), true);
    assert.equal(groupOpen(groups[1], undefined), false);
    assert.equal(groupOpen(groups[1], true), true);
    // A group lists at most maxLines and counts the rest.
    const capped = groupDiff(
      { pageRuns: [], pteChanges: Array.from({ length: 56 }, (_, i) => pte(i)), anomalies: [], regions: [] },
      10,
    );
    assert.equal(capped[0].lines.length, 10);
    assert.equal(capped[0].more, 46);
  });

  void test('the guard-call log drops "from" when no call says where it came from', () => {
    assert.deepEqual(logColumns([{}, {}]), ['#', 'call', 'x1', 'x0']);
    assert.deepEqual(logColumns([{}, { symbol: 'handle_mmio_fault' }]), ['#', 'call', 'x1', 'x0', 'from']);
  });
});
