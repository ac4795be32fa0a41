// The Memory view through the real adapter and QEMU (#14 item 9): the console's `mem` sends the
// `openMemoryView` event the extension opens the view on (console only), and the view's reader
// (memoryViewRead, page by page over DAP readMemory) gives the bytes QEMU's own monitor `xp` shows,
// and `??` stretches with the adapter's reason where a page is unmapped or is device memory.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { readWindow, type ReadMemory } from '../../src/ui/memoryViewRead';
import type { ReadSegment } from '../../src/shared/memoryViewMessages';
import { demoLaunch, useDap } from './support';

/** QEMU's `xp /Ngx ADDR` output as bytes (little-endian giant words). */
function xpBytes(text: string): Buffer {
  const words = [...text.matchAll(/:\s+((?:0x[0-9a-f]{16}\s*)+)/g)].flatMap((m) => m[1].trim().split(/\s+/));
  const out = Buffer.alloc(words.length * 8);
  words.forEach((w, i) => out.writeBigUInt64LE(BigInt(w), i * 8));
  return out;
}

const bytesOf = (segments: ReadSegment[]): Buffer =>
  Buffer.concat(segments.map((s) => (s.data !== undefined ? Buffer.from(s.data, 'hex') : Buffer.alloc(0))));

void describe('Memory view: mem and the reader against the real adapter', () => {
  const dap = useDap();
  const events: DebugProtocol.Event[] = [];
  const read: ReadMemory = async (args) =>
    (await dap.dc.customRequest('readMemory', args)).body as DebugProtocol.ReadMemoryResponse['body'];

  void test('stop in handle_mmio_fault (the RTC page still lazy)', async () => {
    await dap.launch(demoLaunch());
    dap.dc.on('openMemoryView', (e: DebugProtocol.Event) => void events.push(e));
    await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'handle_mmio_fault' }] });
    const m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    assert.equal((await dap.nextStop(m)).reason, 'breakpoint');
  });

  void test('mem p:ADDRESS and mem SYMBOL send openMemoryView; not from a watch', async () => {
    assert.equal(await dap.evaluate('mem p:0x40224000'), 'Memory view: p:0x40224000 (physical)');
    const el1 = BigInt((await dap.evaluate('el1_entry')).split(' ')[0]);
    assert.match(
      await dap.evaluate('mem el1_entry'),
      /^Memory view: 0x[0-9a-f]+ \(virtual, through the stopped vCPU’s regime\)$/,
    );
    await assert.rejects(
      dap.dc.evaluateRequest({ expression: 'mem el1_entry', context: 'watch' }),
      /mem opens a view only from the Debug Console/,
    );
    await assert.rejects(dap.evaluate('mem'), /usage: mem ADDRESS/);
    // Discoverable: help says it, Tab offers it.
    assert.match(await dap.evaluate('help'), /^ {2}mem ADDRESS {10}open the Memory view/m);
    const offered = (await dap.dc.completionsRequest({ text: 'me', column: 3 })).body.targets.map(
      (t) => t.label,
    );
    assert.ok(offered.includes('mem'), offered.join(' '));
    // Events follow their responses on the same stream: both are here once the last response is.
    assert.deepEqual(
      events.map((e) => e.body as unknown),
      [
        { memoryReference: 'p:0x40224000', origin: 'the Debug Console (mem p:0x40224000)' },
        { memoryReference: `0x${el1.toString(16)}`, origin: 'the Debug Console (mem el1_entry)' },
      ],
    );
  });

  void test("the table holding the RTC page's descriptor: the bytes QEMU's xp shows", async () => {
    const segments = await readWindow(read, 'physical', 0x40224000n, 256);
    assert.deepEqual(
      segments.map((s) => [s.length, s.unreadable]),
      [[256, undefined]],
    );
    const xp = xpBytes(await dap.evaluate('monitor xp /32gx 0x40224000'));
    assert.equal(xp.length, 256);
    assert.deepEqual(bytesOf(segments), xp);
    // The RTC page's descriptor (L3[16]) is still the lazy one.
    assert.equal(bytesOf(segments).readBigUInt64LE(0x80), 0x00e0000009010402n);
  });

  void test('a window across a mapped and an unmapped page: bytes, then ?? with the walk’s reason', async () => {
    const el1 = BigInt((await dap.evaluate('el1_entry')).split(' ')[0]);
    const codeEnd = ((el1 >> 12n) + 1n) << 12n;
    // Find the first unmapped page after the image, as the console's pte says.
    let hole = codeEnd;
    for (
      let k = 0;
      k < 4096 && !/fault|not mapped|invalid/i.test(await dap.evaluate(`pte 0x${hole.toString(16)}`));
      k++
    )
      hole += 0x1000n;
    const segments = await readWindow(read, 'virtual', hole - 64n, 128);
    assert.equal(segments.length, 2, JSON.stringify(segments));
    assert.equal(segments[0].length, 64);
    assert.equal(segments[1].length, 64);
    assert.equal(segments[0].data?.length, 128);
    assert.equal(
      segments[1].unreadable?.split(' (')[0],
      `0x${hole.toString(16)} has no valid translation: Translation fault, level 3`,
    );
    const xp = xpBytes(await dap.evaluate(`monitor xp /8gx 0x${(hole - 64n).toString(16)}`));
    assert.deepEqual(bytesOf(segments), xp);
  });

  void test('device memory is never read behind the user’s back: ?? with the reason', async () => {
    const segments = await readWindow(read, 'virtual', 0x9000000n, 64);
    assert.equal(segments.length, 1);
    assert.equal(segments[0].data, undefined);
    assert.match(segments[0].unreadable ?? '', /device memory: reading it has side effects/);
  });
});
