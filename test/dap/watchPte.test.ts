// Issue #14 item 17 through the adapter, real QEMU + the demo firmware: "who writes this PTE?".
// `watch-pte 0x9010000` at handle_mmio_fault sets a write watchpoint on the RTC page's L3 descriptor
// (through its identity mapping); continuing stops on the handler's store with the old and new
// descriptor decoded, and the value predicted from the store's register is the one that lands.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { demoLaunch, useDap } from './support';

void describe('watch-pte: a write watchpoint on a descriptor', () => {
  const dap = useDap();

  void test('stop at handle_mmio_fault for the RTC page', async () => {
    await dap.launch(demoLaunch());
    await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'handle_mmio_fault' }] });
    const m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    assert.equal((await dap.nextStop(m)).reason, 'breakpoint');
  });

  void test('watch-pte names the entry, its descriptor and where it is watched; only from the console', async () => {
    assert.equal(await dap.evaluate('watch-pte'), 'no PTE watches (watch-pte ADDRESS sets one)');
    const said = await dap.evaluate('watch-pte 0x9010000');
    assert.equal(
      said,
      'watching TTBR0_EL1 L3[16] of 0x0009010000: descriptor 0x00e0000009010402 at PA 0x40224080 (identity-mapped); the next store to it stops the target',
    );
    assert.match(
      await dap.evaluate('watch-pte'),
      /^TTBR0_EL1 L3\[16\] of 0x0009010000: descriptor at PA 0x40224080, watched at VA 0x0040224080$/,
    );
    await assert.rejects(
      dap.dc.evaluateRequest({ expression: 'watch-pte 0x9020000', context: 'watch' }),
      /watch-pte runs only from the Debug Console/,
    );
    // An address no regime covers has no entry to watch.
    await assert.rejects(
      dap.evaluate('watch-pte 0xdeadbeefdeadbeef'),
      /no translation table entry maps 0xdeadbeefdeadbeef/,
    );
    // The client's own data breakpoints do not replace the console's watch.
    const none = await dap.dc.setDataBreakpointsRequest({ breakpoints: [] });
    assert.deepEqual(none.body.breakpoints, []);
  });

  void test("continue: the stop is on the handler's store, old and new decoded; the new value lands", async () => {
    await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [] });
    const m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    const stop = await dap.nextStop(m);
    assert.equal(stop.reason, 'data breakpoint');
    assert.equal(stop.description, 'PTE write: TTBR0_EL1 L3[16] of 0x0009010000: lazy → page');
    const out = await dap.next<DebugProtocol.OutputEvent['body']>('output', m, (b) =>
      b.output.startsWith('PTE write:'),
    );
    const lines = out.output.trimEnd().split('\n');
    assert.match(
      lines[0],
      /^PTE write: TTBR0_EL1 L3\[16\] of 0x0009010000, descriptor at PA 0x40224080, by the store at 0x[0-9a-f]+ <[^>]+> \(st\w* x\d+, \[x\d+.*\]\)$/,
    );
    assert.equal(lines[1], '  old 0x00e0000009010402  lazy');
    assert.equal(lines[2], '  new 0x00e0000009010403  page');
    assert.match(lines[3], /^ {2}changed: VALID 0 → 1$/);
    // One instruction later the store has happened: the entry holds the predicted value.
    const m2 = dap.mark();
    await dap.dc.nextRequest({ threadId: 1, granularity: 'instruction' });
    await dap.nextStop(m2);
    assert.match(await dap.evaluate('pte 0x9010000'), /^0x0009010000: L3 page 4K 0x00e0000009010403 /);
    assert.equal(await dap.evaluate('watch-pte clear'), '1 PTE watch removed');
  });
});
