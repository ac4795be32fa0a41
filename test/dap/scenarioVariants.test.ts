// The adapter story of scenario.test.ts on every demo firmware variant (#16): launch, break on
// handle_mmio_fault for the RTC, read the verdict (the generation's handler, the guard granule),
// step by instruction through MMIO_GUARD_MAP (guard-mapped at stage 2 while stage 1 is still lazy),
// on until the whole granule is valid at stage 1, and see the verdict follow the handler.
// Variants: demo-2024.elf (late-2023 encodings, VALID set in place), demo-16k.elf (16 KiB stage 2
// and guard granule), and demo.elf under the stub's pKVM representation (-append s2=pkvm).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Dap, demoLaunch, entryFor, useDap } from './support';
import { demoElfFor, demoQemuArgs } from '../harness/demo';
import type { DemoStage2, DemoVariant } from '../../src/shared/demoLaunch';
import type { GuardStateResponseBody, MmuChangedEventBody, PageGuardState } from '../../src/shared/protocol';

const RTC = 0x9010000n;

interface Case {
  readonly variant: DemoVariant;
  readonly s2?: DemoStage2;
  /** The RTC's lazy and valid stage-1 descriptors, as the pageTable request prints them. */
  readonly lazy: string;
  readonly valid: string;
  readonly granulePages: number;
  /** The verdict at the fault stop. */
  readonly verdict: string;
  /** The verdicts while the handler runs: MAP done, stage 1 lazy; then the granule served. */
  readonly running: string;
  readonly handled: string;
}

const CASES: Case[] = [
  {
    variant: '2024',
    lazy: '0xc0000009010402',
    valid: '0xc0000009010403',
    granulePages: 1,
    verdict: 'lazy MMIO: handle_mmio_fault will MMIO_GUARD_MAP 0x09010000, then set VALID in place',
    running:
      'handler running: MMIO_GUARD_MAP of 0x09010000 done, VALID not yet set in place on its stage-1 entry',
    handled: 'handled: 0x09010000 is MMIO_GUARD_MAPped and valid at stage 1 (VALID set in place)',
  },
  {
    variant: '16k',
    lazy: '0xc0000009010402',
    valid: '0xc0000009010403',
    granulePages: 4,
    verdict:
      'lazy MMIO: handle_mmio_fault will MMIO_GUARD_MAP the 16 KiB granule 0x09010000, then set VALID in place',
    running:
      'handler running: MMIO_GUARD_MAP of the 16 KiB granule 0x09010000 done, VALID not yet set in place on its stage-1 entries',
    handled:
      'handled: the 16 KiB granule 0x09010000 is MMIO_GUARD_MAPped and valid at stage 1 (VALID set in place)',
  },
  {
    variant: 'seed',
    s2: 'pkvm',
    lazy: '0xe0000009010402',
    valid: '0xe0000009010403',
    granulePages: 1,
    verdict: 'lazy MMIO: handle_mmio_fault will MMIO_GUARD_MAP 0x09010000',
    running: 'handler running: MMIO_GUARD_MAP of 0x09010000 done, its stage-1 entry still lazy',
    handled: 'handled: 0x09010000 is MMIO_GUARD_MAPped and valid at stage 1',
  },
];

async function pageState(dap: Dap, page: bigint): Promise<PageGuardState | undefined> {
  const g = await dap.custom<GuardStateResponseBody>('guardState', { omitLog: true });
  for (const r of g.regions)
    for (const run of r.runs) {
      const a = BigInt(run.start);
      if (page >= a && page < a + BigInt(run.pages) * 4096n) return run.state;
    }
  return undefined;
}

async function next(dap: Dap): Promise<MmuChangedEventBody> {
  const m = dap.mark();
  await dap.dc.nextRequest({ threadId: 1, granularity: 'instruction' });
  const { stop, mmu } = await dap.nextStopWithMmu(m);
  assert.equal(stop.reason, 'step');
  return mmu;
}

const verdictNow = async (dap: Dap) =>
  new Map((await dap.scope('Fault')).map((v) => [v.name, v.value])).get('verdict') ?? '';

for (const c of CASES) {
  const name = `${c.variant === 'seed' ? 'demo' : `demo-${c.variant}`}.elf${c.s2 ? ` s2=${c.s2}` : ''}`;
  void describe(`${name}: first lazy fault, step the handler, guard-mapped`, () => {
    const dap = useDap();

    void test('launch, break on handle_mmio_fault for the RTC, the verdict names the handler', async () => {
      const stop = await dap.launch(
        demoLaunch({
          program: demoElfFor(c.variant),
          qemuArgs: demoQemuArgs(undefined, { variant: c.variant, ...(c.s2 ? { s2: c.s2 } : {}) }),
        }),
      );
      assert.equal(stop.reason, 'entry');
      const r = await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'handle_mmio_fault' }] });
      assert.equal(r.body.breakpoints[0].verified, true);
      const m = dap.mark();
      await dap.dc.continueRequest({ threadId: 1 });
      assert.equal((await dap.nextStop(m)).reason, 'breakpoint');
      assert.equal(await verdictNow(dap), c.verdict);
      assert.equal((await entryFor(dap, RTC))?.descriptor, c.lazy);
      assert.equal(await pageState(dap, RTC), 'lazy');
      if (c.s2) assert.match(dap.transcript(), /s2=pkvm: guard maps are annotated invalid entries/);
    });

    void test('step through MMIO_GUARD_MAP, then until the granule is valid at stage 1', async () => {
      let steps = 0;
      let sawMap = false;
      while ((await pageState(dap, RTC)) !== 'guardMappedPending') {
        const ev = await next(dap);
        if (ev.newGuardCalls.some((x) => x.fn === 'MAP' && x.arg === '0x9010000')) sawMap = true;
        assert.ok(++steps < 200, 'MMIO_GUARD_MAP not reached within 200 steps');
      }
      assert.ok(sawMap, 'mmuChanged reported the MAP call');
      assert.equal(await verdictNow(dap), c.running);
      let becameValid = false;
      while ((await entryFor(dap, RTC))?.kind !== 'page') {
        const ev = await next(dap);
        if (ev.changes.some((x) => x.kind === 'becameValid' && x.vaStart === '0x9010000')) becameValid = true;
        assert.ok(++steps < 400, 'VALID not reached within 400 steps');
      }
      assert.ok(becameValid, 'mmuChanged reported the RTC entry becoming valid');
      assert.equal((await entryFor(dap, RTC))?.descriptor, c.valid);
      // Every 4 KiB page of the granule is served together.
      for (let k = 0; k < c.granulePages; k++)
        assert.equal(await pageState(dap, RTC + BigInt(k * 4096)), 'guardMapped', `page ${k}`);
      assert.equal(
        await pageState(dap, RTC + BigInt(c.granulePages * 4096)),
        undefined,
        'outside the region',
      );
      assert.equal(await verdictNow(dap), c.handled);
    });
  });
}
