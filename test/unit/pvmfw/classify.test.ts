import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { regimeFromRegisters, translate, walk, hex } from '../../../src/aarch64';
import {
  classify,
  faultVerdict,
  lazyState,
  parseGuardLog,
  predictAccess,
  replayGuardLog,
  reportJson,
  MMIO_GUARD_MAP,
  MMIO_GUARD_ENROLL,
  MMIO_GUARD_UNMAP,
} from '../../../src/pvmfw';
import { DATA_PAGE, DEVICE_PAGE, LAZY_BLOCK, LAZY_PAGE, pvmfwLike, TABLE, Tables } from '../aarch64/fixtures';

async function s1(t: Tables, regs: Record<string, bigint>) {
  return walk(regimeFromRegisters('el1', regs), t.mem);
}

/** A stage-2 walk with the given 4 KiB device pages guard-mapped (IPA == PA) and RAM as a block. */
async function stage2(pages: bigint[]) {
  const t = new Tables(0x8800_0000n);
  const root = t.table();
  const l2 = t.table();
  const l3 = t.table();
  t.set(root, 0, l2 | TABLE);
  t.set(l2, 72, l3 | TABLE); // 0x0900_0000
  for (const p of pages) t.set(l3, Number((p - 0x0900_0000n) >> 12n), 0x0040_0000_0000_04c7n | p);
  t.set(root, 2, 0x8000_0000n | 0x7fdn);
  return walk(
    regimeFromRegisters('stage2', { VTTBR_EL2: root, VTCR_EL2: 25n | (1n << 6n) | (2n << 16n), HCR_EL2: 1n }),
    t.mem,
  );
}

function logBytes(calls: [number, bigint, bigint][]): Uint8Array {
  const b = new Uint8Array(0x20 + 64 * 32);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x474f4c47, true);
  dv.setUint32(4, 1, true);
  dv.setUint32(8, 64, true);
  dv.setUint32(12, 32, true);
  dv.setBigUint64(16, BigInt(calls.length), true);
  calls.forEach(([fn, ipa, res], i) => {
    const o = 0x20 + i * 32;
    dv.setBigUint64(o, BigInt(i + 1), true);
    dv.setBigUint64(o + 8, BigInt(fn), true);
    dv.setBigUint64(o + 16, ipa, true);
    dv.setBigInt64(o + 24, res, true);
  });
  return b;
}

void describe('pvmfw classification', () => {
  void test('lazy states: pending lazy page/blocks, mapped device page, none for RAM', async () => {
    const { t, regs } = pvmfwLike();
    const w = await s1(t, regs);
    const g = classify(w);
    assert.deepEqual(
      g.pending.map((l) => hex(l.va)),
      ['0x9001000', '0xa000000', '0x40000000'],
    );
    assert.deepEqual(
      g.mapped.map((l) => hex(l.va)),
      ['0x9000000'],
    );
    assert.equal(g.pendingBytes, 4096 + 2 ** 21 + 2 ** 30);
    assert.deepEqual(g.anomalies, []);
    assert.equal(lazyState(w.leaves.find((l) => l.vaNum === 0x8020_3000)!), null);
    // A different lazy bit: nothing is lazy any more.
    assert.equal(classify(w, { lazyBit: 56 }).pending.length, 0);
  });

  void test('scenario a: a valid lazy 2 MiB block is "Failed to break down block mapping"', async () => {
    const { t, regs } = pvmfwLike();
    t.set(0x8010_1000n, 80, LAZY_BLOCK | 1n | 0x0a00_0000n);
    const g = classify(await s1(t, regs));
    assert.deepEqual(
      g.anomalies.map((a) => [a.kind, hex(a.va ?? 0n)]),
      [['lazyNotPage', '0xa000000']],
    );
    assert.match(g.anomalies[0].message, /Failed to break down block mapping/);
  });

  void test('scenario c: the lazy flag on a Normal page', async () => {
    const { t, regs, l3img } = pvmfwLike();
    t.set(l3img, 4, (DATA_PAGE & ~1n) | (1n << 55n) | 0x8020_4000n);
    const g = classify(await s1(t, regs));
    assert.deepEqual(
      g.anomalies.map((a) => a.kind),
      ['lazyOnNormal'],
    );
    assert.match(g.anomalies[0].message, /non-device pages/);
  });

  void test('bits aarch64-paging 0.4.0 rejects: Contiguous, NS, AttrIndx[2:1], table bits', async () => {
    const { t, regs, l3dev, l1 } = pvmfwLike();
    t.set(l3dev, 2, LAZY_PAGE | (1n << 52n) | 0x0900_2000n);
    t.set(l3dev, 3, LAZY_PAGE | (1n << 5n) | (2n << 2n) | 0x0900_3000n);
    t.set(l1, 0, 0x8010_1000n | TABLE | (1n << 63n));
    const g = classify(await s1(t, regs));
    const u = g.anomalies.filter((a) => a.kind === 'unsupportedFlags').map((a) => a.message);
    assert.equal(u.length, 3);
    assert.match(u[0], /bits \[63:59\]/);
    assert.match(u[1], /Contiguous/);
    assert.match(u[2], /AttrIndx\[2:1\], NS/);
  });

  void test('stage 2 cross-check: valid lazy page not guard-mapped, and a guard mapping without a valid stage-1 page', async () => {
    const { t, regs, l3dev } = pvmfwLike();
    t.set(l3dev, 16, DEVICE_PAGE | 0x0901_0000n); // valid, never mapped at stage 2 (scenario b)
    const s2 = await stage2([0x0900_0000n, 0x0902_0000n]); // 0x0902_0000 mapped at S2, not valid at S1
    const g = classify(await s1(t, regs), {}, s2);
    assert.deepEqual(
      g.anomalies.map((a) => [a.kind, a.severity, hex(a.ipa ?? 0n)]),
      [
        ['validUnguarded', 'error', '0x9010000'],
        ['guardedNotMapped', 'warning', '0x9020000'],
      ],
    );
    assert.deepEqual(
      g.guardMapped.map((x) => hex(x)),
      ['0x9000000', '0x9020000'],
    );
  });

  void test('guard-call log: replay, cross-check against stage 2, unmapped pages are info', async () => {
    const log = parseGuardLog(
      logBytes([
        [MMIO_GUARD_ENROLL, 0n, 0n],
        [MMIO_GUARD_MAP, 0x0900_0000n, 0n],
        [MMIO_GUARD_MAP, 0x0901_0000n, 0n],
        [MMIO_GUARD_UNMAP, 0x0901_0000n, 0n],
        [MMIO_GUARD_UNMAP, 0x0903_0000n, 0n],
        [MMIO_GUARD_MAP, 0x0900_0000n, -3n],
      ]),
    );
    assert.equal(log.entries.length, 6);
    const r = replayGuardLog(log);
    assert.equal(r.enrolled, true);
    assert.deepEqual([...r.mapped], [0x0900_0000n]);
    assert.deepEqual(
      r.problems.map((p) => p.kind),
      ['unmapNotMapped', 'hypercallError'],
    );
    const { t, regs, l3dev } = pvmfwLike();
    t.set(l3dev, 16, DEVICE_PAGE | 0x0901_0000n);
    const g = classify(await s1(t, regs), {}, await stage2([0x0900_0000n]), r);
    assert.deepEqual(
      g.anomalies.map((a) => `${a.kind}/${a.severity}`),
      ['validUnguarded/info', 'unmapNotMapped/error', 'hypercallError/warning'],
    );
  });
});

void describe('fault verdict', () => {
  void test('lazy page fault -> MMIO_GUARD_MAP of the page; lazy block -> split', async () => {
    const { t, regs } = pvmfwLike();
    const regime = regimeFromRegisters('el1', regs);
    const x = await translate(regime, t.mem, 0x0900_1234n);
    const v = faultVerdict(0x9600_0007n, 0x0900_1234n, x);
    assert.equal(v.kind, 'lazyMmio');
    assert.equal(v.mapIpa, 0x0900_1000n);
    const b = faultVerdict(0x9600_0006n, 0x0a00_5000n, await translate(regime, t.mem, 0x0a00_5000n));
    assert.deepEqual([b.kind, b.mapIpa, b.splitLevel], ['lazyMmio', 0x0a00_5000n, 2]);
    assert.equal(predictAccess(await translate(regime, t.mem, 0x4000_0000n))?.splitLevel, 1);
  });
  void test('InvalidPte on a zero block entry; external abort; permission; other', async () => {
    const { t, regs } = pvmfwLike();
    const regime = regimeFromRegisters('el1', regs);
    const z = await translate(regime, t.mem, 0x0c00_0000n); // L2 entry 96 is zero: a non-lazy leaf
    assert.equal(faultVerdict(0x9600_0006n, 0x0c00_0000n, z).kind, 'invalidPte');
    assert.equal(faultVerdict(0x9600_0010n, 0x0901_0000n, z).kind, 'externalAbort');
    assert.equal(faultVerdict(0x9600_004fn, 0x8020_0000n, z).kind, 'permission');
    assert.equal(faultVerdict(0x5600_0000n, 0n, z).kind, 'other');
  });
});

void describe('JSON report', () => {
  void test('has the documented shape with hex strings', async () => {
    const { t, regs } = pvmfwLike();
    const w = await s1(t, regs);
    const j = reportJson(w, classify(w));
    const lazy = j.leaves.find((l) => l.va === '0x9001000')!;
    assert.deepEqual(
      [
        lazy.pa,
        lazy.size,
        lazy.level,
        lazy.desc,
        lazy.valid,
        lazy.kind,
        lazy.memType,
        lazy.swBits,
        lazy.lazy,
      ],
      ['0x9001000', '0x1000', 3, '0x00e0000009001402', false, 'invalid', 'Device-nGnRE', 1, 'pending'],
    );
    assert.equal(j.regime.registers.TCR_EL1, '0x0000000200800019');
    assert.equal((JSON.parse(JSON.stringify(j)) as typeof j).leaves.length, j.leaves.length);
  });
});
