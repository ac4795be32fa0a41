// Memory reads kept in flight by a byte budget, with QEMU's PhyMemMode switch and its restore
// pipelined with them, against the fake stub (it can hold its replies back, and answer out of order,
// which real QEMU does not). The same reads against real QEMU: test/qemu/fast-path.test.ts and
// test/qemu/gdb.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectTransport, type RspClient } from '../../../src/gdb/client';
import { GdbMemoryFaultError } from '../../../src/gdb/errors';
import { basicAnswers, fakeStub, type StubActions } from './fake-stub';

/** Deterministic memory: byte at `a` is (a * 7) & 0xff. */
const memory = (addr: number, len: number) =>
  Array.from({ length: len }, (_, i) => ((addr + i) * 7) & 0xff)
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');

const probes = (p: string): string | undefined => {
  if (p === 'vCont?') return 'vCont;c;C;s;S';
  if (p === 'qC') return 'QCp01.01';
  if (p === 'qqemu.sstepbits') return 'ENABLE=1';
  if (p === 'qfThreadInfo') return 'mp01.01';
  return basicAnswers(p);
};

/**
 * A stub that answers the connect sequence at once and then holds memory replies back until the
 * client stops sending (a long link): how many requests were in flight is then visible. `reverse`
 * answers each held group in reverse order (a stub that does not keep pipelined requests in order).
 */
function holdingStub(opts: { reverse?: boolean; faultAt?: number; holdAll?: boolean } = {}) {
  const held: [StubActions, string][] = [];
  const log: string[] = [];
  let maxHeld = 0;
  let timer: NodeJS.Timeout | undefined;
  let connected = false;
  const answer = (p: string): string => {
    const probe = probes(p);
    if (probe !== undefined) return probe;
    if (p.startsWith('Qqemu.PhyMemMode')) return 'OK';
    const m = /^m([0-9a-f]+),([0-9a-f]+)$/.exec(p);
    if (!m) return '';
    if (opts.faultAt !== undefined && parseInt(m[1], 16) === opts.faultAt) return 'E14';
    return memory(parseInt(m[1], 16), parseInt(m[2], 16));
  };
  const stub = fakeStub((p, io) => {
    if (!connected && !opts.holdAll) {
      const r = probes(p);
      if (r !== undefined) return r;
    }
    log.push(p);
    held.push([io, p]);
    maxHeld = Math.max(maxHeld, held.length);
    // Released once the client has sent what it will send (nothing new for 5 ms).
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      const group = held.splice(0);
      if (opts.reverse && group.length > 1) group.reverse();
      for (const [o, q] of group) o.reply(answer(q));
    }, 5);
  });
  return {
    stub,
    log,
    maxHeld: () => maxHeld,
    /** The connect sequence is over: hold everything from now on. */
    start: () => {
      connected = true;
      maxHeld = 0;
      log.length = 0;
    },
  };
}

async function connect(s: ReturnType<typeof holdingStub>, readBudgetBytes?: number) {
  const gdb = (await connectTransport(s.stub.clientSide, {
    requestTimeoutMs: 2000,
    pipelining: 'auto',
    ...(readBudgetBytes !== undefined ? { readBudgetBytes } : {}),
  })) as RspClient;
  s.start();
  return gdb;
}

void describe('memory reads under a byte budget', () => {
  void test('a batch is one round trip: switch, every read and the restore sent before any reply', async () => {
    const s = holdingStub();
    const gdb = await connect(s);
    assert.equal(gdb.pipelining, true);
    const ranges = [0, 0x10000, 0x20000].map((a) => ({ address: BigInt(a), length: 4096 }));
    const out = await gdb.readPhysicalBatch(ranges);
    ranges.forEach((r, i) =>
      assert.equal(Buffer.from(out[i]).toString('hex'), memory(Number(r.address), r.length)),
    );
    assert.deepEqual(s.log, [
      'Qqemu.PhyMemMode:1',
      'm0,800',
      'm800,800',
      'm10000,800',
      'm10800,800',
      'm20000,800',
      'm20800,800',
      'Qqemu.PhyMemMode:0',
    ]);
    assert.equal(s.maxHeld(), 8, 'all eight in flight at once');
    await gdb.close();
  });

  void test('the budget bounds the reply bytes in flight, not the count of requests', async () => {
    for (const [budget, most] of [
      [16 * 1024, 3], // three 2048-byte reads (4100 bytes of reply each) fit in 16 KiB; the switch too
      [64 * 1024, 16],
    ] as const) {
      const s = holdingStub();
      const gdb = await connect(s, budget);
      const [data] = await gdb.readPhysicalBatch([{ address: 0n, length: 64 * 2048 }]);
      assert.equal(Buffer.from(data).toString('hex'), memory(0, 64 * 2048));
      assert.ok(s.maxHeld() <= most + 1, `budget ${budget}: ${s.maxHeld()} in flight`);
      assert.ok(s.maxHeld() >= most, `budget ${budget}: only ${s.maxHeld()} in flight`);
      await gdb.close();
    }
  });

  void test('a memory fault mid-batch is reported and PhyMemMode is still restored', async () => {
    const s = holdingStub({ faultAt: 0x1800 });
    const gdb = await connect(s, 8192);
    await assert.rejects(gdb.readPhysicalBatch([{ address: 0n, length: 8 * 2048 }]), GdbMemoryFaultError);
    assert.equal(s.log.at(-1), 'Qqemu.PhyMemMode:0', 'restored after the fault');
    assert.ok(!s.log.includes('m3800,800'), 'no read issued after the fault');
    await gdb.close();
  });

  void test('a stub that answers pipelined requests out of order: strict from connect, reads correct', async () => {
    // Everything held and each group answered in reverse, the connect sequence included: its strict
    // requests come one at a time (groups of one), the self-test's burst comes back reversed.
    const s = holdingStub({ reverse: true, holdAll: true });
    const gdb = (await connectTransport(s.stub.clientSide, {
      requestTimeoutMs: 2000,
      pipelining: 'auto',
    })) as RspClient;
    assert.equal(gdb.pipelining, false, 'the self-test saw the burst out of order');
    s.start();
    const [data] = await gdb.readPhysicalBatch([{ address: 0x4000n, length: 6 * 2048 }]);
    assert.equal(Buffer.from(data).toString('hex'), memory(0x4000, 6 * 2048));
    assert.equal(s.maxHeld(), 1, 'one request at a time');
    await gdb.close();
  });
});
