// End to end through the adapter, real QEMU + the demo firmware: launch, stop on entry, break on
// handle_mmio_fault, read the Fault scope, step by instruction through the MAP hypercall (guardState
// shows the page guard-mapped while stage 1 is still lazy) and on to the descriptor store (pageTable
// shows it valid), follow mmuChanged, see the split of the virtio 2 MiB block, reach scenario_done.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Dap, demoLaunch, useDap, entryFor } from './support';
import type {
  GuardStateResponseBody,
  MmuChangedEventBody,
  PageGuardState,
  PageTableResponseBody,
  TranslateResponseBody,
} from '../../src/shared/protocol';

const RTC = 0x9010000n;
const VIRTIO = 0xa000000n;

async function pageState(dap: Dap, page: bigint): Promise<PageGuardState | undefined> {
  const g = await dap.custom<GuardStateResponseBody>('guardState', { omitLog: true });
  for (const r of g.regions) {
    for (const run of r.runs) {
      const a = BigInt(run.start);
      if (page >= a && page < a + BigInt(run.pages) * 4096n) return run.state;
    }
  }
  return undefined;
}

async function stepOnce(dap: Dap, kind: 'next' | 'stepIn'): Promise<MmuChangedEventBody> {
  const m = dap.mark();
  if (kind === 'next') await dap.dc.nextRequest({ threadId: 1, granularity: 'instruction' });
  else await dap.dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
  const { stop, mmu } = await dap.nextStopWithMmu(m);
  assert.equal(stop.reason, 'step');
  return mmu;
}

void describe('launch the demo firmware and single-step the MMIO fault handler', () => {
  const dap = useDap();

  void test('stops on entry at _start with QEMU output forwarded', async () => {
    const stop = await dap.launch(demoLaunch());
    assert.equal(stop.reason, 'entry');
    const f = await dap.topFrame();
    assert.equal(f.name, '_start');
    const threads = await dap.dc.threadsRequest();
    assert.ok(threads.body.threads.length >= 1);
    assert.match(dap.transcript(), /QEMU \(pid \d+\): \S*qemu-system-aarch64 .*-gdb tcp:127\.0\.0\.1:\d+ -S/);
  });

  void test('function breakpoint on handle_mmio_fault is hit for the RTC page; Fault scope has the verdict', async () => {
    const r = await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'handle_mmio_fault' }] });
    assert.equal(r.body.breakpoints[0].verified, true);
    const m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    const stop = await dap.nextStop(m);
    assert.equal(stop.reason, 'breakpoint');
    assert.deepEqual(stop.hitBreakpointIds, [r.body.breakpoints[0].id]);
    const frames = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames.map((f) => f.name);
    assert.equal(frames[0], 'handle_mmio_fault');
    assert.ok(
      frames.some((n) => n.startsWith('sync_exception_current')),
      frames.join(' | '),
    );
    // The console saw the firmware's UART before the fault.
    assert.match(dap.transcript(), /map_mmio_range \[0x9010000, 0x9011000\) lazily/);

    const fault = await dap.scope('Fault');
    const byName = new Map(fault.map((v) => [v.name, v.value]));
    assert.equal(byName.get('verdict'), 'lazy MMIO: handle_mmio_fault will MMIO_GUARD_MAP 0x09010000');
    assert.match(byName.get('ESR') ?? '', /Data Abort, same EL: Translation fault, level 3/);
    assert.equal(byName.get('FAR'), '0x9010000');
    const walkVar = fault.find((v) => v.name === 'walk of FAR');
    assert.ok(walkVar);
    const walk = (await dap.dc.variablesRequest({ variablesReference: walkVar.variablesReference })).body
      .variables;
    assert.equal(walk.length, 3);
    assert.match(walk[2].value, /^0xe0000009010402 lazy/);

    assert.equal(await pageState(dap, RTC), 'lazy');
    const e = await entryFor(dap, RTC);
    assert.equal(e?.kind, 'lazy');
    assert.equal(e?.descriptor, '0xe0000009010402');
  });

  void test('stepping through the MAP hypercall: guard-mapped in stage 2, still lazy in stage 1, then valid', async () => {
    let sawMapCall: MmuChangedEventBody | undefined;
    let steps = 0;
    // Step over calls until the stub's log has the MAP: one instruction at a time.
    while ((await pageState(dap, RTC)) !== 'guardMappedPending') {
      const ev = await stepOnce(dap, 'next');
      if (ev.newGuardCalls.some((c) => c.fn === 'MAP' && c.arg === '0x9010000')) sawMapCall = ev;
      assert.ok(++steps < 200, 'MMIO_GUARD_MAP not reached within 200 steps');
    }
    assert.ok(sawMapCall, 'mmuChanged reported the MAP call in newGuardCalls');
    assert.equal((await entryFor(dap, RTC))?.kind, 'lazy');
    const tr = await dap.custom<TranslateResponseBody>('translate', { address: '0x9010000' });
    assert.equal(tr.ok, false);
    assert.equal(tr.stage2?.ok, true, 'stage 2 maps the IPA once MMIO_GUARD_MAP ran');
    // The fault's verdict follows the handler instead of being predicted again (#14 item 1).
    const verdictNow = async () =>
      new Map((await dap.scope('Fault')).map((v) => [v.name, v.value])).get('verdict') ?? '';
    assert.equal(
      await verdictNow(),
      'handler running: MMIO_GUARD_MAP of 0x09010000 done, its stage-1 entry still lazy',
    );

    let becameValid: MmuChangedEventBody | undefined;
    while ((await entryFor(dap, RTC))?.kind !== 'page') {
      const ev = await stepOnce(dap, 'next');
      if (ev.changes.some((c) => c.kind === 'becameValid' && c.vaStart === '0x9010000')) becameValid = ev;
      assert.ok(++steps < 400, 'descriptor store not reached within 400 steps');
    }
    assert.ok(becameValid, 'mmuChanged reported the RTC entry becoming valid');
    const e = await entryFor(dap, RTC);
    assert.equal(e?.descriptor, '0xe0000009010403');
    assert.equal(e?.changed, true);
    assert.equal(await pageState(dap, RTC), 'guardMapped');
    // Still inside the handler, the page served: no "fails with InvalidPte" against today's tables.
    assert.equal(await verdictNow(), 'handled: 0x09010000 is MMIO_GUARD_MAPped and valid at stage 1');
    // Served: the fault's verdict is 'handled', no longer a lazy fault waiting for its handler.
    assert.equal(
      (await dap.custom<GuardStateResponseBody>('guardState', { omitLog: true })).fault?.verdict.kind,
      'handled',
    );
  });

  void test('virtio fault: the lazy 2 MiB block is split and mmuChanged says so', async () => {
    let m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    const stop = await dap.nextStop(m);
    assert.equal(stop.reason, 'breakpoint');
    const fault = new Map((await dap.scope('Fault')).map((v) => [v.name, v.value]));
    assert.equal(fault.get('verdict'), 'lazy MMIO: handle_mmio_fault will MMIO_GUARD_MAP 0x0a000000');
    assert.equal(fault.get('split'), 'the level-2 lazy 2 MiB block becomes a table');
    assert.match(fault.get('handler') ?? '', /after splitting the level-2 2 MiB lazy block/);
    const before = await entryFor(dap, VIRTIO);
    assert.equal(before?.level, 2);
    assert.equal(before?.kind, 'lazy');
    m = dap.mark();
    await dap.dc.stepOutRequest({ threadId: 1 });
    const { stop: out, mmu: ev } = await dap.nextStopWithMmu(m);
    assert.equal(out.reason, 'step');
    const split = ev.changes.find((c) => c.kind === 'split');
    assert.ok(split, JSON.stringify(ev.changes));
    assert.equal(split.vaStart, '0xa000000');
    assert.equal(split.level, 2);
    assert.ok(split.newTable);
    assert.ok(ev.changes.some((c) => c.kind === 'becameValid' && c.vaStart === '0xa000000' && c.level === 3));
    assert.equal((await entryFor(dap, VIRTIO))?.kind, 'page');
    assert.equal((await entryFor(dap, VIRTIO + 0x1000n))?.kind, 'lazy');
  });

  void test('evaluate: registers, memory, pte, translate, guard, monitor', async () => {
    assert.match(await dap.evaluate('$x30'), /^0x[0-9a-f]{16}/);
    assert.match(await dap.evaluate('$TTBR0_EL1'), /^0x0001/);
    const tcr = await dap.dc.evaluateRequest({ expression: '$TCR_EL1', context: 'watch' });
    const fields = (await dap.dc.variablesRequest({ variablesReference: tcr.body.variablesReference })).body
      .variables;
    assert.ok(
      fields.some((f) => /T0SZ/.test(`${f.name} ${f.value}`)),
      JSON.stringify(fields),
    );
    assert.match(await dap.evaluate('*(u64*)pt_root'), /^0x0000000040\w+ \(\d+\)$/);
    assert.match(await dap.evaluate('pte 0x9010000'), /L3 page 4K 0x00e0000009010403/);
    assert.match(await dap.evaluate('translate 0x9010000'), /→ PA 0x09010000/);
    assert.match(await dap.evaluate('guard'), /pl031 rtc 0x09010000–0x09010fff · 1 page · guard-mapped 1/);
    assert.match(await dap.evaluate('monitor info registers'), /PC=/);
    await assert.rejects(dap.evaluate('*(u32*)0x9020000'), /lazy MMIO page/);
    const c = await dap.dc.completionsRequest({ text: 'pte handle_mm', column: 14 });
    assert.deepEqual(
      c.body.targets.map((t) => t.label),
      ['handle_mmio_fault'],
    );
    const r = await dap.dc.completionsRequest({ text: '$TTBR', column: 6 });
    assert.deepEqual(
      r.body.targets.map((t) => t.label),
      ['$TTBR0_EL1', '$TTBR1_EL1', '$TTBR0_EL2'],
    );
  });

  void test('pageTable pages through a table and lists regimes', async () => {
    const regimes = await dap.custom<{ regimes: { regime: string; enabled: boolean }[] }>('regimes', {});
    assert.deepEqual(
      regimes.regimes.map((r) => `${r.regime}:${r.enabled}`),
      ['TTBR0_EL1:true', 'TTBR1_EL1:false', 'VTTBR_EL2:true'],
    );
    const all = await dap.custom<PageTableResponseBody>('pageTable', { regime: 'TTBR0_EL1' });
    assert.ok(all.entries.length >= 3, 'device table, RAM, ECAM block at least');
    assert.equal(all.nonZeroEntries, all.entries.length);
    const first = await dap.custom<PageTableResponseBody>('pageTable', { regime: 'TTBR0_EL1', count: 1 });
    assert.equal(first.entries.length, 1);
    assert.equal(first.entries[0].id, all.entries[0].id);
    assert.equal(first.nextStart, all.entries[1].index);
    const rest = await dap.custom<PageTableResponseBody>('pageTable', {
      regime: 'TTBR0_EL1',
      start: first.nextStart,
    });
    assert.deepEqual(
      rest.entries.map((e) => e.id),
      all.entries.slice(1).map((e) => e.id),
    );
    const ecam = all.entries.find((e) => e.vaStart === '0x4000000000');
    assert.equal(ecam?.kind, 'lazy');
    assert.equal(ecam?.size, 2 ** 30);
    const s2 = await dap.custom<PageTableResponseBody>('pageTable', { regime: 'VTTBR_EL2' });
    assert.ok(
      s2.entries.some((e) => e.kind === 'block' && e.vaStart === '0x40000000'),
      'stage 2 maps RAM with a 1 GiB block',
    );
  });

  void test('readMemory: lazy page explained, device pages refused, physical space separate', async () => {
    await assert.rejects(
      dap.dc.customRequest('readMemory', { memoryReference: '0x9020000', count: 4 }),
      /lazy MMIO page.*p:0x09020000/s,
    );
    await assert.rejects(
      dap.dc.customRequest('readMemory', { memoryReference: '0x9000000', count: 4 }),
      /device memory/,
    );
    const ptRoot = await dap.evaluate('pt_root');
    const addr = /^0x0*([0-9a-f]+)/.exec(ptRoot)?.[1];
    assert.ok(addr);
    const v = await dap.dc.customRequest('readMemory', { memoryReference: `0x${addr}`, count: 16 });
    const p = await dap.dc.customRequest('readMemory', { memoryReference: `p:0x${addr}`, count: 16 });
    assert.equal((v.body as { data: string }).data, (p.body as { data: string }).data);
    assert.equal(Buffer.from((p.body as { data: string }).data, 'base64').length, 16);
  });

  void test('continues to scenario_done', async () => {
    await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'scenario_done' }] });
    const m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    const stop = await dap.nextStop(m, 30000);
    assert.equal(stop.reason, 'breakpoint');
    assert.equal((await dap.topFrame()).name, 'scenario_done');
    assert.match(dap.transcript(), /summary: scenario=n faults=4/);
    const g = await dap.custom<GuardStateResponseBody>('guardState', {});
    assert.equal(g.enrolled, true);
    assert.ok(g.log.some((c) => c.fn === 'UNMAP' && c.arg === '0x9010000'));
    assert.deepEqual(g.anomalies, []);
  });
});
