// Replays byte streams recorded from real QEMU 7.2 (test/fixtures/gdb/record.ts) through the codec and
// the parsers, split at every offset, and checks what the stub said.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { RspDecoder, latin1Text, type CodecEvent } from '../../../src/gdb/codec';
import { hexToBytes } from '../../../src/gdb/hex';
import { parseStopReply } from '../../../src/gdb/stop-reply';
import { includesOf, parseTargetDescription } from '../../../src/gdb/target-xml';
import { repoRoot } from '../../harness/mini';

interface Transcript {
  qemuVersion: string;
  symbols: Record<string, string>;
  exchanges: { send: string; recv: string; kind: string }[];
}

const dir = join(repoRoot, 'test', 'fixtures', 'gdb');
const files = readdirSync(dir).filter((f) => /^qemu-.*\.json$/.test(f));

function packets(events: CodecEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'packet' ? [latin1Text(e.payload)] : []));
}

function load(file: string): Transcript {
  return JSON.parse(readFileSync(join(dir, file), 'utf8')) as Transcript;
}

function replyTo(t: Transcript, send: string): string {
  const ex = t.exchanges.find((e) => e.send === send);
  assert.ok(ex, `transcript has no '${send}'`);
  const ps = packets(new RspDecoder().push(Buffer.from(ex.recv, 'hex')));
  return ps[ps.length - 1];
}

void test('transcripts are present for two CPU models', () => {
  assert.ok(files.some((f) => f.includes('-max')));
  assert.ok(files.some((f) => f.includes('-cortex-a57')));
});

for (const file of files) {
  void describe(`QEMU transcript ${file}`, () => {
    const t = load(file);

    void test('every exchange decodes the same when split at every offset, with valid checksums and acks', () => {
      for (const ex of t.exchanges) {
        const stream = Buffer.from(ex.recv, 'hex');
        const whole = new RspDecoder().push(stream);
        assert.ok(whole.length > 0, ex.send);
        assert.equal(whole[0].type, 'ack', `QEMU acks '${ex.send}' first`);
        for (const e of whole)
          if (e.type === 'packet') assert.ok(e.checksumOk, `checksum of reply to ${ex.send}`);
        const expected = packets(whole);
        for (let i = 1; i < stream.length; i++) {
          const d = new RspDecoder();
          const got = packets([...d.push(stream.subarray(0, i)), ...d.push(stream.subarray(i))]);
          assert.deepEqual(got, expected, `${ex.send} split at ${i}`);
        }
      }
    });

    void test('the whole session decodes the same in random-sized chunks', () => {
      const stream = Buffer.concat(t.exchanges.map((e) => Buffer.from(e.recv, 'hex')));
      const expected = packets(new RspDecoder().push(stream));
      let seed = 12345;
      for (let round = 0; round < 20; round++) {
        const d = new RspDecoder();
        const got: string[] = [];
        for (let i = 0; i < stream.length;) {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          const n = 1 + (seed % 700);
          got.push(...packets(d.push(stream.subarray(i, i + n))));
          i += n;
        }
        assert.deepEqual(got, expected);
      }
    });

    void test('qSupported advertises what DESIGN.md says (no QStartNoAckMode)', () => {
      const r = replyTo(t, 'qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+;xmlRegisters=aarch64');
      assert.match(r, /PacketSize=1000/);
      assert.match(r, /qXfer:features:read\+/);
      assert.doesNotMatch(r, /QStartNoAckMode/);
    });

    void test('p returns empty before the target XML was read, and a value after', () => {
      const p20 = t.exchanges
        .filter((e) => e.send === 'p20')
        .map((e) => packets(new RspDecoder().push(Buffer.from(e.recv, 'hex')))[0]);
      assert.equal(p20[0], '');
      assert.match(p20[1], /^[0-9a-f]{16}$/);
    });

    void test('the recorded target description yields the system registers by name', () => {
      const documents = new Map<string, string>();
      const pending = ['target.xml'];
      while (pending.length) {
        const annex = pending.shift() as string;
        let text = '';
        for (const ex of t.exchanges.filter((e) => e.send.startsWith(`qXfer:features:read:${annex}:`))) {
          const r = packets(new RspDecoder().push(Buffer.from(ex.recv, 'hex')))[0];
          text += r.slice(1);
        }
        documents.set(annex, text);
        pending.push(...includesOf(text).filter((a) => !documents.has(a)));
      }
      const regs = parseTargetDescription(documents);
      assert.equal(regs.get('x0')?.regnum, 0);
      assert.equal(regs.get('pc')?.regnum, 32);
      assert.equal(regs.get('cpsr')?.regnum, 33);
      for (const name of ['TTBR0_EL1', 'TCR_EL1', 'MAIR_EL1', 'SCTLR', 'ESR_EL1', 'FAR_EL1']) {
        const r = regs.get(name);
        assert.ok(r, `${name} in ${file}`);
        assert.equal(r.feature, 'org.qemu.gdb.arm.sys.regs');
        assert.equal(r.bitsize, 64);
      }
      const ids = new Set(regs.all.map((r) => r.regnum));
      assert.equal(ids.size, regs.all.length, 'register numbers are unique');
    });

    void test('breakpoint, continue and stop reply', () => {
      const ex = t.exchanges.find((e) => e.send === 'vCont;c');
      assert.ok(ex);
      const events = new RspDecoder().push(Buffer.from(ex.recv, 'hex'));
      assert.equal(events[0].type, 'ack');
      const stop = parseStopReply(packets(events)[0]);
      assert.equal(stop.kind, 'signal');
      if (stop.kind === 'signal') {
        assert.equal(stop.signal, 5);
        assert.deepEqual(stop.thread, { pid: 1, tid: 1 });
      }
    });

    void test('virtual and physical reads of data_page agree; unmapped VA is E14; >2048 bytes is E22', () => {
      const expected = Array.from({ length: 0x40 }, (_, i) => (i * 37 + 11) & 0xff);
      const viaPa = hexToBytes(Buffer.from(replyTo(t, `m${t.symbols.data_page},40`)));
      const viaVa = hexToBytes(Buffer.from(replyTo(t, 'm80000000,40')));
      assert.deepEqual([...(viaPa ?? [])], expected);
      assert.deepEqual([...(viaVa ?? [])], expected);
      assert.equal(replyTo(t, 'm80001000,4'), 'E14');
      assert.equal(replyTo(t, 'm40000000,801'), 'E22');
    });

    void test('physical read of l3_hi shows the mapped page and the lazy-MMIO entry', () => {
      const raw = hexToBytes(Buffer.from(replyTo(t, `m${t.symbols.l3_hi},18`)));
      assert.ok(raw);
      const view = new DataView(raw.buffer);
      assert.equal(view.getBigUint64(0, true), BigInt(`0x${t.symbols.data_page}`) | 0x707n);
      assert.equal(view.getBigUint64(8, true), 0x00e0_0000_0900_0402n);
      assert.equal(view.getBigUint64(16, true), BigInt(`0x${t.symbols.data_page}`) | 0x707n);
    });

    void test('monitor output arrives as O packets before OK', () => {
      const ex = t.exchanges.find((e) => e.send.startsWith('qRcmd,'));
      assert.ok(ex);
      const ps = packets(new RspDecoder().push(Buffer.from(ex.recv, 'hex')));
      assert.equal(ps[ps.length - 1], 'OK');
      const text = ps
        .slice(0, -1)
        .map((p) => Buffer.from(hexToBytes(Buffer.from(p.slice(1))) ?? []).toString('utf8'))
        .join('');
      assert.match(text, /0000000040082000: 0x7a55300b/);
    });

    void test('\\x03 while running stops the guest with SIGINT', () => {
      const ex = t.exchanges.find((e) => e.kind === 'interrupt');
      assert.ok(ex);
      const events = new RspDecoder().push(Buffer.from(ex.recv, 'hex'));
      assert.equal(events[0].type, 'ack', 'vCont;c acked');
      const stop = parseStopReply(packets(events)[0]);
      assert.equal(stop.kind === 'signal' && stop.signal, 2);
    });

    void test('single step of one vCPU stops that vCPU with SIGTRAP', () => {
      const ex = t.exchanges.find((e) => e.send === 'vCont;s:p1.1');
      assert.ok(ex);
      const stop = parseStopReply(packets(new RspDecoder().push(Buffer.from(ex.recv, 'hex')))[0]);
      assert.equal(stop.kind === 'signal' && stop.signal, 5);
      assert.equal(stop.kind === 'signal' && stop.thread?.tid, 1);
    });
  });
}

void test('system register numbers differ between -cpu max and -cpu cortex-a57 (why the XML is parsed)', () => {
  const regsOf = (file: string) => {
    const t = load(file);
    const documents = new Map<string, string>();
    for (const ex of t.exchanges.filter((e) => e.send.startsWith('qXfer:features:read:'))) {
      const annex = ex.send.split(':')[3];
      const r = packets(new RspDecoder().push(Buffer.from(ex.recv, 'hex')))[0];
      documents.set(annex, (documents.get(annex) ?? '') + r.slice(1));
    }
    return parseTargetDescription(documents);
  };
  const max = regsOf(files.find((f) => f.includes('-max')) as string);
  const a57 = regsOf(files.find((f) => f.includes('-cortex-a57')) as string);
  assert.notEqual(max.get('TTBR0_EL1')?.regnum, a57.get('TTBR0_EL1')?.regnum);
});
