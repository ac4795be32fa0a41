// Exception filters end to end (real QEMU + demo firmware): lazyMmioFault stops only on faults that
// hit a lazy entry and auto-continues past the injected external abort of scenario b, guardHypercall
// stops at the EL2 vector with the call decoded; bug scenarios surface their anomalies.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildGuest, Dap, demoLaunch, demoQemuArgs, useDap } from './support';
import type { GuardStateResponseBody, MmuChangedEventBody } from '../../src/shared/protocol';

async function continueToStop(dap: Dap) {
  const m = dap.mark();
  await dap.dc.continueRequest({ threadId: 1 });
  return dap.nextStopWithMmu(m, 30000);
}

void describe('lazyMmioFault filter, scenario b (a valid device page that was never guard-mapped)', () => {
  const dap = useDap();

  void test('stops at the vector for the RTC fault, with the interrupted frame and the verdict', async () => {
    await dap.launch(demoLaunch({ qemuArgs: demoQemuArgs('b') }), async () => {
      const f = await dap.dc.setExceptionBreakpointsRequest({ filters: ['lazyMmioFault'] });
      assert.ok(f.success);
    });
    const { stop, mmu } = await continueToStop(dap);
    assert.equal(stop.reason, 'exception');
    assert.equal(stop.text, 'Lazy MMIO fault at 0x09010000');
    const info = await dap.dc.exceptionInfoRequest({ threadId: 1 });
    assert.equal(info.body.exceptionId, 'lazyMmioFault');
    assert.match(info.body.details?.message ?? '', /MMIO_GUARD_MAP 0x09010000/);
    const frames = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames;
    assert.match(frames[0].name, /^vector_table_el1/);
    assert.match(frames[1].name, /^mmio_read32 \[interrupted: Synchronous, current EL with SP0 \(EL1\)\]$/);
    assert.equal(mmu.fault?.verdict.kind, 'lazyMmio');
    assert.equal(mmu.fault?.vector, 'Synchronous, current EL with SP0');
    assert.equal(mmu.fault?.far, '0x9010000');
    // At a fault the Fault scope comes first (VS Code expands the first scope).
    const scopes = (await dap.dc.scopesRequest({ frameId: frames[0].id })).body.scopes.map((x) => x.name);
    assert.deepEqual(scopes, ['Fault', 'General', 'System']);
  });

  void test('next stop is the virtio fault, then the fw_cfg external abort does not stop (not lazy)', async () => {
    // An instruction breakpoint on the faulting load, then one instruction step into the vector.
    const elr = (await dap.scope('Fault')).find((v) => v.name === 'ELR')?.memoryReference;
    assert.ok(elr);
    await dap.dc.customRequest('setInstructionBreakpoints', { breakpoints: [{ instructionReference: elr }] });
    // The first hit is the retried RTC load (mapped now, it does not fault); the next faulting one is
    // the virtio access.
    let into: Awaited<ReturnType<typeof continueToStop>> | undefined;
    const seen: MmuChangedEventBody[] = [];
    for (let hit = 0; hit < 4 && !into?.stop.description; hit++) {
      const atLoad = await continueToStop(dap);
      seen.push(atLoad.mmu);
      assert.equal(atLoad.stop.reason, 'breakpoint');
      assert.equal((await dap.topFrame()).instructionPointerReference, elr);
      const m = dap.mark();
      await dap.dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
      into = await dap.nextStopWithMmu(m);
      seen.push(into.mmu);
      assert.equal(into.stop.reason, 'step');
    }
    assert.ok(into);
    assert.match(
      into.stop.description ?? '',
      /^Stepped into the EL1 exception vector \(Synchronous, current EL with SP0\): Data Abort, same EL: Translation fault, level 2 at 0x0a000000$/,
    );
    assert.equal(
      into.mmu.fault?.verdict.summary,
      'lazy MMIO: handle_mmio_fault will MMIO_GUARD_MAP 0x0a000000',
    );
    await dap.dc.customRequest('setInstructionBreakpoints', { breakpoints: [] });
    // The RTC page was mapped by the handler between the stops.
    assert.ok(seen.some((e) => e.changes.some((c) => c.kind === 'becameValid' && c.vaStart === '0x9010000')));
    assert.ok(seen.some((e) => e.newGuardCalls.some((c) => c.fn === 'MAP' && c.arg === '0x9010000')));
    // Scenario b maps fw_cfg valid without MMIO_GUARD_MAP: its access takes an injected external
    // abort, a synchronous exception the filter lets through; the firmware then panics.
    await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'panic_park' }] });
    const next = await continueToStop(dap);
    assert.equal(next.stop.reason, 'breakpoint');
    assert.equal((await dap.topFrame()).name, 'panic_park');
    assert.match(dap.transcript(), /BUG\(b\): 0x9020000 mapped valid without MMIO_GUARD_MAP/);
    assert.match(dap.transcript(), /ESR=0x96000010 \(synchronous external abort\)/);
    const fault = new Map((await dap.scope('Fault')).map((v) => [v.name, v.value]));
    assert.match(
      fault.get('verdict') ?? '',
      /^synchronous external abort at 0x09020000: the hypervisor refused the access/,
    );
    const anomaly = [...seen, next.mmu]
      .flatMap((e) => e.newAnomalies)
      .find((a) => a.code === 'validUnguarded');
    assert.ok(anomaly, JSON.stringify(next.mmu.newAnomalies));
    assert.equal(anomaly.va, '0x9020000');
    const g = await dap.custom<GuardStateResponseBody>('guardState', {});
    const fw = g.regions.find((r) => r.start === '0x9020000');
    assert.equal(fw?.runs[0].state, 'validUnguarded');
  });
});

void describe('guardHypercall and syncException filters', () => {
  const dap = useDap();

  void test('guardHypercall stops at the EL2 vector for INFO, ENROLL, then MAP of the console', async () => {
    await dap.launch(demoLaunch(), async () => {
      await dap.dc.setExceptionBreakpointsRequest({ filters: ['guardHypercall'] });
    });
    const texts: string[] = [];
    let last: MmuChangedEventBody | undefined;
    for (let i = 0; i < 3; i++) {
      const { stop, mmu } = await continueToStop(dap);
      assert.equal(stop.reason, 'exception');
      texts.push(stop.text ?? '');
      last = mmu;
    }
    assert.deepEqual(texts, ['MMIO_GUARD_INFO', 'MMIO_GUARD_ENROLL', 'MMIO_GUARD_MAP(0x09000000)']);
    assert.match(last?.fault?.verdict.summary ?? '', /MMIO_GUARD_MAP\(0x09000000\) hypercall from EL1/);
    const frames = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames;
    assert.match(frames[0].name, /^el2_vectors\+0x400/);
    assert.match(frames[1].name, /^hvc_call.*\[interrupted: Synchronous, lower EL AArch64 \(EL2\)\]/);
  });

  void test('syncException stops at any synchronous exception', async () => {
    await dap.dc.setExceptionBreakpointsRequest({ filters: ['syncException'] });
    const { stop } = await continueToStop(dap);
    assert.equal(stop.reason, 'exception');
    assert.match(stop.text ?? '', /^Synchronous exception to EL[12]/);
  });
});

void describe('bug scenarios surface their anomalies', () => {
  before(() => buildGuest());
  const cases: [string, string, RegExp][] = [
    ['a', 'lazyNotPage', /valid lazy-flagged L2 block at 0x0a000000 \(2048 KiB\)/],
    ['c', 'lazyOnNormalMemory', /MMIO_LAZY_MAP_FLAG on a normal-memory invalid entry/],
    ['d', 'guardLeak', /still MMIO_GUARD_MAPped at scenario_done: mmio_unmap_all did not run/],
  ];
  for (const [scenario, code, message] of cases) {
    void test(`scenario ${scenario}: ${code}`, async () => {
      const dap = new Dap();
      await dap.start();
      try {
        await dap.launch(demoLaunch({ qemuArgs: demoQemuArgs(scenario) }), async () => {
          await dap.dc.setFunctionBreakpointsRequest({
            breakpoints: [{ name: 'panic_park' }, { name: 'scenario_done' }],
          });
        });
        const { stop, mmu } = await continueToStop(dap);
        assert.equal(stop.reason, 'breakpoint');
        const g = await dap.custom<GuardStateResponseBody>('guardState', {});
        const found = g.anomalies.find((a) => a.code === code);
        assert.ok(found, JSON.stringify(g.anomalies));
        assert.match(found.message, message);
        assert.ok(
          mmu.newAnomalies.some((a) => a.code === code),
          'reported as new in mmuChanged',
        );
        if (scenario === 'c')
          assert.ok(g.anomalies.some((a) => a.code === 'hypercallError' && /returned -3/.test(a.message)));
      } finally {
        await dap.dc.disconnectRequest({ terminateDebuggee: true }).catch(() => undefined);
        await dap.stop();
      }
    });
  }
});
