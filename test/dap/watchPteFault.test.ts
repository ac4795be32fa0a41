// Issue #14 item 17 from the Fault scope, real QEMU + the demo firmware: at the lazy fault of the RTC
// page, the Fault scope's walk of FAR offers "Break When This Entry Is Written" on each stage-1 entry
// (the rows carry VS Code's variable menu context), and `watch-pte fault --level N` — what that menu
// entry sends — watches the entry of the fault's own walk: the same entry `watch-pte FAR` names, and
// continuing stops on pvmfw's handler storing the new descriptor there.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { demoLaunch, useDap } from './support';

type MenuVariable = DebugProtocol.Variable & { __vscodeVariableMenuContext?: string };

void describe('watch-pte from the Fault scope', () => {
  const dap = useDap();

  void test('stop at the RTC page fault; the walk rows offer the watch', async () => {
    await dap.launch(demoLaunch(), async () => {
      assert.ok((await dap.dc.setExceptionBreakpointsRequest({ filters: ['lazyMmioFault'] })).success);
    });
    const m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    const { stop, mmu } = await dap.nextStopWithMmu(m, 30000);
    assert.equal(stop.reason, 'exception');
    assert.equal(mmu.fault?.far, '0x9010000');
    const fault = await dap.scope('Fault');
    const walk = fault.find((v) => v.name === 'walk of FAR');
    assert.ok(walk && walk.variablesReference > 0, 'the walk of FAR expands');
    const rows = (await dap.dc.variablesRequest({ variablesReference: walk.variablesReference })).body
      .variables as MenuVariable[];
    assert.deepEqual(
      rows.map((r) => r.name),
      ['L1[0]', 'L2[72]', 'L3[16]'],
    );
    for (const r of rows) assert.equal(r.__vscodeVariableMenuContext, 'pvmfwMmu.faultPte', r.name);
    // Other Fault rows have no such menu.
    assert.equal(
      (fault.find((v) => v.name === 'ESR') as MenuVariable).__vscodeVariableMenuContext,
      undefined,
    );
  });

  void test('watch-pte fault names the entry watch-pte FAR names; only from the console', async () => {
    await assert.rejects(
      dap.dc.evaluateRequest({ expression: 'watch-pte fault', context: 'watch' }),
      /watch-pte runs only from the Debug Console/,
    );
    const byFar = await dap.evaluate('watch-pte 0x9010000');
    assert.equal(await dap.evaluate('watch-pte clear'), '1 PTE watch removed');
    const said = await dap.evaluate('watch-pte fault --level 3');
    assert.equal(said, byFar);
    assert.match(said, /^watching TTBR0_EL1 L3\[16\] of 0x0009010000: descriptor 0x00e0000009010402 at PA /);
    // A table entry of the same walk: the L2 descriptor that points at the L3 table.
    const l2 = await dap.evaluate('watch-pte fault --level 2');
    assert.match(l2, /^watching TTBR0_EL1 L2\[72\] of 0x0009010000: descriptor 0x[0-9a-f]{16} at PA /);
    assert.match(await dap.evaluate('watch-pte'), /L3\[16\][\s\S]*\n.*L2\[72\]|L2\[72\][\s\S]*\n.*L3\[16\]/);
  });

  void test("continue: the stop is pvmfw's handler writing the faulting page's descriptor", async () => {
    await dap.dc.setExceptionBreakpointsRequest({ filters: [] });
    const m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    const stop = await dap.nextStop(m);
    assert.equal(stop.reason, 'data breakpoint');
    assert.equal(stop.description, 'PTE write: TTBR0_EL1 L3[16] of 0x0009010000: lazy → page');
    assert.equal(await dap.evaluate('watch-pte clear'), '2 PTE watches removed');
  });
});
