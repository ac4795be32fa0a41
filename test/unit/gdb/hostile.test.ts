// A hostile stub (the fake one on the in-memory transport) against the client's bounds: packets that
// never end or expand without limit, target descriptions that include without end, register replies
// that are not values. Each must fail with a specific typed error, in bounded time and memory.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectTransport, type RspClient } from '../../../src/gdb/client';
import { framePacket, latin1Bytes } from '../../../src/gdb/codec';
import {
  ConnectionClosedError,
  GdbHandshakeTimeoutError,
  GdbPacketTooLargeError,
  GdbTargetDescriptionError,
  RegisterReplyError,
  RegisterUnavailableError,
} from '../../../src/gdb/errors';
import type { Transport } from '../../../src/gdb/transport';
import type { ConnectOptions } from '../../../src/gdb/types';
import { basicAnswers, fakeStub, fakeStubTcp, type StubHandler } from './fake-stub';

const TARGET = `<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target><architecture>aarch64</architecture>
<feature name="org.gnu.gdb.aarch64.core"><reg name="pc" bitsize="64" regnum="0"/><reg name="cpsr" bitsize="32"/></feature>
<xi:include href="system-registers.xml"/></target>`;
const SYSREGS = `<?xml version="1.0"?><feature name="org.qemu.gdb.arm.sys.regs"><reg name="SCTLR_EL1" bitsize="64" regnum="2"/></feature>`;

/** Answers `qXfer:features:read` from `docs` in the requested slices. */
function xfer(packet: string, docs: (annex: string) => string | undefined): string | undefined {
  const m = /^qXfer:features:read:([^:]+):([0-9a-f]+),([0-9a-f]+)$/.exec(packet);
  if (!m) return undefined;
  const doc = docs(m[1]);
  if (doc === undefined) return 'E00';
  const offset = parseInt(m[2], 16);
  const length = parseInt(m[3], 16);
  return (offset + length >= doc.length ? 'l' : 'm') + doc.slice(offset, offset + length);
}

/** A stub with a target description; `handler` sees every packet first. */
function describedStub(handler: StubHandler = () => undefined, packetSize = '1000', docs = defaultDocs) {
  return fakeStub((p, io, bytes) => {
    const r = handler(p, io, bytes);
    if (r !== undefined) return r;
    if (p.startsWith('qSupported'))
      return `PacketSize=${packetSize};qXfer:features:read+;vContSupported+;multiprocess+`;
    return xfer(p, docs) ?? basicAnswers(p) ?? '';
  });
}

function defaultDocs(annex: string): string | undefined {
  return annex === 'target.xml' ? TARGET : annex === 'system-registers.xml' ? SYSREGS : undefined;
}

const connect = async (stub: { clientSide: Transport }, options: ConnectOptions = {}) =>
  (await connectTransport(stub.clientSide, {
    requestTimeoutMs: 2000,
    pipelining: false,
    ...options,
  })) as RspClient;

const ms = (t0: number) => Date.now() - t0;

void describe('hostile stub: packet caps', () => {
  void test('a reply that never ends fails the pending request and closes the connection with a clear message', async () => {
    const stub = describedStub((p, io) => {
      if (p !== 'qEndless') return;
      io.raw('$');
      const chunk = new Uint8Array(256 << 10).fill(0x61);
      for (let i = 0; i < 12; i++) io.raw(chunk); // 3 MiB and no '#'
    });
    const gdb = await connect(stub);
    const closed = new Promise<Error | undefined>((r) => gdb.onClose(r));
    const err = await gdb.request('qEndless').catch((e: unknown) => e);
    assert.ok(err instanceof GdbPacketTooLargeError, String(err));
    assert.equal(
      err.message,
      'the gdbstub sent a packet over 1 MiB without ending it: closing the connection',
    );
    assert.equal(err.stage, 'framing');
    assert.equal(await closed, err);
    assert.equal(gdb.state, 'closed');
    await assert.rejects(gdb.readRegister('pc'), ConnectionClosedError);
  });

  void test('over TCP too: the oversized packet closes the socket and rejects the request', async () => {
    const stub = await fakeStubTcp((p, io) => {
      if (p === 'qEndless') {
        io.raw('$');
        io.raw(new Uint8Array(2 << 20).fill(0x61));
        return;
      }
      return basicAnswers(p) ?? '';
    });
    try {
      const socketClosed = new Promise<void>((r) => stub.clientSide.onClose(() => r()));
      const gdb = await connect(stub);
      const closed = new Promise<Error | undefined>((r) => gdb.onClose(r));
      await assert.rejects(gdb.request('qEndless'), GdbPacketTooLargeError);
      assert.ok((await closed) instanceof GdbPacketTooLargeError);
      await socketClosed;
    } finally {
      await stub.shutdown();
    }
  });

  void test('the 40 MB packet of * runs answering a memory read is refused (was RangeError: Invalid typed array length)', async () => {
    const stub = describedStub((p, io) => {
      if (!p.startsWith('m')) return;
      const raw = new Uint8Array(40 << 20);
      raw[0] = 0x30;
      for (let i = 1; i + 1 < raw.length; i += 2) {
        raw[i] = 0x2a;
        raw[i + 1] = 0xff;
      }
      io.raw(framePacket(raw));
    });
    const gdb = await connect(stub);
    await assert.rejects(gdb.readMemory(0x1000n, 16), GdbPacketTooLargeError);
  });

  void test('a short packet expanding past the cap fails with the expansion message', async () => {
    const stub = describedStub((p, io) => {
      if (p !== 'qRuns') return;
      io.raw(framePacket(latin1Bytes(`0${'*\xff'.repeat(5000)}`)));
    });
    const gdb = await connect(stub);
    const err = await gdb.request('qRuns').catch((e: unknown) => e);
    assert.ok(err instanceof GdbPacketTooLargeError);
    assert.equal(err.stage, 'expansion');
    assert.match(err.message, /expands to over 1 MiB: closing the connection/);
  });

  void test('a reply framed before the oversized packet in the same chunk is still delivered', async () => {
    const stub = describedStub((p, io) => {
      if (p !== 'qFirst') return;
      const big = new Uint8Array(2 << 20).fill(0x61);
      big[0] = 0x24;
      io.raw(Buffer.concat([framePacket(latin1Bytes('first')), big]));
    });
    const gdb = await connect(stub);
    assert.equal(Buffer.from(await gdb.request('qFirst')).toString('latin1'), 'first');
    await assert.rejects(gdb.request('qAttached'), ConnectionClosedError);
    assert.equal(gdb.state, 'closed');
  });

  void test('PacketSize raises the cap to 4x; an absurd PacketSize is clamped and cannot lift it past 4 MiB', async () => {
    const big =
      (n: number): StubHandler =>
      (p) =>
        p === 'qBig' ? 'b'.repeat(n) : undefined;
    const roomy = await connect(describedStub(big(1536 << 10), '80000'));
    assert.equal((await roomy.request('qBig')).length, 1536 << 10);
    await roomy.close();

    const greedy = await connect(describedStub(big(5 << 20), 'ffffffff'));
    assert.equal(greedy.packetSize, 1 << 20);
    const err = await greedy.request('qBig').catch((e: unknown) => e);
    assert.ok(err instanceof GdbPacketTooLargeError);
    assert.equal(err.limit, 4 << 20);
  });
});

void describe('hostile stub: target description', () => {
  void test('a 20-wide, 7-deep include tree: each annex fetched once, parsed once (was minutes and 2.75 GB)', async () => {
    const inc = (level: number) =>
      Array.from({ length: 20 }, (_, k) => `<xi:include href="l${level}_${k}.xml"/>`).join('');
    const docs = (annex: string): string | undefined => {
      if (annex === 'target.xml') return `<target>${inc(1)}</target>`;
      const m = /^l(\d+)_(\d+)\.xml$/.exec(annex);
      if (!m) return undefined;
      const level = Number(m[1]);
      return level < 7
        ? `<feature name="f${level}">${inc(level + 1)}</feature>`
        : `<feature name="leaf"><reg name="r${m[2]}" bitsize="64"/></feature>`;
    };
    const stub = describedStub(undefined, '1000', docs);
    const t0 = Date.now();
    const gdb = await connect(stub);
    assert.ok(ms(t0) < 5000, `connect took ${ms(t0)} ms`);
    const fetched = stub.received.filter((p) => p.startsWith('qXfer')).map((p) => p.split(':')[3]);
    assert.equal(fetched.length, 1 + 20 * 7);
    assert.equal(new Set(fetched).size, fetched.length, 'no annex fetched twice');
    assert.equal(gdb.registers.all.length, 20);
    await gdb.close();
  });

  void test('an include cycle ends: each document is expanded once', async () => {
    const docs = (annex: string) =>
      annex === 'target.xml'
        ? '<target><xi:include href="a.xml"/></target>'
        : annex === 'a.xml'
          ? '<feature name="a"><reg name="ra" bitsize="64"/><xi:include href="b.xml"/></feature>'
          : '<feature name="b"><reg name="rb" bitsize="32"/><xi:include href="a.xml"/><xi:include href="target.xml"/></feature>';
    const gdb = await connect(describedStub(undefined, '1000', docs));
    assert.deepEqual(
      gdb.registers.all.map((r) => [r.name, r.regnum]),
      [
        ['ra', 0],
        ['rb', 1],
      ],
    );
    await gdb.close();
  });

  void test('more than 256 documents is GdbTargetDescriptionError', async () => {
    const docs = (annex: string) =>
      annex === 'target.xml'
        ? `<target>${Array.from({ length: 300 }, (_, k) => `<xi:include href="d${k}.xml"/>`).join('')}</target>`
        : '<feature name="x"/>';
    const stub = describedStub(undefined, '1000', docs);
    await assert.rejects(connect(stub), (e: unknown) => {
      assert.ok(e instanceof GdbTargetDescriptionError);
      assert.match(e.message, /includes more than 256 documents/);
      return true;
    });
    const annexes = stub.received.filter((p) => p.startsWith('qXfer')).map((p) => p.split(':')[3]);
    assert.deepEqual([...new Set(annexes)], ['target.xml'], 'nothing fetched past the cap');
  });

  void test('a description over 4 MiB is GdbTargetDescriptionError', async () => {
    const chunk = `m${'<!-- padding -->'.repeat(4096)}`; // 64 KiB per reply, never the last
    const stub = describedStub((p) => (p.startsWith('qXfer') ? chunk : undefined));
    const t0 = Date.now();
    await assert.rejects(connect(stub), /the target description is over 4 MiB \(while reading target\.xml\)/);
    assert.ok(ms(t0) < 10_000, `took ${ms(t0)} ms`);
  });

  void test('a description that never finishes hits the handshake deadline, naming the step', async () => {
    const stub = describedStub((p) => (p.startsWith('qXfer') ? 'mx' : undefined));
    const t0 = Date.now();
    const err = await connect(stub, { handshakeTimeoutMs: 300 }).catch((e: unknown) => e);
    assert.ok(err instanceof GdbHandshakeTimeoutError, String(err));
    assert.match(
      err.message,
      /within 300 ms \(stuck reading the target description \(target\.xml, document 1, \d+ bytes so far\)\)/,
    );
    assert.ok(ms(t0) < 2000, `took ${ms(t0)} ms`);
  });

  void test('a stub going silent in the handshake fails at the deadline, not after the request timeout', async () => {
    const silent = fakeStub((p) => {
      if (p.startsWith('qXfer:features:read:system')) return; // never answered
      if (p.startsWith('qSupported')) return 'PacketSize=1000;qXfer:features:read+';
      return xfer(p, defaultDocs) ?? basicAnswers(p) ?? '';
    });
    const t0 = Date.now();
    const err = await connect(silent, { handshakeTimeoutMs: 250, requestTimeoutMs: 10_000 }).catch(
      (e: unknown) => e,
    );
    assert.ok(err instanceof GdbHandshakeTimeoutError, String(err));
    assert.match(err.message, /system-registers\.xml, document 2/);
    assert.ok(ms(t0) < 2000, `took ${ms(t0)} ms`);
  });
});

void describe('hostile stub: register replies', () => {
  const withRegister = (reply: (io: Parameters<StubHandler>[1]) => string) =>
    describedStub((p, io) => (p === 'p2' ? reply(io) : undefined));

  void test('a reply of junk is RegisterReplyError naming the register, never a value', async () => {
    const gdb = await connect(withRegister(() => 'zz00zz00zz00zz00'));
    const err = await gdb.readRegister('SCTLR_EL1').catch((e: unknown) => e);
    assert.ok(err instanceof RegisterReplyError, String(err));
    assert.equal(err.register, 'SCTLR_EL1');
    assert.match(err.message, /^register SCTLR_EL1: 'p2' answered 'zz00zz00zz00zz00', which is not hex$/);
    await assert.rejects(gdb.readRegisters(['pc', 'SCTLR_EL1']), RegisterReplyError);
    await gdb.close();
  });

  void test('a reply of the wrong length is RegisterReplyError with the expected size', async () => {
    const gdb = await connect(withRegister(() => '0100000000'));
    await assert.rejects(gdb.readRegister('SCTLR_EL1'), (e: unknown) => {
      assert.ok(e instanceof RegisterReplyError);
      assert.match(e.message, /10 characters \('0100000000'\) where its 64 bits take 16 hex digits/);
      return true;
    });
    await gdb.close();
  });

  void test('a 10 MB register reply fails fast with GdbPacketTooLargeError (was hours of event-loop time)', async () => {
    const gdb = await connect(withRegister(() => '0'.repeat(10_000_000)));
    const t0 = Date.now();
    await assert.rejects(gdb.readRegister('SCTLR_EL1'), GdbPacketTooLargeError);
    assert.ok(ms(t0) < 3000, `took ${ms(t0)} ms`);
  });

  void test('xx is unavailable: readRegister throws, readRegisters gives undefined (never 0)', async () => {
    const stub = describedStub((p) =>
      p === 'p2' ? 'xxxxxxxxxxxxxxxx' : p === 'p0' ? '1001084000000000' : undefined,
    );
    const gdb = await connect(stub);
    await assert.rejects(gdb.readRegister('SCTLR_EL1'), RegisterUnavailableError);
    const values = await gdb.readRegisters(['pc', 'sctlr_el1', 'NOPE']);
    assert.deepEqual(
      [...values],
      [
        ['pc', 0x40080110n],
        ['sctlr_el1', undefined],
        ['NOPE', undefined],
      ],
    );
    await gdb.close();
  });

  void test('O console output ahead of a register reply goes to the console, not into the value', async () => {
    const gdb = await connect(
      withRegister((io) => {
        io.reply(`O${Buffer.from('hello\n').toString('hex')}`);
        return '0510c53000000000';
      }),
    );
    const output: string[] = [];
    gdb.onConsoleOutput((t) => output.push(t));
    assert.equal(await gdb.readRegister('SCTLR_EL1'), 0x30c51005n);
    assert.deepEqual(output, ['hello\n']);
    await gdb.close();
  });

  void test('sizes come from the description (32-bit cpsr); a number it does not list is read unchecked', async () => {
    const stub = describedStub((p) => (p === 'p1' ? 'c5030000' : p === 'p99' ? '0102' : undefined));
    const gdb = await connect(stub);
    assert.equal(await gdb.readRegister('cpsr'), 0x3c5n);
    assert.equal(await gdb.readRegister(0x99), 0x201n);
    await gdb.close();
  });
});

void describe('hostile stub: monitor output', () => {
  void test('a monitor command that streams without end keeps a bounded head and says what it dropped', async () => {
    const chunk = Buffer.alloc(4096, 0x61).toString('hex'); // 4 KiB of 'a' per O packet
    const stub = describedStub((p, io) => {
      if (!p.startsWith('qRcmd,')) return undefined;
      // 20 MiB of output, then OK: more than MAX_MONITOR_OUTPUT (16 MiB).
      for (let i = 0; i < 5 * 1024; i++) io.reply(`O${chunk}`);
      return 'OK';
    }, '20000');
    const gdb = await connect(stub, { requestTimeoutMs: 60_000 });
    const before = process.memoryUsage().rss;
    const text = await gdb.monitor('info mtree', 60_000);
    assert.match(text, /… monitor output cut at 16777216 bytes \(4194304 more dropped\)\n$/);
    assert.equal(text.indexOf('\n'), 16 * 2 ** 20);
    assert.ok(process.memoryUsage().rss - before < 512 * 2 ** 20, 'bounded memory');
    await gdb.close();
  });
});
