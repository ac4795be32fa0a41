// The views follow the vCPU selected in the Call Stack (#12): the demo on two vCPUs, the second
// parked with its MMU off (guest/src/el2_boot.S). Stopped in handle_mmio_fault on vCPU 1, selecting
// thread 2 sends an mmuChanged whose regimes are vCPU 2's (stage 1 off, SCTLR_EL1.M = 0, as its own
// register says), and selecting thread 1 brings vCPU 1's tables back.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { SelectThreadResponseBody } from '../../src/shared/protocol';
import { demoLaunch, demoQemuArgs, demoElf, useDap } from './support';

void describe('views follow the selected vCPU', { timeout: 120_000 }, () => {
  const dap = useDap();

  void test('thread 2 shows its own regimes (MMU off); thread 1 its tables again', async () => {
    const args = demoQemuArgs(demoElf);
    await dap.launch(demoLaunch({ qemuArgs: [...args, '-smp', '2'], stopOnEntry: false }), async () => {
      await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'handle_mmio_fault' }] });
    });
    const { threads } = (await dap.dc.threadsRequest()).body;
    assert.equal(threads.length, 2, JSON.stringify(threads));
    const [one, two] = threads.map((t) => t.id);
    let m = dap.mark();
    const r = await dap.custom<SelectThreadResponseBody>('selectThread', { threadId: two });
    assert.equal(r.changed, true);
    const second = await dap.nextMmu(m);
    assert.equal(second.threadId, two);
    const el1 = second.regimes.filter((x) => x.regime === 'TTBR0_EL1' || x.regime === 'TTBR1_EL1');
    assert.ok(el1.length && el1.every((x) => !x.enabled), JSON.stringify(el1));
    assert.match(el1[0].reason ?? '', /SCTLR_EL1\.M = 0/);
    m = dap.mark();
    assert.equal(
      (await dap.custom<SelectThreadResponseBody>('selectThread', { threadId: one })).changed,
      true,
    );
    const first = await dap.nextMmu(m);
    assert.equal(first.threadId, one);
    assert.ok(first.regimes.find((x) => x.regime === 'TTBR0_EL1')?.enabled);
    // Selecting the vCPU already shown changes nothing and sends nothing.
    assert.equal(
      (await dap.custom<SelectThreadResponseBody>('selectThread', { threadId: one })).changed,
      false,
    );
  });
});
