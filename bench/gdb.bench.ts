// Physical read throughput of 4 MiB through QEMU's gdbstub: the client (strict and with its fast
// path) against hand-rolled minimal loops on a raw socket in the same run (the link floor). Prints
// figures; asserts nothing about timing. Run: npm run bench (or node out/bench/gdb.bench.js).
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { connectTcp } from '../src/gdb';
import { RspDecoder, encodePacket } from '../src/gdb/codec';
import { buildMini, repoRoot } from '../test/harness/mini';
import { startQemu } from '../test/harness/qemu';

const TOTAL = 4 * 1024 * 1024;
const CHUNK = 2048;
const BASE = 0x4000_0000n; // RAM of the virt machine
const ROUNDS = Number(process.env.GDB_BENCH_ROUNDS ?? 5);

interface Figure {
  readonly name: string;
  readonly seconds: number;
  readonly packets: number;
  /** CPU time this node process spent during the timed run (less sensitive to machine load). */
  readonly cpuSeconds: number;
}

interface Session {
  /** Reads 4 MiB; returns the number of request packets it took. */
  run(): Promise<number>;
  close(): Promise<void>;
}

interface Contender {
  readonly name: string;
  open(): Promise<Session>;
}

/**
 * Rounds interleave the contenders (connect, one warm-up read, one timed read, close) and each keeps
 * its best time: the machine is shared, so load changes during the run hit all of them alike.
 */
async function measureInterleaved(contenders: readonly Contender[]): Promise<Figure[]> {
  const best: Figure[] = contenders.map((c) => ({
    name: c.name,
    seconds: Infinity,
    packets: 0,
    cpuSeconds: 0,
  }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, c] of contenders.entries()) {
      const session = await c.open();
      try {
        await session.run();
        const t0 = process.hrtime.bigint();
        const cpu0 = process.cpuUsage();
        const packets = await session.run();
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        const cpu = process.cpuUsage(cpu0);
        const cpuSeconds = (cpu.user + cpu.system) / 1e6;
        if (seconds < best[i].seconds) best[i] = { name: c.name, seconds, packets, cpuSeconds };
      } finally {
        await session.close();
      }
    }
  }
  return best;
}

/**
 * The floor: a raw socket, `Qqemu.PhyMemMode:1`, then `m` requests with at most `depth` in flight,
 * framing replies with the same byte decoder and acking each with `+`; no other work.
 */
async function rawLoop(port: number, depth: number): Promise<Session> {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const decoder = new RspDecoder();
  let replies = 0;
  let wake: (() => void) | undefined;
  socket.on('data', (b: Buffer) => {
    let n = 0;
    for (const e of decoder.push(b)) if (e.type === 'packet') n++;
    if (n) socket.write('+'.repeat(n));
    replies += n;
    wake?.();
  });
  const until = async (n: number) => {
    const deadline = Date.now() + 10000;
    while (replies < n) {
      if (Date.now() > deadline) throw new Error(`raw loop: stub stopped answering (${replies}/${n})`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 1000);
      });
    }
  };
  socket.write(encodePacket('qSupported'));
  await until(1);
  socket.write(encodePacket('Qqemu.PhyMemMode:1'));
  await until(2);
  return {
    run: async () => {
      const start = replies;
      const n = TOTAL / CHUNK;
      let sent = 0;
      while (sent < n) {
        const burst: Uint8Array[] = [];
        while (sent < n && sent - (replies - start) < depth) {
          burst.push(encodePacket(`m${(BASE + BigInt(sent * CHUNK)).toString(16)},${CHUNK.toString(16)}`));
          sent++;
        }
        if (burst.length) socket.write(Buffer.concat(burst));
        // Wait until fewer than `depth` requests are in flight.
        await until(start + sent - depth + 1);
      }
      await until(start + n);
      return n;
    },
    close: async () => {
      const n = replies + 1;
      socket.write(encodePacket('Qqemu.PhyMemMode:0'));
      await until(n);
      await new Promise<void>((r) => socket.end(() => r()));
    },
  };
}

async function clientLoop(
  port: number,
  pipelining: boolean | 'auto',
  onOpen?: (safe: boolean) => void,
): Promise<Session> {
  const gdb = await connectTcp('127.0.0.1', port, { pipelining });
  onOpen?.(gdb.pipelining);
  const ranges = Array.from({ length: TOTAL / CHUNK }, (_, i) => ({
    address: BASE + BigInt(i * CHUNK),
    length: CHUNK,
  }));
  return {
    run: async () => {
      const out = await gdb.readPhysicalBatch(ranges);
      if (out.length !== ranges.length || out[0].length !== CHUNK) throw new Error('short batch');
      return ranges.length + 2; // + PhyMemMode on and off
    },
    close: () => gdb.close(),
  };
}

const mbps = (f: Figure) => TOTAL / 1e6 / f.seconds;

async function main(): Promise<void> {
  const mini = buildMini();
  const qemu = await startQemu({ kernel: mini.elf, cpu: 'max' });
  let pipeliningSafe = false;
  try {
    // QEMU serves one gdb connection at a time: each session closes before the next opens.
    const figures = await measureInterleaved([
      { name: 'floor: raw strict request/response', open: () => rawLoop(qemu.port, 1) },
      { name: 'floor: raw, 16 requests in flight', open: () => rawLoop(qemu.port, 16) },
      { name: 'client: strict request/response', open: () => clientLoop(qemu.port, false) },
      {
        name: 'client: readPhysicalBatch (connect-time self-test)',
        open: () => clientLoop(qemu.port, 'auto', (safe) => (pipeliningSafe = safe)),
      },
    ]);
    const [floorStrict, floorPiped, clientStrict, clientBatch] = figures;
    const line = (s: string) => process.stdout.write(`${s}\n`);
    line(
      `\ngdb.bench: physical read of ${TOTAL / 1048576} MiB in ${CHUNK}-byte 'm' packets, QEMU 7.2 -M virt`,
    );
    line(
      `  best of ${ROUNDS} interleaved rounds; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} on ${cpus().length} CPUs`,
    );
    for (const f of figures) {
      line(
        `  ${f.name.padEnd(52)} ${mbps(f).toFixed(1).padStart(7)} MB/s ${(f.packets / f.seconds).toFixed(0).padStart(7)} packets/s ${((f.cpuSeconds / f.packets) * 1e6).toFixed(1).padStart(6)} us node CPU/packet`,
      );
    }
    line(
      `  pipelining self-test at connect: ${pipeliningSafe ? 'passed (requests kept in flight)' : 'failed (strict)'}`,
    );
    line(
      `  client strict / floor strict        time ratio ${(clientStrict.seconds / floorStrict.seconds).toFixed(2)}x`,
    );
    line(
      `  client batch  / floor strict        time ratio ${(clientBatch.seconds / floorStrict.seconds).toFixed(2)}x (< 1: faster than the floor)`,
    );
    line(
      `  client batch  / floor 16 in flight  time ratio ${(clientBatch.seconds / floorPiped.seconds).toFixed(2)}x`,
    );
    const outDir = join(repoRoot, 'bench', 'results');
    mkdirSync(outDir, { recursive: true });
    const record = {
      date: new Date().toISOString(),
      loadavg: loadavg(),
      pipeliningSafe,
      figures: figures.map((f) => ({ ...f, mbps: mbps(f) })),
    };
    writeFileSync(join(outDir, 'gdb.json'), `${JSON.stringify(record, null, 1)}\n`);
  } finally {
    await qemu.kill();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`gdb.bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
