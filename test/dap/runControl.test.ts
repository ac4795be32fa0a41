// Run control end to end (real QEMU + demo firmware): a data breakpoint on the stub's guard-log
// counter, pause of a running guest, step over a call at instruction granularity, restart.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { demoLaunch, useDap } from './support';

void describe('run control', () => {
  const dap = useDap();

  void test('data breakpoint (write watchpoint) on guard_log.count stops when the stub logs a call', async () => {
    await dap.launch(demoLaunch());
    const info = await dap.dc.dataBreakpointInfoRequest({ name: 'guard_log + 0x10' });
    assert.ok(info.body.dataId, info.body.description);
    assert.deepEqual(info.body.accessTypes, ['write', 'read', 'readWrite']);
    const set = await dap.dc.setDataBreakpointsRequest({
      breakpoints: [{ dataId: info.body.dataId, accessType: 'write' }],
    });
    assert.equal(set.body.breakpoints[0].verified, true);
    let m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    const { stop } = await dap.nextStopWithMmu(m);
    assert.equal(stop.reason, 'data breakpoint');
    assert.match(stop.description ?? '', /^watch at 0x[0-9a-f]+$/);
    const frames = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames.map((f) => f.name);
    assert.match(frames[0], /^guard_log_append/);
    assert.ok(
      frames.some((f) => f.startsWith('handle_hvc')),
      frames.join(' | '),
    );
    // QEMU stops before the store: one instruction later the count is 1 and the log has INFO.
    m = dap.mark();
    await dap.dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
    const { mmu } = await dap.nextStopWithMmu(m);
    assert.equal(mmu.newGuardCalls[0]?.fn, 'INFO');
    assert.equal(mmu.newGuardCalls[0]?.result, '4096');
    // With the watchpoint kept, continuing stops at the next logged call (ENROLL), not again here.
    m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    const hit2 = await dap.nextStopWithMmu(m);
    assert.equal(hit2.stop.reason, 'data breakpoint');
    m = dap.mark();
    await dap.dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
    const second = await dap.nextStopWithMmu(m);
    assert.deepEqual(
      [...hit2.mmu.newGuardCalls, ...second.mmu.newGuardCalls].map((c) => c.fn),
      ['ENROLL'],
    );
    await dap.dc.setDataBreakpointsRequest({ breakpoints: [] });
  });

  void test('pause stops a running guest', async () => {
    const m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    await new Promise((r) => setTimeout(r, 300));
    await dap.dc.pauseRequest({ threadId: 1 });
    const stop = await dap.nextStop(m);
    assert.equal(stop.reason, 'pause');
    // By now the firmware has finished its scenario and waits in scenario_done.
    assert.match((await dap.topFrame()).name, /^scenario_done/);
  });

  void test('setVariable writes a general register; system registers are read-only', async () => {
    const f = await dap.topFrame();
    const scopes = (await dap.dc.scopesRequest({ frameId: f.id })).body.scopes;
    const general = scopes.find((s) => s.name === 'General');
    const system = scopes.find((s) => s.name === 'System');
    assert.ok(general && system);
    const r = await dap.dc.setVariableRequest({
      variablesReference: general.variablesReference,
      name: 'x19',
      value: '0x1234 + 1',
    });
    assert.equal(r.body.value, '0x0000000000001235');
    assert.match(await dap.evaluate('$x19'), /^0x0000000000001235/);
    await assert.rejects(
      dap.dc.setVariableRequest({
        variablesReference: system.variablesReference,
        name: 'TTBR0_EL1',
        value: '0',
      }),
      /read-only/,
    );
  });

  void test('a step on WFI (scenario_done) does not hang: it comes back paused, saying why', async () => {
    assert.match((await dap.topFrame()).name, /^scenario_done/);
    let wfiSeen = false;
    for (let i = 0; i < 4 && !wfiSeen; i++) {
      const m = dap.mark();
      const t0 = Date.now();
      await dap.dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
      const stop = await dap.nextStop(m, 10000);
      assert.ok(Date.now() - t0 < 8000);
      if (stop.reason === 'pause') {
        assert.match(stop.description ?? '', /did not complete/);
        wfiSeen = true;
      }
    }
    assert.ok(wfiSeen, 'one of the scenario_done loop instructions is the WFI');
  });

  void test('instruction next steps over a bl as one step', async () => {
    await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'el1_main' }] });
    let m = dap.mark();
    await dap.dc.restartRequest({});
    const entry = await dap.nextStop(m);
    assert.equal(entry.reason, 'entry');
    assert.equal((await dap.topFrame()).name, '_start');
    m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    assert.equal((await dap.nextStop(m)).reason, 'breakpoint');
    // Step by instruction until the PC is on a bl, then step over it.
    for (let i = 0; i < 40; i++) {
      const pc = (await dap.topFrame()).instructionPointerReference;
      assert.ok(pc);
      const dis = await dap.dc.disassembleRequest({ memoryReference: pc, instructionCount: 1 });
      const insn = dis.body?.instructions[0]?.instruction ?? '';
      m = dap.mark();
      await dap.dc.nextRequest({ threadId: 1, granularity: 'instruction' });
      assert.equal((await dap.nextStop(m)).reason, 'step');
      const after = (await dap.topFrame()).instructionPointerReference;
      if (insn.startsWith('bl ')) {
        assert.equal(BigInt(after ?? 0), BigInt(pc) + 4n, `next over '${insn}'`);
        assert.match((await dap.topFrame()).name, /^el1_main/);
        return;
      }
    }
    assert.fail('no bl within 40 instructions of el1_main');
  });
  void test('stepping on as soon as each stop arrives: every stop still gets its mmuChanged, no failed walk', async () => {
    const before = dap.mark();
    for (let i = 0; i < 20; i++) {
      const m = dap.mark();
      await dap.dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
      await dap.nextStop(m);
    }
    // The last stop's walk finishes after its stopped event.
    await new Promise((r) => setTimeout(r, 300));
    const stops = dap.events.slice(before).filter((e) => e.event === 'stopped').length;
    const mmus = dap.events.slice(before).filter((e) => e.event === 'mmuChanged').length;
    assert.equal(stops, 20);
    assert.ok(
      mmus >= 19,
      `${mmus} mmuChanged for 20 stops (the last may be superseded only by a newer stop)`,
    );
    assert.doesNotMatch(dap.transcript(), /MMU walk failed|step failed/);
  });
});
