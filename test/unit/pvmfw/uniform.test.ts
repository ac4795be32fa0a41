// The walker marks level-3 tables whose 512 entries are alike ("uniform"), and the runs of alike
// entries of other tables, so classify and coalesce can take them in one step. That shortcut must
// never change a result: compare every output with the marks on and with them cleared, over
// synthetic tables of many kinds (some broken mid-table, some in runs, one across 4 GiB).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PhysImage, coalesce, regimeFromRegisters, walk, type WalkResult } from '../../../src/aarch64';
import { classify } from '../../../src/pvmfw';

type Options = Parameters<typeof classify>[1];

function summary(w: WalkResult, opts?: Options): string {
  const g = classify(w, opts);
  return JSON.stringify({
    anomalies: g.anomalies.map((a) => [a.kind, a.severity, String(a.va), a.count, a.size, a.message]),
    pending: g.pending.map((l) => l.descAddr.toString()),
    mapped: g.mapped.map((l) => l.descAddr.toString()),
    counts: [String(g.pendingBytes), g.pendingCount, g.mappedCount],
    regions: coalesce(w.store).map((r) => [r.va, r.pa, r.size, r.count].join(',')),
  });
}

const ATTRS = [
  0x0060000000000f07n, // DATA
  0x00e0000000000f07n, // DATA + bit 55
  0x0080000000000f04n, // invalid with bits
  0x0080000000000f05n, // reserved at level 3
  0x0080000000000f01n,
  0x00e0000000000f0fn, // AttrIndx 3: unsupported by aarch64-paging 0.4.0
  0x0000000000000f07n,
  0x0480000000000f07n, // a table-only bit on a page
  0x00a0000000000f03n, // valid device, lazy flag
];

void test('uniform level-3 shortcuts give the same classification and regions as entry-by-entry', async () => {
  let seed = 1;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  let uniformSeen = 0;
  let runsSeen = 0;
  for (let trial = 0; trial < 30; trial++) {
    const mem = new PhysImage();
    const root = 0x40000000n;
    const l2 = root + 0x1000n;
    let next = l2 + 0x1000n;
    mem.write64(root, l2 | 3n);
    for (let j = 0; j < 24; j++) {
      const l3 = next;
      next += 0x1000n;
      mem.write64(l2 + BigInt(j * 8), l3 | 3n);
      const attr = ATTRS[Math.floor(rnd() * ATTRS.length)];
      const kind = rnd();
      // One table in ten ends at 4 GiB + 1 MiB: its low words carry out of 32 bits mid-table.
      const pa0 =
        kind > 0.8 && kind <= 0.9
          ? 0x100000000n - 0x100000n
          : 0x80000000n + BigInt(Math.floor(rnd() * 4)) * 0x200000n * BigInt(j);
      for (let k = 0; k < 512; k++) {
        let pa = pa0 + BigInt(k) * 0x1000n;
        if (kind >= 0.3 && kind < 0.4 && k >= 200) pa += 0x10000n; // output addresses jump once
        let d = attr | (pa & 0xfffffffff000n);
        if (kind < 0.2 && k === 300) d ^= 1n << 55n; // breaks uniformity mid-table
        if (kind >= 0.2 && kind < 0.3 && (k >> 3) % 2 === 1) d ^= 1n << 10n; // runs of 8 (AF)
        if (kind >= 0.4 && kind < 0.5 && k % 97 === 0) d = 0n; // holes every 97
        if (kind >= 0.5 && kind < 0.6 && k % 2 === 1) d ^= 1n << 10n; // a run an entry: none kept
        if (kind > 0.9 && k === 5) d = 0n; // a hole
        mem.write64(l3 + BigInt(k * 8), d);
      }
    }
    const regime = regimeFromRegisters('el1', {
      TTBR0_EL1: root,
      TCR_EL1: 25n | (1n << 23n) | (2n << 32n),
      MAIR_EL1: 0xff04n,
      SCTLR_EL1: 1n,
    });
    for (const opts of [undefined, { mmioRanges: [{ start: 0x80000000n, end: 0x80400000n }] }] as Options[]) {
      const w = await walk(regime, mem);
      const withMarks = summary(w, opts);
      const pages = w.store.pages;
      for (let t = 0; t < pages.count; t++) {
        if (pages.uniform[t]) uniformSeen++;
        if (pages.runs[t]) runsSeen++;
        pages.uniform[t] = 0;
        pages.runs[t] = undefined;
      }
      assert.equal(summary(w, opts), withMarks, `trial ${trial}`);
    }
  }
  assert.ok(uniformSeen > 100, `${uniformSeen} tables were marked uniform: the shortcut was exercised`);
  assert.ok(runsSeen > 100, `${runsSeen} tables had runs marked: that shortcut was exercised too`);
});
