import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  RspDecoder,
  decodePayload,
  encodePacket,
  escapeBinary,
  framePacket,
  latin1Bytes,
  latin1Text,
  runLengthEncode,
  type CodecEvent,
} from '../../../src/gdb/codec';

const bytes = (s: string) => latin1Bytes(s);

function decodeAll(chunks: Uint8Array[]): CodecEvent[] {
  const d = new RspDecoder();
  return chunks.flatMap((c) => d.push(c));
}

/** A compact description of events for deep comparison. */
function summary(events: CodecEvent[]): string[] {
  return events.map((e) =>
    e.type === 'packet' || e.type === 'notification'
      ? `${e.type}:${e.checksumOk ? 'ok' : 'bad'}:${Buffer.from(e.payload).toString('hex')}`
      : e.type === 'malformed'
        ? `malformed:${e.reason}`
        : e.type,
  );
}

void describe('RSP codec', () => {
  void test('frames a packet and checks its checksum', () => {
    // 'OK' = 0x4f + 0x4b = 0x9a
    const ev = decodeAll([bytes('$OK#9a')]);
    assert.deepEqual(summary(ev), [`packet:ok:${Buffer.from('OK').toString('hex')}`]);
    const bad = decodeAll([bytes('$OK#9b')]);
    assert.equal(bad.length, 1);
    assert.equal(bad[0].type === 'packet' && bad[0].checksumOk, false);
  });

  void test('accepts upper-case checksum digits and flags non-hex ones as bad', () => {
    const ok = decodeAll([bytes('$T05#B9')]);
    assert.equal(ok[0].type === 'packet' && ok[0].checksumOk, true);
    const notHex = decodeAll([bytes('$OK#zz')]);
    assert.equal(notHex[0].type === 'packet' && notHex[0].checksumOk, false);
  });

  void test('reports acks, nacks, interrupts and ignores noise between packets', () => {
    const ev = decodeAll([bytes('+\r\n-x\x03$#00+')]);
    assert.deepEqual(summary(ev), ['ack', 'nack', 'interrupt', 'packet:ok:', 'ack']);
  });

  void test('decodes % notifications separately from packets', () => {
    const ev = decodeAll([encodePacket('Stop:T05').map((b, i) => (i === 0 ? 0x25 : b))]);
    assert.equal(ev.length, 1);
    assert.equal(ev[0].type, 'notification');
    assert.equal(ev[0].type === 'notification' && latin1Text(ev[0].payload), 'Stop:T05');
  });

  void test('a memory read stream in socket-sized chunks decodes as it does byte by byte', () => {
    // Packets whole in a chunk come out as views of it, those across a boundary as copies: the same
    // payloads, checksums checked over every byte either way (one corrupted digit is caught).
    const hexOf = (k: number) => Buffer.alloc(2048, k & 0xff).toString('hex');
    const stream = Buffer.concat(
      Array.from({ length: 100 }, (_, k) => Buffer.concat([bytes('+'), encodePacket(hexOf(k))])),
    );
    stream[stream.indexOf('$', 40_000) + 10] ^= 1;
    const chunked: Uint8Array[] = [];
    for (let o = 0; o < stream.length; o += 65536)
      chunked.push(Uint8Array.from(stream.subarray(o, o + 65536)));
    const one = Array.from(stream, (b) => Uint8Array.of(b));
    const a = summary(decodeAll(chunked));
    assert.deepEqual(a, summary(decodeAll(one)));
    assert.equal(a.filter((x) => x.startsWith('packet:ok:')).length, 99);
    assert.equal(a.filter((x) => x.startsWith('packet:bad:')).length, 1);
  });

  void test('a packet split at every offset decodes identically', () => {
    const stream = new Uint8Array([
      ...bytes('+'),
      ...encodePacket(new Uint8Array([0x24, 0x23, 0x7d, 0x2a, 0x00, 0xff, 0x03])),
      ...bytes('-'),
      ...framePacket(bytes('0*"')), // RLE: '0' + 5 more
      ...bytes('%Stop#00'),
    ]);
    const whole = summary(decodeAll([stream]));
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j++) {
        const parts = [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)];
        assert.deepEqual(summary(decodeAll(parts)), whole, `split at ${i},${j}`);
      }
    }
    assert.deepEqual(
      whole.map((w) => w.split(':')[0]),
      ['ack', 'packet', 'nack', 'packet', 'notification'],
    );
  });

  void test('a text command is framed as gdb frames it, escaped where it must be', () => {
    // Checksums as gdb's own remote log shows them.
    assert.equal(latin1Text(encodePacket('?')), '$?#3f');
    assert.equal(latin1Text(encodePacket('g')), '$g#67');
    assert.equal(latin1Text(encodePacket('qC')), '$qC#b4');
    assert.equal(latin1Text(encodePacket('vCont?')), '$vCont?#49');
    // The four special characters, and a character past Latin-1 whose low byte is '$'.
    // Sum of the escaped bytes a } 04 b } 03 c } ] d } 0a = 0x3ec.
    assert.equal(latin1Text(encodePacket('a$b#c}d*')), '$a}\x04b}\x03c}]d}\n#ec');
    assert.deepEqual([...encodePacket('\u0124')], [...framePacket(escapeBinary(latin1Bytes('\u0124')))]);
  });

  void test('text and byte payloads of the same bytes frame alike (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (text) => {
        const viaBytes = framePacket(escapeBinary(latin1Bytes(text)));
        assert.deepEqual([...encodePacket(text)], [...viaBytes]);
        const ev = decodeAll([encodePacket(text)]);
        assert.equal(ev.length, 1);
        assert.ok(ev[0].type === 'packet' && ev[0].checksumOk);
      }),
      { numRuns: 500 },
    );
  });

  void test('byte-at-a-time decoding equals whole-chunk decoding (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 6 }),
        fc.integer({ min: 1, max: 9 }),
        (payloads, step) => {
          const stream = Buffer.concat(payloads.map((p) => encodePacket(p)));
          const chunks: Uint8Array[] = [];
          for (let i = 0; i < stream.length; i += step) chunks.push(stream.subarray(i, i + step));
          const ev = decodeAll(chunks);
          assert.equal(ev.length, payloads.length);
          ev.forEach((e, k) => {
            assert.equal(e.type, 'packet');
            if (e.type === 'packet') {
              assert.ok(e.checksumOk);
              assert.deepEqual([...e.payload], [...payloads[k]]);
            }
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  void test('escapes $ # } * when encoding and restores every byte value when decoding', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const escaped = escapeBinary(all);
    assert.equal(escaped.length, 256 + 4);
    for (const special of [0x23, 0x24, 0x2a, 0x7d]) {
      const at = escaped.indexOf(special);
      // The only occurrences of the special bytes are as escape markers or escaped values.
      if (special !== 0x7d) assert.equal(at, -1, `0x${special.toString(16)} left unescaped`);
    }
    const decoded = decodePayload(escaped);
    assert.ok(decoded instanceof Uint8Array);
    assert.deepEqual([...decoded], [...all]);
  });

  void test('run-length decoding repeats the previous byte count-29 times', () => {
    // "0* " = '0' + 3 more; "x}]*!" = escaped '}' then 4 more '}'
    assert.equal(latin1Text(decodePayload(bytes('0* ')) as Uint8Array), '0000');
    assert.equal(latin1Text(decodePayload(bytes('ab*"c')) as Uint8Array), 'abbbbbbc');
    assert.equal(latin1Text(decodePayload(bytes('x}]*!')) as Uint8Array), 'x}}}}}');
  });

  void test('run-length encoding round-trips and never emits # or $ as a count', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0x30, 0x31, 0x7d, 0x23, 0x2a, 0x61), { maxLength: 300 }),
        (arr) => {
          const data = Uint8Array.from(arr);
          const rle = runLengthEncode(escapeBinary(data));
          for (let i = 0; i < rle.length; i++) {
            if (rle[i] === 0x2a && (i === 0 || rle[i - 1] !== 0x7d)) {
              assert.notEqual(rle[i + 1], 0x23);
              assert.notEqual(rle[i + 1], 0x24);
            }
          }
          const ev = decodeAll([framePacket(rle)]);
          assert.equal(ev[0].type, 'packet');
          if (ev[0].type === 'packet') {
            assert.ok(ev[0].checksumOk);
            assert.deepEqual([...ev[0].payload], arr);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  void test('the checksum covers the escaped bytes as sent, not the decoded payload', () => {
    const wire = encodePacket(new Uint8Array([0x7d]));
    assert.equal(latin1Text(wire), '$}]#da'); // 0x7d + 0x5d = 0xda
    const ev = decodeAll([wire]);
    assert.equal(ev[0].type === 'packet' && ev[0].checksumOk, true);
  });

  void test('malformed escapes and run lengths are reported, not decoded', () => {
    assert.equal(typeof decodePayload(bytes('ab}')), 'string');
    assert.equal(typeof decodePayload(bytes('*a')), 'string');
    assert.equal(typeof decodePayload(bytes('a*')), 'string');
    const ev = decodeAll([framePacket(bytes('a*\x01'))]);
    assert.equal(ev[0].type, 'malformed');
  });

  void test('a $ inside a packet restarts framing (lost #) and reports the truncated packet', () => {
    const ev = decodeAll([bytes('$abc'), encodePacket('OK')]);
    assert.deepEqual(
      ev.map((e) => e.type),
      ['malformed', 'packet'],
    );
    assert.equal(ev[1].type === 'packet' && latin1Text(ev[1].payload), 'OK');
  });

  void test('binary payloads are kept as bytes (no text decoding)', () => {
    const data = new Uint8Array([0xc3, 0x28, 0xff, 0xfe, 0x80]); // invalid UTF-8
    const ev = decodeAll([encodePacket(data)]);
    assert.equal(ev[0].type, 'packet');
    if (ev[0].type === 'packet') assert.deepEqual([...ev[0].payload], [...data]);
  });
});
