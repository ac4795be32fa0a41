// A remote gdbstub, simulated (issue #15; printed by `npm run bench`, never asserted): the Debian
// kernel's QEMU behind a loopback proxy that delays each direction (bench/linkProxy.ts; 5 ms one way
// by default, so a 10 ms round trip). Measured, best/median of several rounds with the load average:
// - the round trip itself (a bare request), and connect + handshake in round trips (target <= 3);
// - W1 walk + decode + classify + coalesce over the link, against its floor: four round trips (the
//   walk's dependent levels) plus the same table bytes read on the direct link at the stub's
//   pipelined rate, measured in the same run (target <= 1.5x);
// - `pvmfw-mmu walk` as a whole process over the link (its code cache written by a first run), with
//   node -e 0 in the same rounds.
// BENCH_LINK_DELAY_MS (one way) and BENCH_LINK_BPS (bytes/s each way) change the link; BENCH_REMOTE_ROUNDS
// the rounds (5).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  batchReader,
  coalesce,
  regimeFromRegisters,
  REGIME_REGISTERS,
  walk,
  type PhysRange,
  type PhysReader,
} from '../src/aarch64';
import { connectTcp, type GdbClient } from '../src/gdb';
import { classify } from '../src/pvmfw';
import { bootKernelToPanic } from '../test/qemu/kernel-boot';
import { startLinkProxy } from './linkProxy';

const repoRoot = resolve(__dirname, '../..');
const DELAY = Number(process.env.BENCH_LINK_DELAY_MS ?? 5);
const BPS = process.env.BENCH_LINK_BPS ? Number(process.env.BENCH_LINK_BPS) : undefined;
const ROUNDS = Number(process.env.BENCH_REMOTE_ROUNDS ?? 5);
/** Tables per read call, as the CLI reads (src/cli/source.ts). */
const CHUNK = 1024;

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)];
const best = (xs: number[]) => Math.min(...xs);
const f = (n: number, d = 1) => n.toFixed(d);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
const results: Record<string, number | string> = {};

function line(name: string, xs: number[], floor?: number, target?: string): string {
  const ratio = floor ? `  ${f(best(xs) / floor, 2)}x / ${f(median(xs) / floor, 2)}x floor` : '';
  return `  ${name.padEnd(40)} best ${f(best(xs), 1).padStart(8)} ms  median ${f(median(xs), 1).padStart(8)} ms${ratio}${target ? `  (${target})` : ''}`;
}

function readerOf(gdb: GdbClient): PhysReader {
  return batchReader(
    (r) => gdb.readPhysicalBatch(r),
    (a, l) => gdb.readPhysical(a, l),
    CHUNK,
  );
}

/** Runs a process to its end (killed after 60 s), keeping this event loop (the proxy) running. */
function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function main(): Promise<void> {
  console.log(`load average at start: ${load()}`);
  console.log('booting Debian arm64 kernel (W1, 1 GiB) to its root-fs panic...');
  const k = await bootKernelToPanic();
  const proxy = await startLinkProxy(k.qemu.port, {
    delayMs: DELAY,
    ...(BPS ? { bytesPerSecond: BPS } : {}),
  });
  try {
    // The direct link: the walk's tables, and the stub's pipelined rate reading exactly those bytes.
    const regs = Object.fromEntries(await k.gdb.readRegisters([...REGIME_REGISTERS.el1, 'SCTLR']));
    const regime = regimeFromRegisters('el1', regs);
    const w0 = await walk(regime, readerOf(k.gdb));
    const ranges: PhysRange[] = w0.tables.map((t) => ({ address: t.pa, length: t.entries * 8 }));
    const direct: number[] = [];
    for (let i = -1; i < ROUNDS; i++) {
      const t0 = performance.now();
      await k.gdb.readPhysicalBatch(ranges);
      if (i >= 0) direct.push(performance.now() - t0);
    }
    await k.gdb.close(); // the stub takes one client: from now on the link's

    const link = `127.0.0.1:${proxy.port}`;
    const rtt: number[] = [];
    const handshake: number[] = [];
    const walks: number[] = [];
    let packets = 0;
    for (let i = -1; i < ROUNDS; i++) {
      const t0 = performance.now();
      const gdb = await connectTcp('127.0.0.1', proxy.port, { timeoutMs: 5000, requestTimeoutMs: 20_000 });
      const t1 = performance.now();
      try {
        const r0 = performance.now();
        await gdb.request('qAttached');
        const r1 = performance.now();
        const p0 = gdb.stats.packetsSent;
        const w0t = performance.now();
        const w = await walk(regime, readerOf(gdb));
        classify(w);
        coalesce(w.store);
        const w1t = performance.now();
        packets = gdb.stats.packetsSent - p0;
        if (w.stats.tablesRead !== w0.stats.tablesRead) throw new Error('the walk over the link differs');
        if (i < 0) continue;
        handshake.push(t1 - t0);
        rtt.push(r1 - r0);
        walks.push(w1t - w0t);
      } finally {
        await gdb.close();
      }
    }
    const trip = median(rtt);
    const floor = 4 * trip + median(direct);
    console.log(
      `W1 over a simulated link (${DELAY} ms each way${BPS ? `, ${BPS} B/s` : ''}): ${w0.stats.tablesRead} tables, ${w0.stats.bytesRead} bytes, ${packets} packets per walk; ${ROUNDS} rounds; load ${load()}`,
    );
    console.log(line('round trip (qAttached)', rtt));
    console.log(line('the same bytes on the direct link', direct));
    console.log(`  link floor: 4 round trips + those bytes = ${f(floor)} ms`);
    console.log(
      line(
        'connect + handshake',
        handshake,
        undefined,
        // The proxy accepts on this host: TCP's own handshake is not delayed (a real link adds one).
        `${f(best(handshake) / best(rtt))} / ${f(median(handshake) / trip)} round trips best/median, TCP's not delayed here; target <= 3`,
      ),
    );
    console.log(line('walk + decode + classify', walks, floor, 'target <= 1.5x floor'));
    Object.assign(results, {
      delayMs: DELAY,
      rttMedianMs: trip,
      directBytesMedianMs: median(direct),
      floorMs: floor,
      handshakeMedianMs: median(handshake),
      handshakeRoundTrips: median(handshake) / trip,
      walkBestMs: best(walks),
      walkMedianMs: median(walks),
      packets,
    });

    const dist = resolve(repoRoot, 'dist/cli.js');
    const main = existsSync(dist) ? dist : resolve(repoRoot, 'out/src/cli/main.js');
    const cli: number[] = [];
    const node: number[] = [];
    // The first run writes the CLI's code cache (its own directory): not counted.
    const cache = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-bench-cache-'));
    try {
      for (let i = -1; i < Math.min(ROUNDS, 5); i++) {
        const n0 = performance.now();
        await run(process.execPath, ['-e', '0']);
        const t0 = performance.now();
        // Not spawnSync: the proxy runs in this process's event loop.
        const r = await run(process.execPath, [main, 'walk', '--gdb', link], { XDG_CACHE_HOME: cache });
        if (r.status !== 0) throw new Error(`pvmfw-mmu walk over the link failed: ${r.stderr}`);
        if (i < 0) continue;
        node.push(t0 - n0);
        cli.push(performance.now() - t0);
        if (i === 0) console.log(`  CLI: ${r.stdout.trim().split('\n').pop()}`);
      }
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
    console.log(line('node -e 0 (process floor)', node));
    console.log(line('`pvmfw-mmu walk` as a process', cli));
    results.cliMedianMs = median(cli);
    results.cliBestMs = best(cli);
    results.cliNodeMedianMs = median(node);
    results.handshakeBestRoundTrips = best(handshake) / best(rtt);
  } finally {
    await proxy.close();
    await k.gdb.close().catch(() => undefined);
    await k.qemu.kill();
  }
  if (process.env.BENCH_REMOTE_ROUNDS !== undefined || process.env.BENCH_LINK_DELAY_MS !== undefined) return;
  const dir = resolve(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    resolve(dir, 'remote.json'),
    `${JSON.stringify({ date: new Date().toISOString(), loadavg: loadavg(), rounds: ROUNDS, ...results }, null, 1)}\n`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
