// One spelling per source file (#14 item 8's Restart bug): the program is named through `..`
// (demo/../guest/build/demo.elf, as the demo workspace does), so the adapter used to report its
// sources as /…/demo/../guest/src/el1_entry.S while breakpoints were set as /…/guest/src/el1_entry.S;
// VS Code removed a breakpoint under the reported spelling, the adapter kept it under the other, and
// it came back after Restart. Now the stack's source path is normalised and a removal under either
// spelling removes it: after Restart the session no longer stops there.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { join } from 'node:path';
import { demoLaunch, repoRoot, useDap } from './support';

const sFile = join(repoRoot, 'guest', 'src', 'el1_entry.S');
const crooked = join(repoRoot, 'demo') + '/../guest/src/el1_entry.S';

void describe('source paths have one spelling', { timeout: 120_000 }, () => {
  const dap = useDap();

  void test('a breakpoint removed under the other spelling stays removed after Restart', async () => {
    const line = 16; // `bl el1_main`, found by the assertion on the stop below
    const program = join(repoRoot, 'demo') + '/../guest/build/demo.elf';
    await dap.launch(demoLaunch({ program, stopOnEntry: false }), async () => {
      const r = await dap.dc.setBreakpointsRequest({ source: { path: sFile }, breakpoints: [{ line }] });
      assert.equal(r.body.breakpoints[0].verified, true, r.body.breakpoints[0].message);
    });
    const top = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    assert.equal(top.source?.path, sFile, 'the stack names the file without `..`');
    assert.equal(top.line, line);
    // Removed as a client holding the crooked spelling would remove it.
    await dap.dc.setBreakpointsRequest({ source: { path: crooked }, breakpoints: [] });
    // Restart (stopOnEntry false): the firmware runs again from the start; it must not stop there.
    const m = dap.mark();
    await dap.dc.customRequest('restart', {});
    const next = await dap.nextStop(m, 8000).catch(() => undefined);
    if (next) {
      const f = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
      assert.notEqual(`${f.source?.path}:${f.line}`, `${sFile}:${line}`, `stopped again: ${next.reason}`);
    }
  });
});
