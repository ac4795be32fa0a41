// The codec's bounds: packets capped as sent and as expanded, framing linear in the bytes pushed,
// register values converted in linear time, and random byte streams that never throw or grow memory
// past the caps.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  MIN_PACKET_CAP,
  RspDecoder,
  decodePayload,
  encodePacket,
  framePacket,
  latin1Bytes,
  packetLimits,
  type CodecEvent,
} from '../../../src/gdb/codec';
import { bigIntToLeBytes, leBytesToBigInt } from '../../../src/gdb/hex';

function summary(events: CodecEvent[]): string[] {
  return events.map((e) => {
    switch (e.type) {
      case 'packet':
      case 'notification':
        return `${e.type}:${e.checksumOk ? 'ok' : 'bad'}:${Buffer.from(e.payload).toString('hex')}`;
      case 'malformed':
        return `malformed:${e.reason}`;
      case 'tooLarge':
        return `tooLarge:${e.stage}:${e.limit}`;
      default:
        return e.type;
    }
  });
}

/** `a` followed by `*\xff` pairs: each pair repeats the byte 226 times (113 bytes out per byte in). */
function runPayload(pairs: number): Uint8Array {
  const raw = new Uint8Array(1 + 2 * pairs);
  raw[0] = 0x61;
  for (let i = 1; i < raw.length; i += 2) {
    raw[i] = 0x2a;
    raw[i + 1] = 0xff;
  }
  return raw;
}

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

void describe('codec limits', () => {
  void test('packetLimits: 4x PacketSize, never under 1 MiB, and a huge PacketSize does not lift it past 4 MiB', () => {
    assert.equal(packetLimits().maxRawBytes, MIN_PACKET_CAP);
    assert.equal(packetLimits(0x1000).maxRawBytes, 1 << 20);
    assert.equal(packetLimits(0x80000).maxRawBytes, 2 << 20);
    assert.equal(packetLimits(0xffff_ffff).maxRawBytes, 4 << 20);
    assert.equal(packetLimits(0x80000).maxPayloadBytes, 2 << 20);
  });

  void test('a packet with no # within the cap is dropped with one tooLarge event; framing resumes after it', () => {
    const d = new RspDecoder({ maxRawBytes: 1000, maxPayloadBytes: 1000 });
    const events = [
      ...d.push(latin1Bytes('+$')),
      ...d.push(new Uint8Array(600).fill(0x61)),
      ...d.push(new Uint8Array(600).fill(0x61)),
      ...d.push(new Uint8Array(5000).fill(0x62)),
      ...d.push(latin1Bytes('#00')),
      ...d.push(encodePacket('OK')),
    ];
    assert.deepEqual(summary(events), [
      'ack',
      'tooLarge:framing:1000',
      `packet:ok:${Buffer.from('OK').toString('hex')}`,
    ]);
    assert.ok(d.retainedBytes <= 4096, `decoder kept ${d.retainedBytes} bytes`);
  });

  void test('a packet that never ends stays within the cap however much arrives', () => {
    const d = new RspDecoder();
    d.push(latin1Bytes('$'));
    const chunk = new Uint8Array(1 << 20).fill(0x30);
    const events: CodecEvent[] = [];
    for (let i = 0; i < 16; i++) events.push(...d.push(chunk));
    assert.deepEqual(summary(events), [`tooLarge:framing:${MIN_PACKET_CAP}`]);
    assert.ok(d.retainedBytes <= 2 * MIN_PACKET_CAP);
    assert.ok(d.inPacket);
  });

  void test('the 40 MB packet of * runs (113x) is refused, not expanded (was RangeError: Invalid typed array length)', () => {
    const packet = framePacket(runPayload(20 << 20));
    const t0 = process.hrtime.bigint();
    const events = new RspDecoder().push(packet);
    assert.deepEqual(summary(events), [`tooLarge:framing:${MIN_PACKET_CAP}`]);
    assert.ok(ms(t0) < 2000, `took ${ms(t0)} ms`);
  });

  void test('a short packet whose run-length encoding expands past the cap is refused before allocating', () => {
    const raw = runPayload(5000); // 10 KB in, 1.13 MB out
    const events = new RspDecoder().push(framePacket(raw));
    assert.deepEqual(summary(events), [`tooLarge:expansion:${MIN_PACKET_CAP}`]);
    assert.equal(typeof decodePayload(raw), 'string');
    const ok = decodePayload(raw, 2 << 20);
    assert.ok(ok instanceof Uint8Array);
    assert.equal(ok.length, 1 + 5000 * 226);
    assert.ok(ok.every((b) => b === 0x61));
  });

  void test('framing is linear: 1 MiB of $ in one push (was 5.4-10.5 s)', () => {
    for (const stream of [Buffer.alloc(1 << 20, '$'), Buffer.from('$a'.repeat(1 << 18))]) {
      const t0 = process.hrtime.bigint();
      const events = new RspDecoder().push(stream);
      const took = ms(t0);
      assert.ok(took < 1500, `${stream.subarray(0, 2).toString()}...: ${took} ms`);
      // `$$` loses nothing and is not reported; `$a$` reports the truncated packet.
      assert.equal(events.length, stream[1] === 0x24 ? 0 : (1 << 18) - 1);
    }
  });

  void test('register values convert in linear time both ways (a 64 KiB value took 5.6 s)', () => {
    const bytes = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 37) & 0xff);
    const t0 = process.hrtime.bigint();
    const v = leBytesToBigInt(bytes);
    const back = bigIntToLeBytes(v, bytes.length);
    assert.ok(ms(t0) < 1500, `took ${ms(t0)} ms`);
    assert.deepEqual(back, bytes);
    assert.equal(v & 0xffffn, BigInt(bytes[0] | (bytes[1] << 8)));
    for (const n of [0, 1, 7, 8, 9, 16]) {
      const b = Uint8Array.from({ length: n }, (_, i) => 0xf0 | i);
      const hex = Buffer.from(b).reverse().toString('hex');
      assert.equal(leBytesToBigInt(b), n ? BigInt(`0x${hex}`) : 0n, `${n} bytes`);
      assert.deepEqual(bigIntToLeBytes(leBytesToBigInt(b), n), b);
    }
  });
});

void describe('codec fuzzing', () => {
  const limits = { maxRawBytes: 64, maxPayloadBytes: 256 };
  // Bytes that drive the state machine, plus hex digits (checksums, counts) and anything else.
  const byte = fc.oneof(
    fc.constantFrom(0x24, 0x23, 0x7d, 0x2a, 0x2b, 0x2d, 0x25, 0x03, 0xff, 0x20, 0x7e),
    fc.constantFrom(...latin1Bytes('0123456789abcdefOK')),
    fc.integer({ min: 0, max: 255 }),
  );
  const stream = fc.array(byte, { maxLength: 2000, size: 'large' }).map((a) => Uint8Array.from(a));

  void test('random byte streams never throw, and stay within the caps and the memory bound', () => {
    fc.assert(
      fc.property(stream, fc.integer({ min: 1, max: 64 }), (bytes, step) => {
        const d = new RspDecoder(limits);
        for (let i = 0; i < bytes.length; i += step) {
          for (const e of d.push(bytes.subarray(i, i + step))) {
            if (e.type === 'packet' || e.type === 'notification') {
              assert.ok(e.raw.length <= limits.maxRawBytes);
              assert.ok(e.payload.length <= limits.maxPayloadBytes);
            }
            if (e.type === 'malformed') assert.ok(e.raw.length <= limits.maxRawBytes);
          }
          // The initial 4 KiB buffer is never outgrown with these caps.
          assert.ok(d.retainedBytes <= 4096);
        }
      }),
      { numRuns: 500 },
    );
  });

  void test('random byte streams decode the same whole, in random chunks, and byte by byte', () => {
    fc.assert(
      fc.property(stream, fc.integer({ min: 1, max: 17 }), (bytes, step) => {
        const whole = summary(new RspDecoder(limits).push(bytes));
        const chunked = new RspDecoder(limits);
        const parts: CodecEvent[] = [];
        for (let i = 0; i < bytes.length; i += step) parts.push(...chunked.push(bytes.subarray(i, i + step)));
        assert.deepEqual(summary(parts), whole);
        const single = new RspDecoder(limits);
        const bytewise = Array.from(bytes).flatMap((b) => single.push(Uint8Array.of(b)));
        assert.deepEqual(summary(bytewise), whole);
      }),
      { numRuns: 300 },
    );
  });

  void test('with the default caps, a long random stream is decoded without error in bounded memory', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1 << 15, maxLength: 1 << 16 }), (bytes) => {
        const d = new RspDecoder();
        d.push(bytes);
        assert.ok(d.retainedBytes <= 2 * MIN_PACKET_CAP);
      }),
      { numRuns: 10 },
    );
  });
});
