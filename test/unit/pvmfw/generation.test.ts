// Reading which pvmfw a machine runs from its own bits (#16): the stage-2 guard entry forms (a valid
// device page, pKVM's note bit 11, pKVM's legacy 0x9a9a929e), the generation from the lazy device
// encoding (the seed's PXN|UXN vs late 2023's UXN only), the granule's source, and the verdict's
// words per handler. The encodings come from guest/include (the firmware's own headers), not from
// the code under test.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  generationOf,
  handlerWords,
  isStage2Guard,
  pkvmGuardNote,
  pvmfwFlavour,
  stage2GuardRepr,
} from '../../../src/pvmfw';
import { S_INVALID, S_VALID } from '../../../src/aarch64/leaf';

const include = resolve(__dirname, '../../../../guest/include');

/** Every `#define NAME 0x…` or `(1ul << n)` of a header, all branches of its #if (in file order). */
function defines(file: string): Map<string, bigint[]> {
  const out = new Map<string, bigint[]>();
  const text = readFileSync(resolve(include, file), 'utf8');
  for (const m of text.matchAll(
    /^#define\s+(\w+)\s+(?:\((0x[0-9a-f]+)u?l?\)|(0x[0-9a-f]+)u?l?|\(1ul << (\d+)\))/gim,
  )) {
    const v = m[4] !== undefined ? 1n << BigInt(m[4]) : BigInt(m[2] ?? m[3]);
    out.set(m[1], [...(out.get(m[1]) ?? []), v]);
  }
  return out;
}

const halves = (d: bigint) => ({ lo: Number(d & 0xffff_ffffn), hi: Number(d >> 32n) });
const device = { kind: 'device' };
const normal = { kind: 'normal' };

void describe('stage-2 guard entries', () => {
  const s2 = defines('stage2.h');
  const note = s2.get('KVM_INVALID_PTE_MMIO_NOTE')?.[0];
  const legacy = s2.get('KVM_MMIO_NOTE_LEGACY')?.[0];

  void test('the stub header defines both pKVM annotations', () => {
    assert.ok(note !== undefined && legacy !== undefined);
  });

  void test('pKVM annotations are read as guard maps, an owner annotation or a zero entry is not', () => {
    const { lo: nlo, hi: nhi } = halves(note!);
    const { lo: llo, hi: lhi } = halves(legacy!);
    assert.equal(pkvmGuardNote(nlo, nhi), 'pkvmNote');
    assert.equal(pkvmGuardNote(llo, lhi), 'pkvmLegacy');
    // pKVM's host stage 2 records the owner in bits [9:2]: hyp-owned reads 0x4 (DESIGN.md).
    assert.equal(pkvmGuardNote(0x4, 0), undefined);
    assert.equal(pkvmGuardNote(0, 0), undefined);
    // A valid entry is never an annotation, whatever bit 11 holds (nG in a stage-1 sense).
    assert.equal(pkvmGuardNote(0x803, 0), undefined);
    const leaf = (d: bigint, state: number, level = 3, memType = device) => ({
      ...halves(d),
      state,
      level,
      memType,
    });
    assert.ok(isStage2Guard(leaf(note!, S_INVALID)));
    assert.ok(isStage2Guard(leaf(legacy!, S_INVALID)));
    assert.ok(isStage2Guard(leaf(0x0040_0000_0901_04c7n, S_VALID)), 'the stub: a valid level-3 device page');
    assert.ok(!isStage2Guard(leaf(0x4000_07fdn, S_VALID, 1, normal)), 'a RAM block');
    assert.ok(!isStage2Guard(leaf(note!, S_INVALID, 2)), 'annotations live at level 3');
    assert.equal(
      stage2GuardRepr([leaf(0x4000_07fdn, S_VALID, 1, normal), leaf(legacy!, S_INVALID)]),
      'pkvmLegacy',
    );
    assert.equal(stage2GuardRepr([leaf(0x0040_0000_0901_04c7n, S_VALID)]), 'valid');
  });
});

void describe('generation and granule', () => {
  const pte = defines('pte.h');
  // pte.h defines ENC_LAZY_PAGE for both generations (#if DEMO_GEN >= 2024 first, the seed's second).
  const [late, seed] = pte.get('ENC_LAZY_PAGE') ?? [];

  void test('the header carries both lazy encodings', () => {
    assert.equal(seed, 0x00e0_0000_0000_0402n);
    assert.equal(late, 0x00c0_0000_0000_0402n);
  });

  void test('the lazy device encoding tells the generation; linux-like normal memory with bit 55 does not', () => {
    const l = (d: bigint, memType = device) => ({ ...halves(d), memType });
    assert.equal(generationOf([l(seed)], 55), 'seed2023');
    assert.equal(generationOf([l(late)], 55), 'late2023');
    assert.equal(
      generationOf([l(0x00c0_0000_0000_0f07n, normal)], 55),
      'seed2023',
      'bit 55 on normal memory',
    );
    assert.equal(generationOf([], 55), 'seed2023', 'nothing tells: the seed');
  });

  void test('the granule comes from MMIO_GUARD_INFO, else stage 2, else 4 KiB', () => {
    const s1 = [{ ...halves(late), memType: device }];
    assert.deepEqual(
      [pvmfwFlavour({ s1, info: 16384, s2Granule: 4, lazyBit: 55 })].map((f) => [
        f.granule,
        f.granuleFrom,
        f.handler,
      ]),
      [[16384, 'MMIO_GUARD_INFO', 'validInPlace']],
    );
    const noInfo = pvmfwFlavour({ s1, s2Granule: 16, stage2: [], lazyBit: 55 });
    assert.deepEqual([noInfo.granule, noInfo.granuleFrom, noInfo.stage2], [16384, 'stage 2', 'valid']);
    // An implausible answer (a hypervisor saying -1) is not a granule.
    const bad = pvmfwFlavour({ s1, info: -1, lazyBit: 55 });
    assert.deepEqual([bad.granule, bad.granuleFrom, bad.stage2], [4096, 'default', undefined]);
  });

  void test('the handler in words: remap or VALID in place, one page or the granule', () => {
    assert.equal(
      handlerWords({ handler: 'remap', granule: 4096 }, '0x9010000'),
      'MMIO_GUARD_MAP 0x9010000 and map that 4 KiB page valid as device',
    );
    assert.equal(
      handlerWords({ handler: 'validInPlace', granule: 16384 }, '0x9010000'),
      'MMIO_GUARD_MAP the 16 KiB granule 0x9010000 and set VALID in place on its 4 lazy 4 KiB pages',
    );
  });
});
