// One answer for a two-stage translation: the analysis core's translate response (the adapter's
// request), the Debug Console's `translate`/`pte` text and the CLI's `translate` (text and --json,
// on a snapshot of the same stop) all report the IPA, the final PA, the stage-2 fault and the
// combined attributes the core computed, on a stage 2 that is not an identity map.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  analyzeStop,
  explainUnreadable,
  makeSnapshot,
  translateQuery,
  type StopPicture,
} from '../../../src/analysis';
import { evaluateTranslate } from '../../../src/adapter/mmuConsole';
import type { MmuModel } from '../../../src/adapter/mmu';
import { main } from '../../../src/cli/run';
import { DEVICE_PAGE, TABLE } from '../aarch64/fixtures';
import { s2Page, twoStageLike, type TwoStageFixture } from '../aarch64/twoStageFixtures';

const dir = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-two-stage-'));
let n = 0;

interface Stop {
  readonly picture: StopPicture;
  readonly file: string;
}

async function stop(mutate?: (f: TwoStageFixture) => void): Promise<Stop> {
  const f = twoStageLike();
  mutate?.(f);
  const { mem, regs } = f.build();
  const picture = await analyzeStop({
    stopId: 1,
    reason: 'pause',
    threadId: 1,
    registers: regs,
    reader: mem,
    options: { lazyBit: 55, guardLogSymbol: 'guard_log' },
  });
  const file = join(dir, `stop-${n++}.json`);
  writeFileSync(file, JSON.stringify(makeSnapshot(regs, mem, { source: 'unit test' })));
  return { picture, file };
}

async function cli(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(args, (s) => (out += s));
  return { code, out };
}

const consoleText = async (p: StopPicture, address: bigint, kind: 'pte' | 'translate'): Promise<string> => {
  const mmu = {
    translateRequest: (a: Parameters<MmuModel['translateRequest']>[0]) => translateQuery(p, a),
    current: () => Promise.resolve(p),
  };
  return (await evaluateTranslate(mmu as unknown as MmuModel, address, kind)).result;
};

interface CliJson {
  pa: string | null;
  ipa: string | null;
  fault: { stage: number; kind: string; level: number; ipa?: string; s1ptw?: unknown } | null;
  stage2: { ipa: string; pa: string | null; steps: unknown[] } | null;
  stepsPhysical: (string | null)[] | null;
  combined: { memType: string; perms: string } | null;
}

void describe('two-stage translate: core, Debug Console and CLI', () => {
  void test('VA -> IPA -> PA with the combined attributes', async () => {
    const s = await stop();
    const r = await translateQuery(s.picture, { address: '0x80203008' });
    assert.equal(r.ok, true);
    assert.equal(r.ipa, '0x80203008');
    assert.equal(r.outputAddress, '0x100203008', 'the PA, not the IPA');
    assert.deepEqual(r.combined, { memoryType: 'Normal WB RA WA', permissions: 'RW-/---' });
    assert.equal(r.stage2?.ok, true);
    assert.equal(r.stage2?.ipa, '0x80203008');
    assert.equal(r.stage2?.memoryType, 'Normal WB');
    assert.deepEqual(r.walkPhysical, ['0x100100010', '0x100103008', '0x100104018']);

    const text = await consoleText(s.picture, 0x8020_3008n, 'translate');
    assert.match(text, /^0x0080203008 \(TTBR0_EL1\) → IPA 0x80203008 → PA 0x100203008$/m);
    assert.match(text, /L1\[2\] @ 0x80100010 \(PA 0x100100010\)/);
    assert.match(text, /stage 2 \(IPA 0x80203008\): → 0x100203008/);
    assert.match(text, /combined: Normal WB RA WA RW-\/---/);
    const pte = await consoleText(s.picture, 0x8020_3008n, 'pte');
    assert.match(pte, /stage 2: IPA 0x80203008 → PA 0x100203008, L1 block 0x[0-9a-f]{16} @ 0x20000010/);

    const t = await cli(['translate', '--snapshot', s.file, '0x80203008']);
    assert.equal(t.code, 0);
    assert.match(t.out, /@ 0x80100010 \(PA 0x100100010\)/);
    assert.match(t.out, /^stage 2 \(VTTBR_EL2\), IPA 0x80203008$/m);
    assert.match(
      t.out,
      /=> IPA 0x80203008 => PA 0x100203008 {2}Normal WB RA WA {2}RW-\/--- {2}\(both stages combined\)/,
    );
    const j = JSON.parse(
      (await cli(['translate', '--snapshot', s.file, '0x80203008', '--json'])).out,
    ) as CliJson;
    assert.equal(j.pa, r.outputAddress);
    assert.equal(j.ipa, r.ipa);
    assert.deepEqual(j.stepsPhysical, r.walkPhysical);
    assert.deepEqual(j.combined, { memType: r.combined?.memoryType, perms: r.combined?.permissions });
    assert.equal(j.stage2?.pa, r.stage2?.outputAddress);
  });

  void test('a stage-2 translation fault: not translated, level and IPA named, exit 4', async () => {
    const s = await stop((f) => f.s1.t.set(0x8010_2000n, 1, DEVICE_PAGE | 0x0900_1000n));
    const r = await translateQuery(s.picture, { address: '0x9001234' });
    assert.equal(r.ok, false);
    assert.equal(r.ipa, '0x9001234');
    assert.equal(r.outputAddress, undefined);
    assert.equal(r.faultStage, 2);
    assert.equal(r.fault, 'stage-2 translation fault, level 3 (IPA 0x09001234)');
    assert.equal(r.stage2?.faultKind, 'translation');
    assert.equal(r.stage2?.level, 3);
    assert.equal(r.verdict, undefined, "pvmfw's verdict is about stage 1, which translates");

    assert.match(
      await consoleText(s.picture, 0x900_1234n, 'translate'),
      /fault: stage-2 translation fault, level 3/,
    );
    assert.match(
      await consoleText(s.picture, 0x900_1234n, 'pte'),
      /stage 2: IPA 0x09001234 fault: stage-2 translation fault, level 3/,
    );

    const t = await cli(['translate', '--snapshot', s.file, '0x9001234']);
    assert.equal(t.code, 4);
    assert.match(t.out, /=> IPA 0x09001234 {2}Device-nGnRE/);
    assert.match(t.out, /=> stage-2 translation fault, level 3 \(IPA 0x09001234\)$/m);
    const j = JSON.parse(
      (await cli(['translate', '--snapshot', s.file, '0x9001234', '--json'])).out,
    ) as CliJson;
    assert.equal(j.pa, null);
    assert.equal(j.ipa, '0x9001234');
    assert.deepEqual(
      { stage: j.fault?.stage, kind: j.fault?.kind, level: j.fault?.level, ipa: j.fault?.ipa },
      { stage: 2, kind: 'translation', level: 3, ipa: '0x9001234' },
    );
  });

  void test('S1PTW: the stage-1 walk itself faults at stage 2', async () => {
    const s = await stop((f) => f.s1.t.set(0x8010_3000n, 1, 0xc000_0000n | TABLE));
    const r = await translateQuery(s.picture, { address: '0x80203008' });
    assert.equal(r.ok, false);
    assert.equal(r.faultStage, 2);
    assert.deepEqual(r.stage2?.s1ptw, { level: 3, tableIpa: '0xc0000000' });
    assert.equal(r.stage2?.level, 1);
    assert.equal(r.walkPhysical?.[2], null);
    const t = await cli(['translate', '--snapshot', s.file, '0x80203008']);
    assert.equal(t.code, 4);
    assert.match(t.out, /stage-2 translation fault, level 1, on the stage-1 table walk \(S1PTW\)/);
  });

  void test("a lazy page keeps pvmfw's verdict; stage 2 of its IPA is shown", async () => {
    const s = await stop();
    const r = await translateQuery(s.picture, { address: '0x9001010' });
    assert.equal(r.faultStage, 1);
    assert.equal(r.fault, 'Translation fault, level 3');
    assert.equal(r.verdict?.kind, 'lazyMmio');
    assert.equal(r.ipa, '0x9001010');
    assert.equal(r.stage2?.ok, false);
    const t = await cli(['translate', '--snapshot', s.file, '0x9001010']);
    assert.equal(t.code, 4);
    assert.match(t.out, /invalid leaf names IPA 0x09001010/);
    assert.match(t.out, /pvmfw: lazy MMIO/);
  });

  void test('why a virtual read fails: a stage-2 fault names the IPA; a lazy page its PA through stage 2', async () => {
    const s = await stop((f) => f.s1.t.set(0x8010_2000n, 1, DEVICE_PAGE | 0x0900_1000n));
    assert.equal(
      await explainUnreadable(s.picture, 0x900_1234n),
      '0x09001234 has no valid translation: stage-2 translation fault, level 3 (IPA 0x09001234). Stage 1 maps it to IPA 0x09001234 (L3 entry 0x00e0000009001403 @ 0x80102008).',
    );
    // A lazy page whose IPA stage 2 does not map (yet), and one stage 2 maps to a PA.
    const l = await stop((f) => {
      f.s1.t.set(0x8010_2000n, 3, 0x00e0_0000_0000_0402n | 0x0900_3000n);
      f.s2.set(f.s2l3, 3, s2Page(0x7_0000_3000n, 0b0001, 3, 2)); // IPA 0x0900_3000 -> PA 0x7_0000_3000
    });
    assert.match(
      await explainUnreadable(l.picture, 0x900_1000n),
      /lazy MMIO page.*Its IPA 0x09001000 is not mapped at stage 2 either \(Translation fault, level 3\); where stage 2 maps MMIO one to one \(pKVM's guard mappings\), read it physically as p:0x09001000\.$/,
    );
    assert.match(
      await explainUnreadable(l.picture, 0x900_3000n),
      /lazy MMIO page.*Read it physically as p:0x700003000\.$/,
    );
  });
});
