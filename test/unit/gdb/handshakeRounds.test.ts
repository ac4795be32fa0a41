// The connect sequence in round trips, against the fake stub holding its replies until the client has
// sent all it will send (each group it then answers is one round trip of a long link). Pipelined, the
// sequence takes a handful of round trips and learns exactly what the strict one learns; a stub that
// answers bursts out of order gets the strict sequence, and a correct result.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { connectTransport, type RspClient } from '../../../src/gdb/client';
import { basicAnswers, fakeStub, type StubActions } from './fake-stub';

const core = `<?xml version="1.0"?><feature name="org.gnu.gdb.aarch64.core">${Array.from(
  { length: 31 },
  (_, i) => `<reg name="x${i}" bitsize="64"/>`,
).join(
  '',
)}<reg name="sp" bitsize="64"/><reg name="pc" bitsize="64"/><reg name="cpsr" bitsize="32"/></feature>`;
// Over two chunks of a 0x1000 packet: the speculative reads past its end are answered and dropped.
const sysregs = `<?xml version="1.0"?><feature name="org.qemu.gdb.arm.sys.regs">${Array.from(
  { length: 200 },
  (_, i) => `<reg name="SYSREG_${i}_EL1" bitsize="64" regnum="${100 + i}" group="system"/>`,
).join('')}</feature>`;
const docs: Record<string, string> = {
  'target.xml': `<?xml version="1.0"?><target><architecture>aarch64</architecture><xi:include href="aarch64-core.xml"/><xi:include href="system-registers.xml"/></target>`,
  'aarch64-core.xml': core,
  'system-registers.xml': sysregs,
};

/** `qemu`: a qXfer chunk is at most (PacketSize - 5) / 2 bytes whatever is asked, as QEMU 7.2 answers. */
function answer(p: string, qemu = false, small = false): string {
  if (p.startsWith('qSupported'))
    return `PacketSize=${small ? '400' : '1000'};qXfer:features:read+;vContSupported+;multiprocess+`;
  if (p === 'qqemu.Supported') return 'sstepbits;sstep;PhyMemMode';
  if (p === 'qqemu.PhyMemMode') return '0';
  if (p === 'vCont?') return 'vCont;c;C;s;S';
  if (p === 'qC') return 'QCp01.01';
  if (p === 'qqemu.sstepbits') return 'ENABLE=1,NOIRQ=2,NOTIMER=4';
  if (p === 'qfThreadInfo') return 'mp01.01';
  const m = /^qXfer:features:read:([^:]+):([0-9a-f]+),([0-9a-f]+)$/.exec(p);
  if (m) {
    const doc = docs[m[1]];
    const offset = parseInt(m[2], 16);
    if (doc === undefined || offset > doc.length) return 'E00';
    // `small`: a stub with 1 KiB packets refuses a longer read (as asked before its size is known).
    if (small && parseInt(m[3], 16) > 0x400 - 5) return 'E01';
    const length = qemu ? Math.min(parseInt(m[3], 16), (0x1000 - 5) >> 1) : parseInt(m[3], 16);
    return (offset + length >= doc.length ? 'l' : 'm') + doc.slice(offset, offset + length);
  }
  return basicAnswers(p) ?? '';
}

/**
 * The stub; `rounds()` counts the groups it answered, `reverse` answers each group backwards, `qemu`
 * chunks the target description as QEMU does.
 */
function roundsStub(reverse = false, qemu = false, small = false) {
  const held: [StubActions, string][] = [];
  let rounds = 0;
  let timer: NodeJS.Timeout | undefined;
  const stub = fakeStub((p, io) => {
    held.push([io, p]);
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      const group = held.splice(0);
      rounds++;
      if (reverse && group.length > 1) group.reverse();
      for (const [o, q] of group) o.reply(answer(q, qemu, small));
    }, 5);
  });
  return { stub, rounds: () => rounds };
}

void describe('the connect sequence in round trips', () => {
  void test('pipelined: two round trips, the same registers and state as the strict sequence', async () => {
    const fast = roundsStub(false, true);
    const gdb = (await connectTransport(fast.stub.clientSide, {
      requestTimeoutMs: 2000,
      pipelining: 'auto',
    })) as RspClient;
    assert.equal(gdb.pipelining, true);
    // qSupported, the self-test, the queries and target.xml together; then every include's chunks.
    assert.equal(fast.rounds(), 2);

    const slow = roundsStub();
    const strict = (await connectTransport(slow.stub.clientSide, {
      requestTimeoutMs: 2000,
      pipelining: false,
    })) as RspClient;
    assert.ok(slow.rounds() >= 8, `the strict sequence: ${slow.rounds()} round trips`);
    assert.deepEqual(
      gdb.registers.all.map((r) => [r.name, r.regnum, r.bitsize]),
      strict.registers.all.map((r) => [r.name, r.regnum, r.bitsize]),
    );
    assert.equal(gdb.registers.all.length, 34 + 200);
    assert.deepEqual([...gdb.registers.documents.keys()].sort(), Object.keys(docs).sort());
    assert.deepEqual([...gdb.qemuFeatures].sort(), [...strict.qemuFeatures].sort());
    assert.equal(gdb.state, 'stopped');
    await gdb.close();
    await strict.close();
  });

  void test('a stub whose chunks are not the size expected costs one more round trip, same result', async () => {
    const s = roundsStub();
    const gdb = (await connectTransport(s.stub.clientSide, {
      requestTimeoutMs: 2000,
      pipelining: 'auto',
    })) as RspClient;
    assert.equal(gdb.pipelining, true);
    assert.equal(s.rounds(), 3);
    assert.equal(gdb.registers.all.length, 34 + 200);
    assert.equal(gdb.registers.get('SYSREG_199_EL1')?.regnum, 299);
    assert.equal(gdb.registers.get('x30')?.regnum, 30);
    await gdb.close();
  });

  void test('a stub with smaller packets refusing the early target.xml read: read again, same result', async () => {
    const s = roundsStub(false, false, true);
    const gdb = (await connectTransport(s.stub.clientSide, {
      requestTimeoutMs: 2000,
      pipelining: 'auto',
    })) as RspClient;
    assert.equal(gdb.pipelining, true);
    assert.equal(gdb.packetSize, 0x400);
    assert.equal(gdb.registers.all.length, 34 + 200);
    assert.equal(gdb.registers.get('SYSREG_199_EL1')?.regnum, 299);
    assert.ok(s.rounds() <= 4, `${s.rounds()} round trips`);
    await gdb.close();
  });

  void test('a stub answering bursts backwards gets the strict sequence and the right description', async () => {
    const s = roundsStub(true);
    const gdb = (await connectTransport(s.stub.clientSide, {
      requestTimeoutMs: 2000,
      pipelining: 'auto',
    })) as RspClient;
    assert.equal(gdb.pipelining, false);
    assert.equal(gdb.registers.all.length, 34 + 200);
    assert.equal(gdb.registers.get('SYSREG_199_EL1')?.regnum, 299);
    await gdb.close();
  });
});
