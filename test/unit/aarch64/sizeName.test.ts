// sizeName: the names sizes are printed with, on numbers and bigints alike.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { sizeName } from '../../../src/aarch64/format';

/** The rule written out on bigints: exact units (K only below 1M), else one decimal, else bytes. */
function reference(b: bigint): string {
  const units = [
    ['T', 40n],
    ['G', 30n],
    ['M', 20n],
    ['K', 10n],
  ] as const;
  for (const [u, s] of units)
    if (b >= 1n << s && b % (1n << s) === 0n && (u !== 'K' || b < 1n << 20n)) return `${b >> s}${u}`;
  for (const [u, s] of units)
    if (u !== 'K' && b >= 1n << s) return `${(Number(b) / 2 ** Number(s)).toFixed(1)}${u}`;
  return `${b}`;
}

void test('page, block and region sizes get the names the tree and the CLI print', () => {
  assert.equal(sizeName(4096), '4K');
  assert.equal(sizeName(64 * 1024), '64K');
  assert.equal(sizeName(2 ** 21), '2M');
  assert.equal(sizeName(2 ** 30), '1G');
  assert.equal(sizeName(512n * 2n ** 30n), '512G');
  assert.equal(sizeName(3 * 2 ** 40), '3T');
  assert.equal(sizeName(1023), '1023');
  assert.equal(sizeName(901116 * 1024), '880.0M');
  assert.equal(sizeName(2n ** 64n), '16777216T');
  assert.equal(sizeName(2n ** 64n - 4096n), '16777216.0T');
});

void test('numbers and bigints name alike, as the rule says (property)', () => {
  const sizes = fc.oneof(
    fc.bigInt({ min: 0n, max: 2n ** 64n }),
    fc
      .tuple(fc.integer({ min: 0, max: 63 }), fc.bigInt({ min: 1n, max: 4096n }))
      .map(([s, k]) => k << BigInt(s)),
  );
  fc.assert(
    fc.property(sizes, (b) => {
      assert.equal(sizeName(b), reference(b));
      if (b <= BigInt(Number.MAX_SAFE_INTEGER)) assert.equal(sizeName(Number(b)), reference(b));
    }),
    { numRuns: 2000 },
  );
});
