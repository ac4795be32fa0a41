// DAP wire framing (pure): messages split anywhere, several in one chunk, oversized bodies skipped
// as they stream in and still answerable, bad messages reported instead of ending the adapter.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { identify, MessageReader, type Frame } from '../../../src/adapter/framing';

function frame(body: string): Buffer {
  return Buffer.from(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

function feed(r: MessageReader, data: Buffer, chunk: number): Frame[] {
  const out: Frame[] = [];
  for (let i = 0; i < data.length; i += chunk) out.push(...r.push(data.subarray(i, i + chunk)));
  return out;
}

void describe('MessageReader', () => {
  const a = JSON.stringify({ seq: 1, type: 'request', command: 'threads' });
  const b = JSON.stringify({
    seq: 2,
    type: 'request',
    command: 'evaluate',
    arguments: { expression: 'é $x0' },
  });
  const both = Buffer.concat([frame(a), frame(b)]);

  void test('the same messages whatever the chunking, even one byte at a time', () => {
    for (const size of [1, 2, 3, 7, 16, both.length]) {
      const frames = feed(new MessageReader(1 << 20), both, size);
      assert.deepEqual(
        frames,
        [JSON.parse(a), JSON.parse(b)].map((message: unknown) => ({ kind: 'message', message })),
        `chunks of ${size}`,
      );
    }
  });

  void test('an oversized body is skipped, keeping its ends, and the next message still reads', () => {
    const big = JSON.stringify({
      command: 'evaluate',
      arguments: { expression: 'a'.repeat(5_000_000), context: 'repl' },
      type: 'request',
      seq: 9,
    });
    const frames = feed(new MessageReader(1 << 20), Buffer.concat([frame(big), frame(a)]), 65536);
    assert.equal(frames.length, 2);
    const [over, next] = frames;
    assert.equal(over.kind, 'oversized');
    if (over.kind !== 'oversized') return;
    assert.equal(over.length, big.length);
    assert.ok(over.head.length <= 4096 && over.tail.length <= 4096);
    assert.deepEqual(identify(over.head, over.tail), { seq: 9, command: 'evaluate' });
    assert.deepEqual(next, { kind: 'message', message: JSON.parse(a) as unknown });
  });

  void test('identify: seq and command first (DebugClient) or last (VS Code), never a nested one', () => {
    assert.deepEqual(identify('{"type":"request","seq":3,"command":"stackTrace","arguments":{"x', ''), {
      seq: 3,
      command: 'stackTrace',
    });
    assert.deepEqual(
      identify('{"command":"evaluate","arguments":{"expression":"', 'aaa"},"type":"request","seq":12}'),
      {
        seq: 12,
        command: 'evaluate',
      },
    );
    assert.equal(identify('{"arguments":{"seq":1,"command":"x"', 'zzz'), undefined);
  });

  void test('a body that is not JSON is reported and reading goes on', () => {
    const frames = feed(
      new MessageReader(1 << 20),
      Buffer.concat([frame('{"seq":4,"command":'), frame(a)]),
      5,
    );
    assert.equal(frames[0].kind, 'malformed');
    if (frames[0].kind === 'malformed') assert.match(frames[0].reason, /^not JSON/);
    assert.deepEqual(frames[1], { kind: 'message', message: JSON.parse(a) as unknown });
  });

  void test('a header without Content-Length, and garbage without a header, are reported', () => {
    const r = new MessageReader(1 << 20);
    const frames = r.push(Buffer.from('X-Foo: 1\r\n\r\n'));
    assert.deepEqual(
      frames.map((f) => f.kind),
      ['malformed'],
    );
    const junk = r.push(Buffer.alloc(20000, 0x41));
    assert.deepEqual(
      junk.map((f) => f.kind),
      ['malformed'],
    );
    // Back in step at the next header.
    assert.deepEqual(r.push(frame(a)), [{ kind: 'message', message: JSON.parse(a) as unknown }]);
  });
});
