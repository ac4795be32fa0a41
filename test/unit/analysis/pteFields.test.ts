// The fields of a descriptor change, named as the Arm ARM names them, per stage, form and kind.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { changedFields, fieldChangeText } from '../../../src/analysis';

const S1 = { granule: 4, stage: 1, oa: 'pa48' } as const;
const S2 = { granule: 4, stage: 2, oa: 'pa48' } as const;
const text = (
  b: bigint,
  a: bigint,
  level: number,
  fmt: typeof S1 | typeof S2 | { granule: 4; stage: 1; oa: 'lpa2' },
) => changedFields(b, a, level, fmt, 55).map(fieldChangeText);

void describe('changedFields', () => {
  void test('stage 1 leaves: pvmfw fault handler, a software bit next to LAZY, unnamed bits', () => {
    assert.deepEqual(text(0x00e0_0000_0901_0402n, 0x00e0_0000_0901_0403n, 3, S1), ['VALID 0 → 1']);
    assert.deepEqual(text(0x0060_0000_0000_0f07n, 0x0160_0000_0000_0b67n, 3, S1), [
      'NS 0 → 1',
      'AP[2:1] 0b00 → 0b01',
      'AF 1 → 0',
      'SW[58:56] 0b000 → 0b001',
    ]);
    assert.deepEqual(text(0n, 3n << 48n, 3, S1), ['bits[49:48] 0b00 → 0b11']);
    assert.deepEqual(text(0n, 1n << 63n, 3, S1), ['bit 63 0 → 1']);
  });

  void test('table descriptors: next-level table and the hierarchical attributes', () => {
    assert.deepEqual(text(0x4025_0003n, 0x9800_0000_4026_0003n, 2, S1), [
      'next-level table 0x40250000 → 0x40260000',
      'PXNTable 0 → 1',
      'UXNTable 0 → 1',
      'NSTable 0 → 1',
    ]);
  });

  void test('stage 2: MemAttr, S2AP, XN; no LAZY (pvmfw flags stage 1 only)', () => {
    assert.deepEqual(text(0x0040_0000_0901_04c7n, 0x0080_0000_0901_047fn, 3, S2), [
      'MemAttr 0b0001 → 0b1111',
      'S2AP 0b11 → 0b01',
      'XN 0b10 → 0b00',
      'SW[58:55] 0b0000 → 0b0001',
    ]);
  });

  void test('LPA2 keeps OA[51:50] in bits [9:8] (no SH there)', () => {
    assert.deepEqual(
      text(0x0000_0000_4000_0403n, 0x0000_0000_4000_0703n, 3, { granule: 4, stage: 1, oa: 'lpa2' }),
      ['OA 0x40000000 → 0xc000040000000'],
    );
  });

  void test('no difference, no fields', () => {
    assert.deepEqual(changedFields(0x1234n, 0x1234n, 3, S1, 55), []);
  });
});
