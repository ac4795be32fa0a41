// VA -> IPA -> PA under a stage 2 that is not an identity map (twoStageFixtures.ts): composition,
// a stage-2 fault at each level, faults on the stage-1 walk itself (S1PTW), and the combined
// memory type and permissions.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatPerms, regimeFromRegisters } from '../../../src/aarch64';
import { translateTwoStage, type TwoStageTranslation } from '../../../src/aarch64/twoStage';
import { DATA_BLOCK, DEVICE_PAGE, LAZY_BLOCK, TABLE } from './fixtures';
import { HCR_FWB, HCR_VM, ramPa, s2Page, twoStageLike, type TwoStageFixture } from './twoStageFixtures';

const L1 = 0x8010_0000n;
const L2DEV = 0x8010_1000n;
const L3DEV = 0x8010_2000n;
const L2RAM = 0x8010_3000n;

async function tr(
  f: TwoStageFixture,
  va: bigint,
  access: { write?: boolean; exec?: boolean; el0?: boolean } = {},
): Promise<TwoStageTranslation> {
  const { mem, regs } = f.build();
  const s2 = regimeFromRegisters('stage2', regs);
  return translateTwoStage(regimeFromRegisters('el1', regs), s2, mem, va, access);
}

const perms = (x: TwoStageTranslation): string | undefined =>
  x.perms !== undefined ? formatPerms('el1&0', x.perms) : undefined;

void describe('two-stage translation (EL1&0 under HCR_EL2.VM = 1)', () => {
  void test('VA -> IPA -> PA: RAM data page, its stage-1 tables fetched through stage 2', async () => {
    const x = await tr(twoStageLike(), 0x8020_3008n);
    assert.equal(x.twoStage, true);
    assert.equal(x.ipa, 0x8020_3008n, 'stage 1 output is the IPA');
    assert.equal(x.pa, ramPa(0x8020_3008n), 'the PA is the IPA moved by stage 2');
    assert.equal(x.pa, 0x1_0020_3008n);
    assert.equal(x.fault, undefined);
    // Both traces: three stage-1 levels at IPAs, each fetched at its PA; a one-level stage-2 walk.
    assert.deepEqual(
      x.stage1.steps.map((s) => [s.level, s.descAddr]),
      [
        [1, L1 + 2n * 8n],
        [2, L2RAM + 1n * 8n],
        [3, 0x8010_4000n + 3n * 8n],
      ],
    );
    assert.deepEqual(
      x.tableWalks?.map((w) => w?.pa),
      x.stage1.steps.map((s) => ramPa(s.descAddr)),
    );
    assert.deepEqual(
      x.stage2?.steps.map((s) => s.level),
      [1],
    );
    assert.equal(x.stage2?.va, 0x8020_3008n);
    // Normal WB RA WA (stage 1) with Normal WB (stage 2): the stage-1 hints stay.
    assert.equal(x.memType?.name, 'Normal WB RA WA');
    assert.equal(perms(x), 'RW-/---');
  });

  void test('a device page: Device-nGnRE at both stages, stage 2 XN takes no permission stage 1 gave', async () => {
    const x = await tr(twoStageLike(), 0x0900_0010n);
    assert.equal(x.ipa, 0x0900_0010n);
    assert.equal(x.pa, 0x0900_0010n);
    assert.equal(x.memType?.name, 'Device-nGnRE');
    assert.equal(perms(x), 'RW-/---');
    assert.deepEqual(
      x.stage2?.steps.map((s) => s.level),
      [1, 2, 3],
    );
  });

  void test('a stage-2 translation fault at each level, with the level and the IPA', async () => {
    const f = twoStageLike();
    // Stage 1 maps three IPAs that stage 2 does not: at its L3 (0x0900_1000), L2 (0x0a00_0000), L1
    // (0x4000_0000). In pvmfwLike they are lazy; make them valid device mappings.
    f.s1.t.set(L3DEV, 1, DEVICE_PAGE | 0x0900_1000n);
    f.s1.t.set(L2DEV, 80, LAZY_BLOCK | 1n | 0x0a00_0000n);
    f.s1.t.set(L1, 1, LAZY_BLOCK | 1n | 0x4000_0000n);
    for (const [va, level] of [
      [0x0900_1234n, 3],
      [0x0a01_2345n, 2],
      [0x4123_4567n, 1],
    ] as const) {
      const x = await tr(f, va);
      assert.equal(x.stage1.pa, va, 'stage 1 translates');
      assert.equal(x.ipa, va);
      assert.equal(x.pa, undefined, 'no PA: the CPU takes a stage-2 fault');
      assert.equal(x.fault?.stage, 2);
      assert.equal(x.fault?.kind, 'translation');
      assert.equal(x.fault?.level, level);
      assert.equal(x.fault?.ipa, va);
      assert.equal(x.fault?.s1ptw, undefined);
      assert.equal(
        x.fault?.message,
        `stage-2 translation fault, level ${level} (IPA 0x${va.toString(16).padStart(8, '0')})`,
      );
      assert.equal(x.stage2?.steps.length, level);
    }
  });

  void test('a lazy stage-1 leaf: the stage-1 fault stands; its named IPA is still looked up', async () => {
    const x = await tr(twoStageLike(), 0x0900_1010n);
    assert.equal(x.fault?.stage, 1);
    assert.equal(x.fault?.message, 'Translation fault, level 3');
    assert.equal(x.ipa, 0x0900_1010n, 'the IPA the lazy leaf names');
    assert.equal(x.stage2?.fault?.level, 3, 'and stage 2 does not map it (yet)');
    assert.equal(x.pa, undefined);
  });

  void test('S1PTW: a stage-1 table whose IPA stage 2 does not map is a stage-2 fault on the walk', async () => {
    const f = twoStageLike();
    // The level-3 table of the image moves to IPA 0xc000_0000 (stage-2 L1[3] is zero).
    f.s1.t.set(L2RAM, 1, 0xc000_0000n | TABLE);
    const x = await tr(f, 0x8020_3008n);
    assert.equal(x.ipa, undefined);
    assert.equal(x.pa, undefined);
    assert.equal(x.fault?.stage, 2);
    assert.equal(x.fault?.kind, 'translation');
    assert.equal(x.fault?.level, 1, 'stage-2 level');
    assert.deepEqual(x.fault?.s1ptw, { level: 3, tableIpa: 0xc000_0000n }, 'the stage-1 level and its table');
    assert.equal(x.fault?.ipa, 0xc000_0018n, 'the descriptor IPA');
    assert.match(
      x.fault?.message ?? '',
      /^stage-2 translation fault, level 1, on the stage-1 table walk \(S1PTW\): level-3 descriptor at IPA 0xc0000018$/,
    );
    assert.equal(x.stage1.steps.length, 3);
    assert.equal(x.stage1.steps[2].desc, undefined, 'the level-3 descriptor was never read');
    assert.equal(x.stage2?.va, 0xc000_0018n);
    // A table at an IPA stage 2 maps at level 3 only partly: the fault is at stage-2 level 3.
    const g = twoStageLike();
    g.s1.t.set(L2RAM, 1, 0x0900_1000n | TABLE);
    const y = await tr(g, 0x8020_3008n);
    assert.equal(y.fault?.level, 3);
    assert.deepEqual(y.fault?.s1ptw, { level: 3, tableIpa: 0x0900_1000n });
    // The root table itself (TTBR0_EL1 names an IPA stage 2 does not map): stage-1 level 1.
    const h = twoStageLike();
    const { mem, regs } = h.build();
    const z = await translateTwoStage(
      regimeFromRegisters('el1', { ...regs, TTBR0_EL1: 0x4000_0000n }),
      regimeFromRegisters('stage2', regs),
      mem,
      0x8020_3008n,
    );
    assert.deepEqual(z.fault?.s1ptw, { level: 1, tableIpa: 0x4000_0000n });
    assert.equal(z.fault?.level, 1);
  });

  void test('permissions: stage-2 read-only refuses a write stage 1 allows (stage-2 permission fault)', async () => {
    const f = twoStageLike();
    f.s1.t.set(L3DEV, 2, DEVICE_PAGE | 0x0900_2000n); // stage 1: RW device page; stage 2: RO Normal NC
    const read = await tr(f, 0x0900_2000n);
    assert.equal(read.pa, 0x0900_2000n);
    assert.equal(perms(read), 'R--/---', 'RW-/--- at stage 1, R at stage 2');
    // Device at stage 1 beats Normal NC at stage 2.
    assert.equal(read.memType?.name, 'Device-nGnRE');
    const write = await tr(f, 0x0900_2000n, { write: true });
    assert.equal(write.pa, undefined);
    assert.equal(write.fault?.stage, 2);
    assert.equal(write.fault?.kind, 'permission');
    assert.equal(write.fault?.level, 3);
    // Stage 2 XN refuses an instruction fetch of a RAM page stage 1 lets execute.
    const g = twoStageLike();
    g.s2.set(g.s2l1, 2, s2Page(0x1_0000_0000n, 0b1111, 3, 2) & ~2n);
    const fetch = await tr(g, 0x8020_0000n, { exec: true });
    assert.equal(fetch.stage1.fault, undefined, 'code page: stage 1 executes');
    assert.equal(fetch.fault?.stage, 2);
    assert.equal(fetch.fault?.kind, 'permission');
    const code = await tr(g, 0x8020_0000n);
    assert.equal(perms(code), 'R--/---', 'R-X/--X at stage 1, no execution at stage 2');
  });

  void test('HCR_EL2.FWB = 1: stage 2 forces the type (MemAttr 0b110 Write-Back, 0b101 NC, 0b0xx Device)', async () => {
    const f = twoStageLike(HCR_VM | HCR_FWB);
    // Stage 1 maps 0x0900_2000 as Normal WB (AttrIndx 1); stage 2 (FWB) says MemAttr 0b101: Normal NC.
    f.s1.t.set(L3DEV, 2, 0x0060_0000_0000_0f07n | 0x0900_2000n);
    const nc = await tr(f, 0x0900_2000n);
    assert.equal(nc.memType?.name, 'Normal NC');
    // The console page: stage-2 MemAttr 0b0001 reads as Device-nGnRE under FWB too.
    assert.equal((await tr(f, 0x0900_0000n)).memType?.name, 'Device-nGnRE');
    // RAM: the block's 0b1111 is 0b111 under FWB (MemAttr[3] RES0): stage 1's type.
    assert.equal((await tr(f, 0x8020_3008n)).memType?.name, 'Normal WB RA WA');
    // A Device stage-1 mapping over stage-2 0b110 (force Write-Back) becomes Normal WB.
    const g = twoStageLike(HCR_VM | HCR_FWB);
    g.s2.set(g.s2l3, 2, s2Page(0x0900_2000n, 0b0110, 3, 2));
    g.s1.t.set(L3DEV, 2, DEVICE_PAGE | 0x0900_2000n);
    assert.equal((await tr(g, 0x0900_2000n)).memType?.name, 'Normal WB RA WA');
  });

  void test('without stage 2 (HCR_EL2.VM = 0) the stage-1 output is the PA, as before', async () => {
    const f = twoStageLike(0n);
    f.s1.t.set(L2RAM, 0, DATA_BLOCK | 0x8000_0000n);
    const { regs } = f.build();
    // VM = 0: the tables are where stage 1 says, so read them at the IPAs as PAs.
    const x = await translateTwoStage(regimeFromRegisters('el1', regs), undefined, f.s1.t.mem, 0x8020_3008n);
    assert.equal(x.twoStage, false);
    assert.equal(x.pa, 0x8020_3008n);
    assert.equal(x.ipa, undefined);
    assert.equal(x.memType?.name, 'Normal WB RA WA');
  });
});
