// The adapter's per-stop page cache: a page read again with the same bytes is the previous stop's
// buffer (the diff's tables and this stop's share it), a changed page is its own copy, and nothing it
// answers is a view into the scratch buffer a port reads into (the next batch overwrites that).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PhysCache } from '../../../src/target/physCache';
import type { TargetPort } from '../../../src/target/port';
import type { PhysRange } from '../../../src/aarch64/reader';

/** Guest memory as a port that reads RAM locally: results are views into the caller's scratch. */
function port(memory: Map<number, number>): TargetPort & { scratchReads: number } {
  const fill = (address: bigint, out: Uint8Array) => out.fill(memory.get(Number(address)) ?? 0);
  const p = {
    scratchReads: 0,
    registers: { get: () => undefined },
    readRegister: () => Promise.reject(new Error('no registers')),
    readRegisters: () => Promise.reject(new Error('no registers')),
    readMemory: () => Promise.reject(new Error('no virtual reads')),
    monitor: () => Promise.reject(new Error('no monitor')),
    readPhysical(address: bigint, length: number) {
      const out = new Uint8Array(length);
      fill(address, out);
      return Promise.resolve(out);
    },
    readPhysicalBatch(ranges: readonly PhysRange[], scratch?: Uint8Array) {
      let at = 0;
      const total = ranges.reduce((n, r) => n + r.length, 0);
      const into = scratch && scratch.length >= total ? scratch : new Uint8Array(total);
      if (into === scratch) p.scratchReads++;
      return Promise.resolve(
        ranges.map((r) => {
          const view = into.subarray(at, at + r.length);
          at += r.length;
          fill(r.address, view);
          return view;
        }),
      );
    },
  };
  return p;
}

const page = (n: number) => ({ address: BigInt(n * 4096), length: 4096 });

void describe('PhysCache', () => {
  void test('an unchanged page is the previous stop’s object; a changed one is new; none is a scratch view', async () => {
    const memory = new Map([
      [0x1000, 1],
      [0x2000, 2],
      [0x3000, 3],
    ]);
    const gdb = port(memory);
    const cache = new PhysCache(() => gdb);
    const first = await cache.read([page(1), page(2), page(3)]);
    assert.ok(gdb.scratchReads > 0, 'the port was given a scratch buffer');
    for (const [i, b] of first.entries()) {
      assert.ok(b instanceof Uint8Array);
      assert.equal(b.byteLength, b.buffer.byteLength, `page ${i + 1} has a buffer of its own`);
      assert.equal(b[0], i + 1);
    }
    cache.clear(); // the next stop
    memory.set(0x2000, 0x22);
    const second = await cache.read([page(1), page(2), page(3)]);
    const buffer = (b: Uint8Array | Error) => (b as Uint8Array).buffer;
    assert.equal(buffer(second[0]), buffer(first[0]), 'page 1 unchanged: the same bytes in memory');
    assert.equal(buffer(second[2]), buffer(first[2]), 'page 3 unchanged: the same bytes in memory');
    assert.notEqual(buffer(second[1]), buffer(first[1]), 'page 2 changed: a new buffer');
    assert.equal((second[1] as Uint8Array)[0], 0x22);
    assert.equal((first[1] as Uint8Array)[0], 2, 'the previous stop’s page 2 keeps its bytes');
    assert.equal(cache.reused, 2);
    // A later batch reuses the scratch: what the cache answered before does not change.
    await cache.read([page(4), page(5)]);
    assert.deepEqual(
      second.map((b) => (b as Uint8Array)[4095]),
      [1, 0x22, 3],
    );
  });

  void test('forget() compares with nothing: every page is read into its own buffer', async () => {
    const gdb = port(new Map([[0x1000, 7]]));
    const cache = new PhysCache(() => gdb);
    const [a] = await cache.read([page(1)]);
    cache.forget();
    const [b] = await cache.read([page(1)]);
    assert.notEqual((a as Uint8Array).buffer, (b as Uint8Array).buffer);
    assert.deepEqual(a, b);
    assert.equal(cache.reused, 0);
  });
});
