// LeafStore.mergeRuns: the walker's breadth-first rounds (each sorted by input address) merged into
// one input-address order, in place when the rounds before the last are small and into a new store
// otherwise. Checked against a plain sort of the same references.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LeafStore, REF_INDEX_BITS } from '../../../src/aarch64/leafstore';

/** A deterministic pseudo-random sequence (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/**
 * A store shaped like a walk: round 0 has `blocks` tables of 2 MiB blocks, round 1 has `pageTables`
 * tables of 4 KiB pages placed between them, each table with some entries missing.
 */
function walkLike(seed: number, blocks: number, pageTables: number): { store: LeafStore; rounds: number[] } {
  const r = rng(seed);
  const store = new LeafStore([], 16);
  const rounds = [0];
  // The 2 MiB slots that are tables (their entries are not blocks), one table each.
  const slots = new Set<number>();
  while (slots.size < pageTables) slots.add(Math.floor(r() * blocks) * 512 + Math.floor(r() * 512));
  const addTable = (va: number, shift: number, skip: (i: number) => boolean): void => {
    const data = new Uint32Array(1024);
    const t = store.pages.add(data, va, 0x4000_0000, 0, shift === 21 ? 2 : 3, shift, 0, true, 0, 0, 0);
    for (let i = 0; i < 512; i++) if (!skip(i) && r() < 0.8) store.push(t, i);
  };
  for (let k = 0; k < blocks; k++) addTable(k * 2 ** 30, 21, (i) => slots.has(k * 512 + i));
  rounds.push(store.length);
  // The next round lists its tables in input-address order, as the walker's rounds do.
  for (const slot of [...slots].sort((a, b) => a - b)) addTable(slot * 2 ** 21, 12, () => false);
  return { store, rounds };
}

function sortedByVa(store: LeafStore): number[] {
  const byVa: [number, number][] = [];
  for (let i = 0; i < store.length; i++) byVa.push([store.vaOf(i), store.refs[i]]);
  return byVa.sort((a, b) => a[0] - b[0]).map((x) => x[1]);
}

void describe('LeafStore.mergeRuns', () => {
  for (const [name, blocks, pageTables] of [
    ['in place (few blocks, many page tables)', 2, 24],
    ['into a new store (many blocks, few page tables)', 24, 2],
    ['page tables only in the last round', 1, 8],
  ] as const) {
    void test(name, () => {
      for (let seed = 1; seed <= 20; seed++) {
        const { store, rounds } = walkLike(seed, blocks, pageTables);
        const want = sortedByVa(store);
        const n = store.length;
        const merged = store.mergeRuns(rounds);
        assert.equal(merged.length, n);
        assert.deepEqual(Array.from(merged.refs.subarray(0, n)), want, `seed ${seed}`);
        assert.equal(
          merged === store,
          rounds[1] <= n >> 2,
          'in place exactly when the early rounds are small',
        );
        for (let i = 1; i < n; i++) assert.ok(merged.vaOf(i - 1) < merged.vaOf(i));
        assert.ok(merged.refs.every((r, i) => i >= n || r >>> REF_INDEX_BITS < merged.pages.count));
      }
    });
  }

  void test('a single run is the store itself', () => {
    const { store } = walkLike(3, 2, 0);
    assert.equal(store.mergeRuns([0]), store);
  });
});
