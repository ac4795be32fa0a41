// The local fast path against real QEMU: guest RAM read from QEMU's memory on this host (its shared
// memfd backend, or /proc/PID/mem) must give exactly the bytes the gdbstub gives, and the bytes QEMU
// itself writes out (pmemsave: truth from outside both readers). Device memory stays behind the
// gdbstub, a running target is refused as the stub refuses it, a user who may not read QEMU's memory
// gets the gdbstub and the reason, and nothing is left in /dev/shm.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  batchReader,
  regimeFromRegisters,
  REGIME_REGISTERS,
  walk,
  type PhysRange,
  type WalkResult,
} from '../../src/aarch64';
import { connectTcp, GdbStateError, type GdbClient } from '../../src/gdb';
import { pidListeningOn } from '../../src/target/localQemu';
import { RamPort } from '../../src/target/ramPort';
import { startQemu, type QemuInstance } from '../harness/qemu';
import { bootKernelToPanic, type BootedKernel } from './kernel-boot';
import { buildGuest, demoQemu, loadSymbols, repoRoot, sym } from './firmware-support';

const cli = resolve(repoRoot, 'out/src/cli/main.js');
const shmBefore = new Set(readdirSync('/dev/shm'));

/** The walk's tables as ranges (every byte the walk decoded). */
function tableRanges(w: WalkResult): PhysRange[] {
  return w.tables.map((t) => ({ address: t.pa, length: t.entries * 8 }));
}

async function walkEl1(
  gdb: GdbClient,
  read: (r: readonly PhysRange[]) => Promise<Uint8Array[]>,
): Promise<WalkResult> {
  const regs = Object.fromEntries(await gdb.readRegisters([...REGIME_REGISTERS.el1, 'SCTLR']));
  return walk(
    regimeFromRegisters('el1', regs),
    batchReader(read, (a, l) => read([{ address: a, length: l }]).then((r) => r[0]), 256),
  );
}

/** Every table read through the port (locally) and through the stub: equal, and no packet for the first. */
async function sameBothWays(gdb: GdbClient, port: RamPort, w: WalkResult): Promise<Uint8Array[]> {
  const ranges = tableRanges(w);
  const p0 = gdb.stats.packetsSent;
  const r0 = port.localReads.reads;
  const local = await port.readPhysicalBatch(ranges);
  assert.equal(gdb.stats.packetsSent - p0, 0, 'RAM tables are read without a packet');
  assert.equal(port.localReads.reads - r0, ranges.length);
  const stub = await gdb.readPhysicalBatch(ranges);
  ranges.forEach((r, i) =>
    assert.deepEqual(local[i], stub[i], `table at 0x${r.address.toString(16)} differs between the paths`),
  );
  return local;
}

void describe('local fast path: Debian kernel on a shared memory backend', () => {
  let k: BootedKernel | undefined;
  let port: RamPort;
  let w: WalkResult;

  before(async () => {
    k = await bootKernelToPanic();
    // No pid given: found as for a QEMU somebody else started (its command line, else its socket).
    port = await RamPort.open(k.gdb, { host: '127.0.0.1', port: k.qemu.port });
    w = await walkEl1(k.gdb, (r) => k!.gdb.readPhysicalBatch(r));
  });
  after(async () => {
    port?.close();
    await k?.gdb.close();
    await k?.qemu.kill();
  });

  void test("the path is QEMU's shared memory, of the QEMU behind the socket, and says so", () => {
    assert.equal(pidListeningOn(k!.qemu.port), k!.qemu.pid);
    assert.equal(pidListeningOn(k!.qemu.port, { socketsOnly: true }), k!.qemu.pid);
    assert.equal(port.memoryPath.path, 'shared-memory', port.memoryPath.detail);
    assert.match(port.memoryPath.detail, new RegExp(`shared memory backend \\(pid ${k!.qemu.pid}\\)`));
    assert.match(port.memoryPath.detail, /guest RAM \(1024 MiB\)/);
  });

  void test('a newer QEMU whose command line names the port but does not listen on it is not used', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-decoy-'));
    // Its chardev's file name ends in `=PORT`: the command line names the port, its own gdbstub
    // listens elsewhere, and its RAM (a halted machine with no kernel) differs from the kernel's.
    const decoy = await startQemu({
      kernel: '', // unused: `args` gives the machine
      args: ['-M', 'virt', '-cpu', 'cortex-a57', '-m', '64M'],
      extraArgs: ['-chardev', `file,id=decoy,path=${join(dir, `gdb=${k!.qemu.port}`)}`],
    });
    try {
      assert.equal(pidListeningOn(k!.qemu.port), decoy.pid, 'the newest QEMU naming the port is tried first');
      const again = await RamPort.open(k!.gdb, { host: '127.0.0.1', port: k!.qemu.port });
      try {
        assert.equal(again.memoryPath.path, 'shared-memory', again.memoryPath.detail);
        assert.match(again.memoryPath.detail, new RegExp(`\\(pid ${k!.qemu.pid}\\)`));
        await sameBothWays(k!.gdb, again, w);
      } finally {
        again.close();
      }
    } finally {
      await decoy.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('the walk through the fast path equals the gdbstub walk, table by table and byte by byte', async () => {
    const gdb = k!.gdb;
    assert.ok(w.tables.length > 400, `a kernel walk has hundreds of tables (${w.tables.length})`);
    const p0 = gdb.stats.packetsSent;
    const fast = await walkEl1(gdb, (r) => port.readPhysicalBatch(r));
    // Registers cost packets; the tables none.
    assert.ok(gdb.stats.packetsSent - p0 < 40, `${gdb.stats.packetsSent - p0} packets for a local walk`);
    assert.deepEqual(
      fast.tables.map((t) => [t.level, t.pa]),
      w.tables.map((t) => [t.level, t.pa]),
    );
    assert.equal(fast.store.length, w.store.length);
    await sameBothWays(gdb, port, w);
  });

  void test('ranges in any order, repeated, overlapping or read into a scratch buffer are the stub’s bytes', async () => {
    const gdb = k!.gdb;
    const tables = tableRanges(w);
    // Reversed (the reader sorts them to merge neighbours), each 7th again, and ranges that straddle
    // two tables (adjacent tables merge into one pread: their views must still be cut right).
    const ranges = [
      ...tables.slice().reverse(),
      ...tables.filter((_, i) => i % 7 === 0),
      ...tables.slice(0, 40).map((r) => ({ address: r.address + 2048n, length: 4096 })),
    ];
    const scratch = new Uint8Array(ranges.length * 4096);
    for (const into of [undefined, scratch]) {
      const local = await port.readPhysicalBatch(ranges, into);
      const stub = await gdb.readPhysicalBatch(ranges);
      ranges.forEach((r, i) =>
        assert.deepEqual(
          local[i],
          stub[i],
          `0x${r.address.toString(16)} (${into ? 'scratch' : 'own buffer'})`,
        ),
      );
      if (into) {
        // All but a range across the end of RAM (1 GiB from 0x40000000): that one is the stub's.
        const ramEnd = 0x4000_0000n + 2n ** 30n;
        assert.deepEqual(
          ranges.filter((_, i) => local[i].buffer !== scratch.buffer),
          ranges.filter((r) => r.address + BigInt(r.length) > ramEnd),
          'read into the scratch given',
        );
      }
    }
  });

  void test("QEMU's own dump of the tables (pmemsave) agrees with the fast path", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-fast-'));
    try {
      const ranges = tableRanges(w);
      // The root and every 16th table: each a monitor round trip and a file.
      const pick = ranges.filter((_, i) => i % 16 === 0);
      const local = await port.readPhysicalBatch(pick);
      for (const [i, r] of pick.entries()) {
        const file = join(dir, `t${i}.bin`);
        // Quoted: HMP would read `4096 /tmp/...` as a division.
        await k!.gdb.monitor(`pmemsave 0x${r.address.toString(16)} ${r.length} "${file}"`);
        assert.deepEqual(
          new Uint8Array(readFileSync(file)),
          local[i],
          `pmemsave of 0x${r.address.toString(16)}`,
        );
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  void test('device memory and mixed batches go through the gdbstub, in order', async () => {
    const gdb = k!.gdb;
    const uartFr = 0x0900_0018n; // PL011 UARTFR: a read has no side effect
    const r0 = port.localReads.reads;
    const p0 = gdb.stats.packetsSent;
    const ram = w.tables[0].pa;
    const [a, dev, b] = await port.readPhysicalBatch([
      { address: ram, length: 64 },
      { address: uartFr, length: 4 },
      { address: ram + 64n, length: 64 },
    ]);
    assert.ok(gdb.stats.packetsSent > p0, 'the device read took packets');
    assert.equal(port.localReads.reads - r0, 2, 'only the RAM ranges were read locally');
    const stub = await gdb.readPhysicalBatch([
      { address: ram, length: 128 },
      { address: uartFr, length: 4 },
    ]);
    assert.deepEqual([...a, ...b], [...stub[0]]);
    assert.deepEqual(dev, stub[1]);
    // Straddling the end of RAM: not inside one local block, so the stub answers it.
    const p1 = gdb.stats.packetsSent;
    const r1 = port.localReads.reads;
    await port.readPhysicalBatch([{ address: 0x4000_0000n + 2n ** 30n - 8n, length: 16 }]);
    assert.ok(gdb.stats.packetsSent > p1);
    assert.equal(port.localReads.reads, r1);
  });

  void test('a running target is refused exactly as the gdbstub refuses it', async () => {
    const gdb = k!.gdb;
    await gdb.resume('continue');
    try {
      await assert.rejects(port.readPhysical(w.tables[0].pa, 8), GdbStateError);
      await assert.rejects(port.readPhysicalBatch(tableRanges(w).slice(0, 2)), GdbStateError);
    } finally {
      await gdb.interrupt(5000);
    }
    assert.equal((await port.readPhysical(w.tables[0].pa, 8)).length, 8);
  });

  void test("closing the connection lets go of QEMU's RAM (the memfd goes with QEMU)", async () => {
    const memfds = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith('/memfd:');
        } catch {
          return false;
        }
      });
    assert.ok(memfds().length > 0, 'the fast path holds the memfd while connected');
    await k!.gdb.close();
    assert.deepEqual(memfds(), []);
  });
});

void describe('local fast path: demo firmware with private RAM (/proc/PID/mem), and the CLI', () => {
  let q: QemuInstance | undefined;
  let gdb: GdbClient | undefined;

  before(async () => {
    buildGuest();
    q = await startQemu(demoQemu('normal', { sharedRam: false }));
    gdb = await connectTcp(q.host, q.port);
    const fn = sym(loadSymbols(), 'handle_mmio_fault');
    await gdb.insertBreakpoint(0, fn);
    await gdb.resume('continue');
    await gdb.waitForStop(20000);
    await gdb.removeBreakpoint(0, fn);
  });
  after(async () => {
    await gdb?.close();
    await q?.kill();
  });

  void test('without a shared backend RAM is read through /proc/PID/mem, equal to the stub', async () => {
    assert.ok(!q!.commandLine.join(' ').includes('memory-backend'));
    const port = await RamPort.open(gdb!, { host: '127.0.0.1', port: q!.port });
    try {
      assert.equal(port.memoryPath.path, 'proc-mem', port.memoryPath.detail);
      assert.match(port.memoryPath.detail, new RegExp(`/proc/${q!.pid}/mem`));
      const w = await walkEl1(gdb!, (r) => port.readPhysicalBatch(r));
      assert.ok(w.tables.length >= 4 && w.store.length > 0);
      await sameBothWays(gdb!, port, w);
    } finally {
      port.close();
    }
  });

  void test('the CLI says which path it took; the fast path, the gdbstub and another user agree', async () => {
    await gdb!.close(); // QEMU's gdbstub takes one client: the CLI's
    const target = `127.0.0.1:${q!.port}`;
    const run = (env: Record<string, string> = {}, asNobody = false) => {
      const args = [cli, 'walk', '--gdb', target, '--json'];
      const r = asNobody
        ? spawnSync(
            'setpriv',
            ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, ...args],
            { encoding: 'utf8' },
          )
        : spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...env } });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as {
        leaves: unknown[];
        stats: { packets: number; tablesRead: number };
        memoryPath: { path: string; detail: string };
      };
    };
    const fast = run();
    assert.equal(fast.memoryPath.path, 'proc-mem');
    const stub = run({ PVMFW_MMU_LOCAL_RAM: 'off' });
    assert.equal(stub.memoryPath.path, 'gdbstub');
    assert.match(stub.memoryPath.detail, /disabled by PVMFW_MMU_LOCAL_RAM/);
    assert.deepEqual(fast.leaves, stub.leaves);
    assert.ok(stub.stats.packets > fast.stats.packets, 'the stub walk took packets, the local one fewer');
    assert.equal(fast.stats.packets, 0);
    // The shipped command (dist/cli.js: its bundle through V8's code cache, `npm test` builds it) gives
    // the same walk, the first run writing the cache and the second running from it.
    const shipped = resolve(repoRoot, 'dist/cli.js');
    assert.ok(existsSync(shipped), 'dist/cli.js is built (npm run build)');
    const cacheHome = mkdtempSync(join(tmpdir(), 'pvmfw-cli-cache-'));
    try {
      for (const round of ['writes the cache', 'runs from it']) {
        const r = spawnSync(process.execPath, [shipped, 'walk', '--gdb', target, '--json'], {
          encoding: 'utf8',
          env: { ...process.env, XDG_CACHE_HOME: cacheHome },
        });
        assert.equal(r.status, 0, `${round}: ${r.stderr}`);
        const got = JSON.parse(r.stdout) as { leaves: unknown[]; memoryPath: { path: string } };
        assert.deepEqual(got.leaves, fast.leaves, round);
        assert.equal(got.memoryPath.path, 'proc-mem');
        assert.ok(
          readdirSync(join(cacheHome, 'pvmfw-mmu')).some((f) => f.startsWith('cli-walk-')),
          round,
        );
      }
    } finally {
      rmSync(cacheHome, { recursive: true, force: true });
    }
    const text = spawnSync(process.execPath, [cli, 'walk', '--gdb', target], { encoding: 'utf8' });
    assert.match(text.stdout, /tables read .* in [\d.]+ ms; memory via proc-mem\n/);
    if (process.getuid?.() === 0) {
      // A user who may not look into QEMU (root's) gets the gdbstub, the reason, and the same walk.
      const other = run({}, true);
      assert.equal(other.memoryPath.path, 'gdbstub');
      assert.match(other.memoryPath.detail, /another user/);
      assert.deepEqual(other.leaves, fast.leaves);
    }
  });
});

void describe('local fast path: nothing left behind', () => {
  void test('no file in /dev/shm after the suites (the backend is a memfd)', () => {
    const left = readdirSync('/dev/shm').filter(
      (f) => !shmBefore.has(f) && /pvmfw|qemu|memory-backend/.test(f),
    );
    assert.deepEqual(left, []);
  });
});
