// Faults real QEMU cannot produce, against the fake stub on the in-memory transport.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { connectTcp, connectTransport, type RspClient } from '../../../src/gdb/client';
import { encodePacket, framePacket, latin1Bytes, runLengthEncode } from '../../../src/gdb/codec';
import {
  ConnectRefusedError,
  ConnectionClosedError,
  GdbMemoryFaultError,
  GdbRetransmitError,
  GdbStateError,
  GdbTimeoutError,
} from '../../../src/gdb/errors';
import { basicAnswers, fakeStub } from './fake-stub';

const connect = async (stub: ReturnType<typeof fakeStub>, requestTimeoutMs = 500) =>
  (await connectTransport(stub.clientSide, { requestTimeoutMs, pipelining: false })) as RspClient;

void describe('link faults (fake stub)', () => {
  void test('a reply with a bad checksum is NACKed and the resent copy is used', async () => {
    const stub2 = fakeStub((p, io) => {
      if (p === 'qC') {
        const good = encodePacket('QCp01.02');
        const bad = Uint8Array.from(good);
        bad[bad.length - 1] ^= 1; // checksum digit wrong
        io.raw(bad);
        // The resend on '-' must carry the good packet.
        io.reply('QCp01.02');
        return;
      }
      return basicAnswers(p) ?? '';
    });
    const gdb2 = await connect(stub2);
    const before = gdb2.stats.badChecksums;
    assert.equal(Buffer.from(await gdb2.request('qC')).toString('latin1'), 'QCp01.02');
    assert.equal(gdb2.stats.badChecksums, before + 1);
    assert.ok(stub2.controls.includes('-'), 'client answered the corrupt frame with -');
    await gdb2.close();
  });

  void test('a packet NACKed by the stub is retransmitted; endless NACKs give GdbRetransmitError', async () => {
    const stub = fakeStub((p) => basicAnswers(p) ?? (p === 'qAttached' ? '1' : ''));
    const gdb = await connect(stub);
    stub.nackNext = 2;
    const r = await gdb.request('qAttached');
    assert.equal(Buffer.from(r).toString('latin1'), '1');
    assert.equal(gdb.stats.retransmits, 2);
    stub.nackNext = 100;
    await assert.rejects(gdb.request('qAttached'), GdbRetransmitError);
    await gdb.close();
  });

  void test('a stub dying mid-packet rejects the request with ConnectionClosedError and fires onClose', async () => {
    const stub = fakeStub((p, io) => {
      if (p.startsWith('m')) {
        io.raw('$0102030');
        io.die();
        return;
      }
      return basicAnswers(p) ?? '';
    });
    const gdb = await connect(stub);
    const closed = new Promise<Error | undefined>((r) => gdb.onClose((e) => r(e)));
    await assert.rejects(gdb.readMemory(0x1000n, 4), ConnectionClosedError);
    assert.ok((await closed) instanceof ConnectionClosedError);
    assert.equal(gdb.state, 'closed');
    await assert.rejects(gdb.readMemory(0x1000n, 4), ConnectionClosedError);
  });

  void test('a request with no reply times out; a late reply does not shift later replies', async () => {
    let held: (() => void) | undefined;
    const stub = fakeStub((p, io) => {
      if (p === 'qSlow') {
        held = () => io.reply('slow-answer');
        return;
      }
      if (p === 'qFast') {
        held?.(); // the late reply to qSlow arrives first
        return 'fast-answer';
      }
      return basicAnswers(p) ?? '';
    });
    const gdb = await connect(stub, 100);
    await assert.rejects(gdb.request('qSlow', 50), GdbTimeoutError);
    assert.equal(Buffer.from(await gdb.request('qFast')).toString('latin1'), 'fast-answer');
    assert.equal(gdb.stats.timeouts, 1);
    await gdb.close();
  });

  void test('run-length encoded memory replies are expanded; long reads are chunked to 2048 bytes', async () => {
    const stub = fakeStub((p, io) => {
      const m = /^m([0-9a-f]+),([0-9a-f]+)$/.exec(p);
      if (m) {
        const len = parseInt(m[2], 16);
        // Every byte 0xab: a run the stub compresses with '*'.
        io.raw(framePacket(runLengthEncode(latin1Bytes('ab'.repeat(len)))));
        return;
      }
      return basicAnswers(p) ?? '';
    });
    const gdb = await connect(stub);
    const data = await gdb.readMemory(0x4000_0000n, 5000);
    assert.equal(data.length, 5000);
    assert.ok(data.every((b) => b === 0xab));
    const reads = stub.received.filter((p) => p.startsWith('m'));
    assert.deepEqual(reads, ['m40000000,800', 'm40000800,800', 'm40001000,388']);
    await gdb.close();
  });

  void test('E14 on a read becomes GdbMemoryFaultError with the faulting chunk address', async () => {
    const stub = fakeStub((p) => {
      if (p.startsWith('m40000800')) return 'E14';
      if (p.startsWith('m')) return '00'.repeat(parseInt(p.split(',')[1], 16));
      return basicAnswers(p) ?? '';
    });
    const gdb = await connect(stub);
    const err = await gdb.readMemory(0x4000_0000n, 4096).catch((e: unknown) => e);
    assert.ok(err instanceof GdbMemoryFaultError);
    assert.equal(err.address, 0x4000_0800n);
    assert.equal(err.physical, false);
    await gdb.close();
  });

  void test('notifications between replies do not disturb request matching', async () => {
    const stub = fakeStub((p, io) => {
      if (p === 'qAttached') {
        const n = encodePacket('Stop:T05');
        n[0] = 0x25; // '%'
        io.raw(n);
        return '1';
      }
      return basicAnswers(p) ?? '';
    });
    const gdb = await connect(stub);
    assert.equal(Buffer.from(await gdb.request('qAttached')).toString('latin1'), '1');
    await gdb.close();
  });

  void test('pipelining self-test falls back to strict request/response when the stub drops packets', async () => {
    let count = 0;
    const stub = fakeStub((p) => {
      const basic = basicAnswers(p);
      if (basic !== undefined) return basic;
      count++;
      if (count > 6 && count % 4 === 0) return undefined; // silently drops a packet of the burst
      if (p === 'vCont?') return 'vCont;c;C;s;S';
      if (p === 'qC') return 'QCp01.01';
      if (p === 'qqemu.sstepbits') return 'ENABLE=1';
      if (p === 'qfThreadInfo') return 'mp01.01';
      return '';
    });
    const gdb = (await connectTransport(stub.clientSide, {
      requestTimeoutMs: 100,
      pipelining: 'auto',
    })) as RspClient;
    assert.equal(gdb.pipelining, false);
    await gdb.close();

    const good = fakeStub((p) => {
      const basic = basicAnswers(p);
      if (basic !== undefined) return basic;
      if (p === 'vCont?') return 'vCont;c;C;s;S';
      if (p === 'qC') return 'QCp01.01';
      if (p === 'qqemu.sstepbits') return 'ENABLE=1';
      if (p === 'qfThreadInfo') return 'mp01.01';
      return '';
    });
    const gdb2 = (await connectTransport(good.clientSide, {
      requestTimeoutMs: 100,
      pipelining: 'auto',
    })) as RspClient;
    assert.equal(gdb2.pipelining, true);
    await gdb2.close();
  });

  void test('a NACK or a corrupt reply among pipelined reads is detected; the batch is redone strictly', async () => {
    for (const fault of ['nack', 'corrupt'] as const) {
      let faulted = false;
      const memory = (addr: number, len: number) =>
        Array.from({ length: len }, (_, i) => ((addr + i) * 7) & 0xff)
          .map((b) => b.toString(16).padStart(2, '0'))
          .join('');
      const stub = fakeStub((p, io) => {
        const basic = basicAnswers(p);
        if (basic !== undefined) return basic;
        if (p === 'vCont?') return 'vCont;c;C;s;S';
        if (p === 'qC') return 'QCp01.01';
        if (p === 'qqemu.sstepbits') return 'ENABLE=1';
        if (p === 'qfThreadInfo') return 'mp01.01';
        if (p.startsWith('Qqemu.PhyMemMode')) return 'OK';
        const m = /^m([0-9a-f]+),([0-9a-f]+)$/.exec(p);
        if (!m) return '';
        const text = memory(parseInt(m[1], 16), parseInt(m[2], 16));
        if (fault === 'corrupt' && !faulted && m[1] === '1800') {
          faulted = true;
          const bad = encodePacket(text);
          bad[5] ^= 0x01; // one data bit flipped: the checksum no longer matches
          io.raw(bad);
          return;
        }
        return text;
      });
      if (fault === 'nack') {
        stub.nackWhen = (p) => {
          if (!faulted && p.startsWith('m1800,')) {
            faulted = true;
            return true;
          }
          return false;
        };
      }
      const gdb = (await connectTransport(stub.clientSide, {
        requestTimeoutMs: 1000,
        pipelining: 'auto',
      })) as RspClient;
      assert.equal(gdb.pipelining, true);
      const [data] = await gdb.readPhysicalBatch([{ address: 0n, length: 16 * 2048 }]);
      assert.ok(faulted, `${fault} was injected`);
      assert.equal(Buffer.from(data).toString('hex'), memory(0, 16 * 2048), `${fault}: data intact`);
      assert.equal(gdb.pipelining, false, `${fault}: client fell back to strict`);
      await gdb.close();
    }
  });

  void test('requests while the target runs are refused with GdbStateError', async () => {
    const stub = fakeStub((p) => basicAnswers(p) ?? (p.startsWith('vCont') ? undefined : ''));
    const gdb = await connect(stub);
    await gdb.resume('continue');
    assert.equal(gdb.state, 'running');
    await assert.rejects(gdb.readMemory(0n, 4), GdbStateError);
    await gdb.close();
  });

  void test('connecting to a closed port gives ConnectRefusedError', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const a = srv.address();
        srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
      });
    });
    await assert.rejects(connectTcp('127.0.0.1', port, { timeoutMs: 1000 }), ConnectRefusedError);
  });

  void test('a stub that closes right after accepting fails the connect with ConnectionClosedError', async () => {
    const srv = createServer((s) => s.destroy());
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const a = srv.address();
    const port = typeof a === 'object' && a ? a.port : 0;
    await assert.rejects(
      connectTcp('127.0.0.1', port, { timeoutMs: 1000, requestTimeoutMs: 1000 }),
      ConnectionClosedError,
    );
    srv.close();
  });
});
