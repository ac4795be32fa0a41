import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  blockAllowed,
  decodeDescriptor,
  type DescriptorFormat,
  encodeDescriptor,
  type Granule,
  type OaForm,
  type S1Leaf,
  type S2Leaf,
} from '../../../src/aarch64';

const FORMATS: DescriptorFormat[] = [];
for (const granule of [4, 16, 64] as Granule[])
  for (const stage of [1, 2] as const)
    for (const oa of ['pa48', granule === 64 ? 'lpa' : 'lpa2'] as OaForm[])
      FORMATS.push({ granule, stage, oa });

const S1_4K: DescriptorFormat = { granule: 4, stage: 1, oa: 'pa48' };
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const level = fc.integer({ min: -1, max: 3 });
const fmt = fc.constantFrom(...FORMATS);

void describe('descriptor parser: properties', () => {
  void test('never throws and round-trips every 64-bit value at every level, granule, stage and OA form', () => {
    fc.assert(
      fc.property(u64, level, fmt, (raw, lvl, f) => {
        const d = decodeDescriptor(raw, lvl, f);
        assert.equal(d.raw, raw);
        assert.equal(encodeDescriptor(d, f), raw);
      }),
      { numRuns: 20000 },
    );
  });

  void test('classification follows bits [1:0] and the level', () => {
    fc.assert(
      fc.property(u64, level, fmt, (raw, lvl, f) => {
        const d = decodeDescriptor(raw, lvl, f);
        const b0 = (raw & 1n) === 1n;
        const b1 = (raw & 2n) === 2n;
        if (!b0) assert.equal(d.type, 'invalid');
        else if (lvl === 3) assert.equal(d.type, b1 ? 'page' : 'invalid');
        else if (b1) assert.equal(d.type, 'table');
        else assert.equal(d.type, blockAllowed(f.granule, lvl, f.oa) ? 'block' : 'invalid');
      }),
      { numRuns: 5000 },
    );
  });

  void test('stage-1 leaf fields encode and decode back (4K, 48-bit PA)', () => {
    const leaf = fc.record({
      level: fc.constantFrom(1, 2, 3),
      oaPage: fc.bigInt({ min: 0n, max: (1n << 36n) - 1n }),
      attrIndx: fc.integer({ min: 0, max: 7 }),
      ns: fc.boolean(),
      ap: fc.integer({ min: 0, max: 3 }),
      sh: fc.integer({ min: 0, max: 3 }),
      af: fc.boolean(),
      nG: fc.boolean(),
      gp: fc.boolean(),
      dbm: fc.boolean(),
      contiguous: fc.boolean(),
      pxn: fc.boolean(),
      uxn: fc.boolean(),
      sw: fc.integer({ min: 0, max: 15 }),
    });
    fc.assert(
      fc.property(leaf, ({ oaPage, ...l }) => {
        const sizeShift = l.level === 3 ? 12 : l.level === 2 ? 21 : 30;
        const oa = (oaPage << 12n) & ~((1n << BigInt(sizeShift)) - 1n);
        const d: S1Leaf = {
          ...l,
          type: l.level === 3 ? 'page' : 'block',
          stage: 1,
          raw: 0n,
          oa,
          sizeShift,
          rest: 0n,
        };
        const raw = encodeDescriptor(d, S1_4K);
        const back = decodeDescriptor(raw, l.level, S1_4K);
        assert.deepEqual({ ...back, raw: 0n }, d);
      }),
    );
  });

  void test('52-bit output addresses round-trip (LPA2 on 4K, LPA on 64K)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }),
        fc.constantFrom<[Granule, OaForm, number]>([4, 'lpa2', 12], [64, 'lpa', 16]),
        (page, [g, oa, shift]) => {
          const f: DescriptorFormat = { granule: g, stage: 2, oa };
          const addr = (page << BigInt(shift)) & ((1n << 52n) - 1n);
          const d: S2Leaf = {
            type: 'page',
            stage: 2,
            raw: 0n,
            level: 3,
            oa: addr,
            sizeShift: shift,
            sh: 0,
            af: true,
            dbm: false,
            contiguous: false,
            sw: 0,
            rest: 0n,
            memAttr: 0xf,
            s2ap: 3,
            xn: 0,
          };
          const raw = encodeDescriptor(d, f);
          const back = decodeDescriptor(raw, 3, f);
          assert.equal(back.type, 'page');
          assert.equal((back as S2Leaf).oa, addr);
        },
      ),
    );
  });
});

void describe('descriptor parser: the encodings of the seed (DESIGN.md table)', () => {
  const PA = 0x0901_0000n;
  void test('lazy 4 KiB device page is invalid, with a page shadow carrying SWFLAG_0 and AttrIndx 0', () => {
    const d = decodeDescriptor(0x00e0_0000_0000_0402n | PA, 3, S1_4K);
    assert.equal(d.type, 'invalid');
    assert.ok(
      d.type === 'invalid' && d.reason === 'invalid' && d.shadow?.type === 'page' && d.shadow.stage === 1,
    );
    const s = d.shadow;
    assert.equal(s.oa, PA);
    assert.equal(s.sw, 1);
    assert.equal(s.attrIndx, 0);
    assert.equal(s.af, true);
    assert.equal(s.pxn && s.uxn, true);
  });
  void test('lazy 2 MiB block is invalid with a block shadow; lazy 1 GiB at level 1 too', () => {
    const d2 = decodeDescriptor(0x00e0_0000_0000_0400n | 0x0a00_0000n, 2, S1_4K);
    assert.ok(d2.type === 'invalid' && d2.shadow?.type === 'block');
    assert.equal(d2.shadow.oa, 0x0a00_0000n);
    assert.equal(d2.shadow.sizeShift, 21);
    const d1 = decodeDescriptor(0x00e0_0000_0000_0400n, 1, S1_4K);
    assert.ok(d1.type === 'invalid' && d1.shadow?.type === 'block' && d1.shadow.sizeShift === 30);
  });
  void test('valid guard-mapped device page', () => {
    const d = decodeDescriptor(0x00e0_0000_0000_0403n | PA, 3, S1_4K);
    assert.ok(d.type === 'page' && d.stage === 1);
    assert.deepEqual(
      [d.oa, d.attrIndx, d.ap, d.af, d.pxn, d.uxn, d.sw, d.rest],
      [PA, 0, 0, true, true, true, 1, 0n],
    );
  });
  void test('DATA, CODE and RODATA pages', () => {
    const data = decodeDescriptor(0x0060_0000_0000_0f07n | 0x8000_1000n, 3, S1_4K);
    assert.ok(data.type === 'page' && data.stage === 1);
    assert.deepEqual(
      [data.attrIndx, data.sh, data.ap, data.nG, data.af, data.pxn, data.uxn],
      [1, 3, 0, true, true, true, true],
    );
    const code = decodeDescriptor(0x0000_0000_0000_0f87n | 0x7fc0_0000n, 3, S1_4K);
    assert.ok(code.type === 'page' && code.stage === 1);
    assert.deepEqual([code.ap, code.pxn, code.uxn], [2, false, false]);
    const ro = decodeDescriptor(0x0060_0000_0000_0f87n, 3, S1_4K);
    assert.ok(ro.type === 'page' && ro.stage === 1 && ro.ap === 2 && ro.pxn && ro.uxn);
  });
  void test('table descriptor with every table bit', () => {
    const d = decodeDescriptor((0x1fn << 59n) | 0x8000_3000n | 3n, 1, S1_4K);
    assert.ok(d.type === 'table');
    assert.deepEqual(
      [d.nextTable, d.pxnTable, d.xnTable, d.apTable, d.nsTable],
      [0x8000_3000n, true, true, 3, true],
    );
    const s2 = decodeDescriptor((0x1fn << 59n) | 0x8000_3000n | 3n, 1, { ...S1_4K, stage: 2 });
    assert.ok(s2.type === 'table' && !s2.pxnTable && s2.apTable === 0 && s2.rest === 0x1fn << 59n);
  });
  void test('reserved encodings: level 3 with bit 1 clear, 4K level 0 block', () => {
    assert.equal(decodeDescriptor(0x8000_0001n, 3, S1_4K).type, 'invalid');
    const l0 = decodeDescriptor(0x1n, 0, S1_4K);
    assert.ok(l0.type === 'invalid' && l0.reason === 'reserved');
    assert.equal(decodeDescriptor(0x1n, 0, { ...S1_4K, oa: 'lpa2' }).type, 'block');
  });
  void test('LPA2 puts OA[51:50] in bits [9:8]; LPA (64K) OA[51:48] in bits [15:12]', () => {
    const d = decodeDescriptor(0x300n | 0x4000_0000_1000n | 0x401n | 2n, 3, {
      granule: 4,
      stage: 1,
      oa: 'lpa2',
    });
    assert.ok(d.type === 'page');
    assert.equal(d.oa, (3n << 50n) | 0x4000_0000_1000n);
    const e = decodeDescriptor(0xf000n | 0x1_0000n | 0x403n, 3, { granule: 64, stage: 1, oa: 'lpa' });
    assert.ok(e.type === 'page');
    assert.equal(e.oa, (0xfn << 48n) | 0x1_0000n);
  });
  void test('stage-2 leaf: MemAttr, S2AP, XN', () => {
    const b = decodeDescriptor((2n << 53n) | 0x4000_0000n | 0x4fdn, 2, { granule: 4, stage: 2, oa: 'pa48' });
    assert.ok(b.type === 'block' && b.stage === 2);
    assert.deepEqual([b.memAttr, b.s2ap, b.xn, b.af], [0xf, 3, 2, true]);
  });
});
