// One client scenario over every transport: the in-memory pair and real TCP on 127.0.0.1, each with
// whole writes and with every packet split into 1-3 byte pieces. The peer is the fake stub because
// what it sends is what QEMU 7.2 never does (run-length encoded replies, escaped binary qXfer data,
// replies torn into 1-byte writes, dying mid-packet); everything QEMU does is tested against QEMU.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectTransport, type RspClient } from '../../../src/gdb/client';
import { escapeBinary, framePacket, latin1Bytes, runLengthEncode } from '../../../src/gdb/codec';
import { ConnectionClosedError } from '../../../src/gdb/errors';
import { asciiToHex, bytesToHex } from '../../../src/gdb/hex';
import { basicAnswers, fakeStub, fakeStubTcp, type FakeStub, type StubHandler } from './fake-stub';

/** A tiny target: 64 KiB of memory, one register file, run control, a monitor. */
function target(): StubHandler {
  const memory = new Uint8Array(0x10000).map((_, i) => (i * 13 + 5) & 0xff);
  memory.fill(0, 0x100, 0x200); // a run for RLE
  const xml =
    '<target><feature name="t"><reg name="x0" bitsize="64"/><reg name="pc" bitsize="64" regnum="32"/></feature></target>';
  return (p, io) => {
    const basic = basicAnswers(p);
    if (basic !== undefined) return p.startsWith('qSupported') ? `${basic};qXfer:features:read+` : basic;
    if (p.startsWith('qXfer:features:read:target.xml:')) {
      // Binary reply: escaped, so any byte of the document survives.
      io.raw(framePacket(escapeBinary(latin1Bytes(`l${xml}`))));
      return;
    }
    let m = /^m([0-9a-f]+),([0-9a-f]+)$/.exec(p);
    if (m) {
      const a = parseInt(m[1], 16);
      const hex = bytesToHex(memory.subarray(a, a + parseInt(m[2], 16)));
      io.raw(framePacket(runLengthEncode(latin1Bytes(hex))));
      return;
    }
    m = /^X([0-9a-f]+),([0-9a-f]+):/.exec(p);
    if (m) {
      const bytes = latin1Bytes(p.slice(m[0].length));
      memory.set(bytes, parseInt(m[1], 16));
      return 'OK';
    }
    if (p === 'p20') return '1001084000000000';
    if (p.startsWith('qRcmd,')) {
      for (const line of ['first line\n', 'second line\n']) io.reply(`O${asciiToHex(line)}`);
      return 'OK';
    }
    if (p.startsWith('vCont;c')) {
      setTimeout(() => io.reply('T05thread:p01.01;swbreak:;'), 20);
      return;
    }
    if (p === 'qDie') {
      io.raw('$partial');
      io.die();
      return;
    }
    return '';
  };
}

const transports: {
  name: string;
  make: (h: StubHandler) => Promise<FakeStub & { shutdown?: () => Promise<void> }>;
}[] = [
  { name: 'memory', make: (h) => Promise.resolve(fakeStub(h)) },
  { name: 'memory, split mid-packet', make: (h) => Promise.resolve(fakeStub(h, { split: true })) },
  { name: 'tcp', make: (h) => fakeStubTcp(h) },
  { name: 'tcp, split mid-packet', make: (h) => fakeStubTcp(h, { split: true }) },
];

for (const t of transports) {
  void describe(`client over ${t.name}`, () => {
    void test('register map, registers, RLE memory, binary writes, monitor output, run control, death', async () => {
      const stub = await t.make(target());
      const gdb = (await connectTransport(stub.clientSide, { requestTimeoutMs: 2000 })) as RspClient;
      try {
        assert.equal(gdb.registers.get('pc')?.regnum, 32);
        assert.equal(await gdb.readRegister('pc'), 0x40080110n);
        const data = await gdb.readMemory(0xf0n, 0x1000);
        assert.deepEqual(
          [...data.subarray(0, 0x20)],
          Array.from({ length: 0x20 }, (_, i) => (i < 0x10 ? ((0xf0 + i) * 13 + 5) & 0xff : 0)),
        );
        const special = new Uint8Array([0x23, 0x24, 0x7d, 0x2a, 0x03, 0xff]);
        await gdb.writeMemory(0x8000n, special);
        assert.deepEqual([...(await gdb.readMemory(0x8000n, 6))], [...special]);
        assert.equal(await gdb.monitor('info something'), 'first line\nsecond line\n');
        await gdb.resume('continue');
        const stop = await gdb.waitForStop(2000);
        assert.equal(stop.kind === 'signal' && stop.swbreak, true);
        const closed = new Promise<Error | undefined>((r) => gdb.onClose(r));
        await assert.rejects(gdb.request('qDie'), ConnectionClosedError);
        assert.ok((await closed) instanceof ConnectionClosedError);
      } finally {
        await gdb.close();
        await stub.shutdown?.();
      }
    });
  });
}
