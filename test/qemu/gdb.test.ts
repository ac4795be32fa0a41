// The GDB client against real QEMU (qemu-system-aarch64 -M virt -smp 2) running test/fixtures/mini,
// once per CPU model. QEMU is booted once per suite; tests run in order and share its state.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  connectTcp,
  GdbMemoryFaultError,
  WP_WRITE,
  BP_SOFTWARE,
  BP_HARDWARE,
  type GdbClient,
  type StopEvent,
} from '../../src/gdb';
import { buildMini, type MiniProgram } from '../harness/mini';
import { useQemu } from '../harness/node-test';

const pattern = (n: number) => Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function signalOf(e: StopEvent): number {
  assert.equal(e.kind, 'signal', `stop reply ${e.raw}`);
  return e.kind === 'signal' ? e.signal : -1;
}

for (const cpu of ['max', 'cortex-a57']) {
  void describe(`gdb client against QEMU -cpu ${cpu} -smp 2`, () => {
    let mini: MiniProgram;
    let gdb: GdbClient;
    const suite = useQemu(() => {
      mini = buildMini();
      return { kernel: mini.elf, cpu, smp: 2 };
    });
    before(async () => {
      gdb = await connectTcp('127.0.0.1', suite.qemu.port, { timeoutMs: 5000 });
    });
    after(async () => {
      await gdb?.close();
    });

    void test('connect reads qSupported, the QEMU extras and the register map from the XML', () => {
      assert.equal(gdb.packetSize, 0x1000);
      assert.ok(gdb.qemuFeatures.has('PhyMemMode'));
      for (const name of [
        'x0',
        'pc',
        'cpsr',
        'TTBR0_EL1',
        'TCR_EL1',
        'MAIR_EL1',
        'SCTLR',
        'ESR_EL1',
        'FAR_EL1',
      ]) {
        assert.ok(gdb.registers.get(name), `${name} in the target description`);
      }
      assert.equal(gdb.registers.get('pc')?.regnum, 32);
    });

    void test('halted at the ELF entry on vCPU 1; two vCPUs are two threads', async () => {
      assert.equal(await gdb.readRegister('pc', 1), mini.symbol('_start'));
      const threads = await gdb.threads();
      assert.deepEqual(
        threads.map((t) => t.tid),
        [1, 2],
      );
      assert.match(await gdb.threadExtraInfo(2), /CPU#1/);
    });

    void test('breakpoint + continue stops with SIGTRAP at the breakpoint', async () => {
      await gdb.insertBreakpoint(BP_SOFTWARE, mini.symbol('bp_here'));
      await gdb.resume('continue');
      const stop = await gdb.waitForStop(10000);
      assert.equal(signalOf(stop), 5);
      assert.equal(stop.kind === 'signal' && stop.thread?.tid, 1);
      assert.equal(await gdb.readRegister('pc'), mini.symbol('bp_here'));
      await gdb.removeBreakpoint(BP_SOFTWARE, mini.symbol('bp_here'));
      await suite.qemu.waitForOutput('mini: mmu on', 5000);
    });

    void test('system registers by name show the MMU the program enabled', async () => {
      const regs = await gdb.readRegisters(
        ['TTBR0_EL1', 'TCR_EL1', 'MAIR_EL1', 'SCTLR', 'NOT_A_REGISTER'],
        1,
      );
      assert.equal(regs.get('TTBR0_EL1'), mini.symbol('l1'));
      const tcr = regs.get('TCR_EL1') ?? 0n;
      assert.equal(tcr & 0x3fn, 25n, 'T0SZ');
      assert.equal((tcr >> 23n) & 1n, 1n, 'EPD1');
      assert.equal(regs.get('MAIR_EL1'), 0xff04n);
      assert.equal((regs.get('SCTLR') ?? 0n) & 1n, 1n, 'SCTLR.M');
      assert.equal(regs.get('NOT_A_REGISTER'), undefined);
      assert.equal(await gdb.readRegister('TTBR0_EL1'), mini.symbol('l1'));
    });

    void test('virtual and physical reads agree through the non-identity mapping', async () => {
      const dataPage = mini.symbol('data_page');
      const viaVa = await gdb.readMemory(0x8000_0000n, 4096);
      const viaPa = await gdb.readPhysical(dataPage, 4096);
      assert.deepEqual([...viaVa], pattern(4096));
      assert.deepEqual([...viaPa], [...viaVa]);
      // Identity-mapped RAM reads the same both ways too.
      assert.deepEqual(
        [...(await gdb.readMemory(mini.symbol('l1'), 64))],
        [...(await gdb.readPhysical(mini.symbol('l1'), 64))],
      );
      // And the physical path really is physical: 0x8000_0000 is not RAM in the virt machine.
      assert.notDeepEqual([...(await gdb.readPhysical(0x8000_0000n, 64))], pattern(64));
      // PhyMemMode is restored afterwards, also when it was on before.
      assert.equal(Buffer.from(await gdb.request('qqemu.PhyMemMode')).toString('latin1'), '0');
      await gdb.request('Qqemu.PhyMemMode:1');
      assert.deepEqual([...(await gdb.readMemory(0x8000_0000n, 16))], pattern(16), 'readMemory is virtual');
      assert.equal(Buffer.from(await gdb.request('qqemu.PhyMemMode')).toString('latin1'), '1');
      await gdb.request('Qqemu.PhyMemMode:0');
    });

    void test('virtual reads of an invalid PTE (lazy MMIO) or an unmapped VA give GdbMemoryFaultError', async () => {
      for (const va of [0x8000_1000n, 0xc000_0000n]) {
        const err = await gdb.readMemory(va, 8).catch((e: unknown) => e);
        assert.ok(err instanceof GdbMemoryFaultError, `read of 0x${va.toString(16)}: ${String(err)}`);
        assert.equal(err.address, va);
        assert.equal(err.physical, false);
      }
    });

    void test('batched physical reads of the tables return the descriptors the program wrote', async () => {
      const [l1, l3hi] = await gdb.readPhysicalBatch([
        { address: mini.symbol('l1'), length: 4096 },
        { address: mini.symbol('l3_hi'), length: 4096 },
      ]);
      const d = (b: Uint8Array, i: number) => new DataView(b.buffer, b.byteOffset).getBigUint64(i * 8, true);
      assert.equal(d(l1, 0), 0x0060_0000_0000_0401n);
      assert.equal(d(l1, 1), mini.symbol('l2_ram') | 3n);
      assert.equal(d(l1, 2), mini.symbol('l2_hi') | 3n);
      assert.equal(d(l1, 3), 0n);
      assert.equal(d(l3hi, 0), mini.symbol('data_page') | 0x707n);
      assert.equal(d(l3hi, 1), 0x00e0_0000_0900_0402n);
      // A large batch (pipelined when the self-test allowed it) equals chunk-by-chunk reads.
      const base = 0x4008_0000n;
      const [big] = await gdb.readPhysicalBatch([{ address: base, length: 48 * 1024 }]);
      for (let off = 0; off < big.length; off += 8192) {
        const one = await gdb.readPhysical(base + BigInt(off), 2048);
        assert.deepEqual([...one], [...big.subarray(off, off + 2048)], `offset ${off}`);
      }
    });

    void test('memory writes (bytes that need escaping) land, through an alias VA too', async () => {
      const scratch = mini.symbol('scratch');
      const data = new Uint8Array([0x23, 0x24, 0x7d, 0x2a, 0x00, 0xff, 0x03, 0x0a]);
      await gdb.writeMemory(scratch, data);
      assert.deepEqual([...(await gdb.readPhysical(scratch, 8))], [...data]);
      const original = await gdb.readMemory(0x8000_0000n, 4);
      await gdb.writeMemory(0x8000_2000n, new Uint8Array([1, 2, 3, 4]));
      assert.deepEqual([...(await gdb.readMemory(0x8000_0000n, 4))], [1, 2, 3, 4]);
      await gdb.writePhysical(mini.symbol('data_page'), original);
      assert.deepEqual([...(await gdb.readMemory(0x8000_2000n, 4))], [...original]);
    });

    void test('register write and read back', async () => {
      const saved = await gdb.readRegister('x5', 1);
      await gdb.writeRegister('x5', 0x1234_5678_9abc_def0n, 1);
      assert.equal(await gdb.readRegister('x5', 1), 0x1234_5678_9abc_def0n);
      await gdb.writeRegister('x5', saved, 1);
    });

    void test('single-step moves one vCPU by one instruction', async () => {
      const pc2 = await gdb.readRegister('pc', 2);
      const stop = await gdb.step(1, 5000);
      assert.equal(signalOf(stop), 5);
      assert.equal(stop.kind === 'signal' && stop.thread?.tid, 1);
      assert.equal(await gdb.readRegister('pc', 1), mini.symbol('after_bp'));
      assert.equal(await gdb.readRegister('pc', 2), pc2, 'the other vCPU did not move');
    });

    void test('the second vCPU runs its own loop (PSCI CPU_ON worked)', async () => {
      const pc2 = await gdb.readRegister('pc', 2);
      assert.ok(
        pc2 >= mini.symbol('secondary_entry') && pc2 < mini.symbol('vectors'),
        `pc2 0x${pc2.toString(16)}`,
      );
      // Its counter's progress is checked by the interrupt test below.
    });

    void test('a write watchpoint stops with watch:<address>', async () => {
      const counter0 = mini.symbol('counter0');
      await gdb.insertBreakpoint(WP_WRITE, counter0, 8);
      await gdb.resume('continue', 1);
      const stop = await gdb.waitForStop(10000);
      await gdb.removeBreakpoint(WP_WRITE, counter0, 8);
      assert.equal(signalOf(stop), 5);
      assert.equal(stop.kind === 'signal' && stop.watchpoint?.type, 'watch');
      assert.equal(stop.kind === 'signal' && stop.watchpoint?.address, counter0);
    });

    void test('interrupting a running guest stops it with SIGINT; it made progress meanwhile', async () => {
      const read = async (sym: string) =>
        new DataView((await gdb.readMemory(mini.symbol(sym), 8)).buffer).getBigUint64(0, true);
      const before0 = await read('counter0');
      const before1 = await read('counter1');
      await gdb.resume('continue');
      assert.equal(gdb.state, 'running');
      await sleep(200);
      const stop = await gdb.interrupt(5000);
      assert.equal(signalOf(stop), 2);
      assert.equal(gdb.state, 'stopped');
      assert.ok((await read('counter0')) > before0);
      assert.ok((await read('counter1')) > before1);
    });

    void test('monitor commands return their output', async () => {
      const mtree = await gdb.monitor('info mtree -f');
      assert.match(mtree, /mach-virt\.ram/);
      assert.match(mtree, /pl011/);
      const xp = await gdb.monitor(`xp /2wx 0x${mini.symbol('data_page').toString(16)}`);
      assert.match(xp, /0x7a55300b 0x0ee9c49f/);
    });

    void test('QEMU step flags can be read and set', async () => {
      const original = await gdb.getStepFlags();
      await gdb.setStepFlags(1);
      assert.equal(await gdb.getStepFlags(), 1);
      await gdb.setStepFlags(original);
      assert.equal(await gdb.getStepFlags(), original);
    });

    void test('hardware breakpoint (Z1) on the other vCPU; g and ? agree with p', async () => {
      await gdb.insertBreakpoint(BP_HARDWARE, mini.symbol('secondary_loop'));
      await gdb.resume('continue', 2);
      const stop = await gdb.waitForStop(10000);
      await gdb.removeBreakpoint(BP_HARDWARE, mini.symbol('secondary_loop'));
      assert.equal(signalOf(stop), 5);
      assert.equal(stop.kind === 'signal' && stop.thread?.tid, 2);
      const why = await gdb.queryStopReason();
      assert.equal(why.kind === 'signal' && why.thread?.tid, 2);
      const g = await gdb.readAllRegisters(2);
      const pcFromG = new DataView(g.buffer, g.byteOffset).getBigUint64(32 * 8, true);
      assert.equal(pcFromG, mini.symbol('secondary_loop'));
      assert.equal(await gdb.readRegister('pc', 2), pcFromG);
    });

    void test('the pipelining self-test passed against QEMU and stats count the traffic', () => {
      assert.equal(gdb.pipelining, true);
      assert.ok(gdb.stats.packetsSent > 20);
      assert.ok(gdb.stats.bytesReceived > 100_000);
      assert.equal(gdb.stats.badChecksums, 0);
    });

    void test('a monitor query and the thread list go out beside register reads and answer as alone', async () => {
      // A connection of its own, logging the packets (the later tests use it too).
      await gdb.close();
      const wire: string[] = [];
      gdb = await connectTcp('127.0.0.1', suite.qemu.port, {
        timeoutMs: 5000,
        log: (direction, payload) => wire.push(`${direction} ${payload.slice(0, 16)}`),
      });
      const names = ['pc', 'TTBR0_EL1', 'SCTLR'];
      const regs = await gdb.readRegisters(names, 2);
      const threads = await gdb.threads();
      const mtree = await gdb.queryMonitor('info mtree -f');
      assert.match(mtree, /mach-virt\.ram/);
      wire.length = 0;
      const together = await Promise.all([
        gdb.readRegisters(names, 2),
        gdb.threads(),
        gdb.queryMonitor('info mtree -f'),
      ]);
      assert.deepEqual(together, [regs, threads, mtree]);
      // All three were asked before the first reply was read: one round trip, not three.
      const asked = wire.slice(
        0,
        wire.findIndex((w) => w.startsWith('recv')),
      );
      for (const first of ['send p', 'send qfThreadInfo', 'send qRcmd,'])
        assert.ok(
          asked.some((w) => w.startsWith(first)),
          `${first} before the first reply: ${asked.join(' | ')}`,
        );
      // Running, the query is refused as `monitor` refuses it: a rejection, not a throw.
      await gdb.resume('continue');
      try {
        const refused = gdb.queryMonitor('info mtree -f');
        await assert.rejects(refused, /while the target is running/);
      } finally {
        await gdb.interrupt(5000);
      }
    });

    void test('stepping a load from a lazy-MMIO page stops in the vector with ESR/FAR set', async () => {
      const saved = await gdb.readRegisters(['pc', 'cpsr', 'x20', 'sp'], 1);
      await gdb.writeRegister('x20', 0x8000_1000n, 1);
      await gdb.writeRegister('pc', mini.symbol('main_loop'), 1); // ldr x1, [x20]
      const stop = await gdb.step(1, 5000);
      assert.equal(signalOf(stop), 5);
      const r = await gdb.readRegisters(['pc', 'ESR_EL1', 'FAR_EL1', 'ELR_EL1'], 1);
      // Current EL with SP_ELx (mini runs on SP_EL1, unlike pvmfw's SP_EL0): synchronous at VBAR + 0x200.
      assert.equal(r.get('pc'), mini.symbol('vectors') + 0x200n);
      const esr = r.get('ESR_EL1') ?? 0n;
      assert.equal(esr >> 26n, 0x25n, 'EC: data abort, same EL');
      assert.equal(esr & 0x3cn, 0x04n, 'DFSC: translation fault');
      assert.equal(r.get('FAR_EL1'), 0x8000_1000n);
      assert.equal(r.get('ELR_EL1'), mini.symbol('main_loop'));
      for (const name of ['x20', 'sp', 'cpsr', 'pc']) await gdb.writeRegister(name, saved.get(name) ?? 0n, 1);
      assert.equal(await gdb.readRegister('pc', 1), saved.get('pc'));
    });

    void test('detach lets the guest run; a new connection attaches and stops it again', async () => {
      const counter = async (g: GdbClient) =>
        new DataView((await g.readMemory(mini.symbol('counter0'), 8)).buffer).getBigUint64(0, true);
      const before = await counter(gdb);
      await gdb.close({ detach: true });
      assert.equal(gdb.state, 'closed');
      await sleep(100);
      gdb = await connectTcp('127.0.0.1', suite.qemu.port);
      assert.equal(gdb.state, 'stopped');
      assert.ok((await counter(gdb)) > before, 'the guest ran while detached');
    });

    void test('the pipelined connect learns what the strict one does: description, stop, features, registers', async () => {
      // One client at a time: the suite's, then a strict one, then a pipelined one, then the suite's again.
      await gdb.close();
      const learn = async (pipelining: boolean | 'auto') => {
        const g = await connectTcp('127.0.0.1', suite.qemu.port, { timeoutMs: 5000, pipelining });
        try {
          const names = [
            'pc',
            'cpsr',
            'sp',
            'x0',
            'x30',
            'TTBR0_EL1',
            'TCR_EL1',
            'SCTLR',
            'MAIR_EL1',
            'VBAR',
          ];
          return {
            pipelining: g.pipelining,
            packetSize: g.packetSize,
            registers: g.registers.all.map((r) => [r.name, r.regnum, r.bitsize, r.type, r.feature, r.group]),
            documents: [...g.registers.documents].sort(([a], [b]) => a.localeCompare(b)),
            features: [...g.features].sort(([a], [b]) => a.localeCompare(b)),
            qemuFeatures: [...g.qemuFeatures].sort(),
            stop: await g.queryStopReason(),
            values: [...(await g.readRegisters(names, 1))],
            // The thread list (pipelined: the continuations asked ahead) and the other vCPU's registers
            // (pipelined: Hg with the reads), then back to the first.
            threads: await g.threads(),
            second: [...(await g.readRegisters(names, 2))],
            again: [...(await g.readRegisters(names, 1))],
            // A thread that does not exist: the selection fails and so does the read, never values.
            missing: await g.readRegisters(names, 99).then(
              (v) => `values ${[...v.values()].join(',')}`,
              (e: unknown) => (e instanceof Error ? e.name : String(e)),
            ),
            afterMissing: [...(await g.readRegisters(['pc'], 2))],
            packets: g.stats.packetsSent,
          };
        } finally {
          await g.close();
        }
      };
      const strict = await learn(false);
      const fast = await learn('auto');
      gdb = await connectTcp('127.0.0.1', suite.qemu.port, { timeoutMs: 5000 });
      assert.equal(strict.pipelining, false);
      assert.equal(fast.pipelining, true, 'the self-test passes against QEMU');
      assert.equal(fast.packetSize, strict.packetSize);
      assert.ok(strict.registers.length > 100, `${strict.registers.length} registers`);
      assert.deepEqual(fast.registers, strict.registers);
      assert.deepEqual(fast.documents, strict.documents);
      assert.ok(strict.documents.length >= 3, strict.documents.map(([n]) => n).join(', '));
      assert.deepEqual(fast.features, strict.features);
      assert.deepEqual(fast.qemuFeatures, strict.qemuFeatures);
      assert.deepEqual(fast.stop, strict.stop);
      assert.deepEqual(fast.values, strict.values);
      assert.deepEqual(fast.threads, strict.threads);
      assert.equal(fast.threads.length, 2);
      assert.deepEqual(fast.second, strict.second);
      assert.deepEqual(fast.again, fast.values);
      assert.notEqual(fast.second.find(([n]) => n === 'pc')?.[1], undefined);
      assert.equal(strict.missing, 'GdbErrorReply');
      assert.equal(fast.missing, 'GdbErrorReply');
      assert.deepEqual(fast.afterMissing, strict.afterMissing);
      assert.ok(fast.values.every(([, v]) => typeof v === 'bigint'));
    });
  });
}

void describe('gdb client against QEMU -M virt,virtualization=on', () => {
  let gdb: GdbClient;
  const suite = useQemu(() => ({ kernel: buildMini().elf, machine: 'virt,virtualization=on', cpu: 'max' }));
  before(async () => {
    gdb = await connectTcp('127.0.0.1', suite.qemu.port);
  });
  after(async () => {
    await gdb?.close();
  });

  void test('EL2 system registers appear in the XML and the vCPU starts at EL2', async () => {
    for (const name of ['HCR_EL2', 'VTTBR_EL2', 'VTCR_EL2', 'TTBR0_EL2'])
      assert.ok(gdb.registers.get(name), name);
    const cpsr = await gdb.readRegister('cpsr');
    assert.equal((cpsr >> 2n) & 3n, 2n, 'PSTATE.EL');
    const regs = await gdb.readRegisters(['HCR_EL2', 'VTTBR_EL2']);
    assert.equal(typeof regs.get('HCR_EL2'), 'bigint');
  });
});
