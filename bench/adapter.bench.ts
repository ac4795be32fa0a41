// Debug adapter benchmarks (printed by `npm run bench`, never asserted), the adapter running as its
// own process over stdio (node out/src/adapter/main.js) driven by DebugClient:
// 1. Stop -> mmuChanged after one instruction step inside handle_mmio_fault, 100 steps: median and
//    p90 of request -> stopped, stopped -> mmuChanged, request -> mmuChanged, and the adapter's own
//    computeMs; against the floor measured in the same run: a bare gdb-client instruction step (and
//    pc read) on a QEMU of its own, stepping the same handler.
// 2. The same stop -> mmuChanged on demo-16k.elf (16 KiB stage 2 and MMIO-guard granule, late-2023
//    encodings) beside demo.elf: the 16 KiB stage-2 walk, the granule-wide guard state and verdict.
// 3. Adapter peak memory (VmHWM of the adapter process) attached to a Debian arm64 kernel stopped in
//    its panic loop, after the stop's full walk + diff and a pageTable sweep of TTBR1's root.
// BENCH_ADAPTER=steps,variants,kernel picks parts (all by default); BENCH_STEPS overrides 100.
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { connectTcp } from '../src/gdb';
import type { MmuChangedEventBody, PageTableResponseBody } from '../src/shared/protocol';
import { startQemu } from '../test/harness/qemu';
import { bootKernelToPanic } from '../test/qemu/kernel-boot';
import { buildGuest, demoElf, demoLaunch, repoRoot } from '../test/dap/support';
import { demoElfFor, demoQemuArgs } from '../test/harness/demo';

const STEPS = Number(process.env.BENCH_STEPS ?? 100);
const PARTS = (process.env.BENCH_ADAPTER ?? 'steps,variants,kernel').split(',');
/** Figures written to bench/results/adapter.json as well as printed. */
const results: Record<string, number | string> = {};
const adapter = resolve(repoRoot, 'out/src/adapter/main.js');

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)];
const p90 = (xs: number[]) => sorted(xs)[Math.floor(xs.length * 0.9)];
const f = (n: number) => n.toFixed(2);

function symbol(name: string): bigint {
  // The ELF is parsed by the adapter; here nm keeps the bench independent of it.
  const out = execFileSync('aarch64-linux-gnu-nm', [demoElf], { encoding: 'utf8' });
  const m = new RegExp(`^([0-9a-f]+) \\w ${name}$`, 'm').exec(out);
  if (!m) throw new Error(`no ${name}`);
  return BigInt(`0x${m[1]}`);
}

/** The floor: gdb client alone, stepping handle_mmio_fault on its own QEMU. */
async function floor(): Promise<number[]> {
  const q = await startQemu({
    kernel: demoElf,
    machine: 'virt,virtualization=on',
    cpu: 'max',
    memory: '512M',
  });
  try {
    const gdb = await connectTcp(q.host, q.port);
    const fn = symbol('handle_mmio_fault');
    await gdb.insertBreakpoint(0, fn);
    await gdb.resume('continue');
    await gdb.waitForStop(20000);
    await gdb.removeBreakpoint(0, fn);
    await gdb.setStepFlags(7);
    const times: number[] = [];
    for (let i = 0; i < STEPS; i++) {
      const t0 = performance.now();
      await gdb.step();
      await gdb.readRegister('pc');
      times.push(performance.now() - t0);
    }
    await gdb.close();
    return times;
  } finally {
    await q.kill();
  }
}

class Client {
  readonly dc = new DebugClient('node', adapter, 'pvmfw-mmu', { stdio: ['pipe', 'pipe', 'pipe'] });
  readonly events: { e: DebugProtocol.Event; t: number }[] = [];
  async start(): Promise<void> {
    this.dc.defaultTimeout = 120_000;
    await this.dc.start();
    for (const n of ['stopped', 'mmuChanged', 'initialized'])
      this.dc.on(n, (e: DebugProtocol.Event) => this.events.push({ e, t: performance.now() }));
  }
  async next(
    name: string,
    from: number,
    timeoutMs = 120_000,
  ): Promise<{ e: DebugProtocol.Event; t: number; i: number }> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex((x, k) => k >= from && x.e.event === name);
      if (i >= 0) return { ...this.events[i], i };
      if (Date.now() > end) throw new Error(`no ${name}`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }
  get pid(): number {
    return (this.dc as unknown as { _adapterProcess: ChildProcess })._adapterProcess.pid ?? 0;
  }
}

function vmHwmMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

interface StepTimes {
  readonly reqToStop: number[];
  readonly stopToMmu: number[];
  readonly reqToMmu: number[];
  readonly compute: number[];
  readonly rssMb: number;
}

/** Launches `launch` in a fresh adapter, breaks in handle_mmio_fault, times STEPS instruction steps. */
async function adapterSteps(launch: Record<string, unknown>): Promise<StepTimes> {
  const c = new Client();
  await c.start();
  try {
    await c.dc.initializeRequest({ adapterID: 'pvmfw-mmu', pathFormat: 'path' });
    let m = c.events.length;
    await c.dc.launchRequest(launch);
    await c.next('initialized', m);
    await c.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'handle_mmio_fault' }] });
    await c.dc.configurationDoneRequest();
    await c.next('stopped', m);
    m = c.events.length;
    await c.dc.continueRequest({ threadId: 1 });
    const hit = await c.next('stopped', m);
    await c.next('mmuChanged', hit.i + 1);
    await c.dc.setFunctionBreakpointsRequest({ breakpoints: [] });
    const reqToStop: number[] = [];
    const stopToMmu: number[] = [];
    const reqToMmu: number[] = [];
    const compute: number[] = [];
    for (let i = 0; i < STEPS; i++) {
      const from = c.events.length;
      const t0 = performance.now();
      await c.dc.stepInRequest({ threadId: 1, granularity: 'instruction' });
      const stop = await c.next('stopped', from);
      const mmu = await c.next('mmuChanged', stop.i + 1);
      reqToStop.push(stop.t - t0);
      stopToMmu.push(mmu.t - stop.t);
      reqToMmu.push(mmu.t - t0);
      compute.push((mmu.e.body as MmuChangedEventBody).computeMs);
    }
    const rssMb = vmHwmMb(c.pid);
    await c.dc.disconnectRequest({ terminateDebuggee: true });
    return { reqToStop, stopToMmu, reqToMmu, compute, rssMb };
  } finally {
    await c.dc.stop();
  }
}

async function stepLatency(): Promise<void> {
  buildGuest();
  const base = await floor();
  const { reqToStop, stopToMmu, reqToMmu, compute, rssMb } = await adapterSteps(demoLaunch());
  {
    console.log(`instruction steps inside handle_mmio_fault: ${STEPS}`);
    console.log(`  floor (gdb client step + pc read)  median ${f(median(base))} ms  p90 ${f(p90(base))} ms`);
    console.log(
      `  request -> stopped                 median ${f(median(reqToStop))} ms  p90 ${f(p90(reqToStop))} ms  (${f(median(reqToStop) / median(base))}x floor)`,
    );
    console.log(
      `  stopped -> mmuChanged              median ${f(median(stopToMmu))} ms  p90 ${f(p90(stopToMmu))} ms  (target < 100 ms)`,
    );
    console.log(
      `  request -> mmuChanged              median ${f(median(reqToMmu))} ms  p90 ${f(p90(reqToMmu))} ms  (${f(median(reqToMmu) / median(base))}x floor)`,
    );
    console.log(`  adapter computeMs (walk+diff+guard) median ${f(median(compute))} ms`);
    console.log(`  adapter peak RSS ${f(rssMb)} MB`);
    Object.assign(results, {
      floorStepMedianMs: median(base),
      requestToStoppedMedianMs: median(reqToStop),
      stoppedToMmuChangedMedianMs: median(stopToMmu),
      stoppedToMmuChangedP90Ms: p90(stopToMmu),
      requestToMmuChangedMedianMs: median(reqToMmu),
      computeMedianMs: median(compute),
      demoPeakRssMb: rssMb,
    });
  }
}

/** Stop -> mmuChanged on demo-16k.elf beside demo.elf, each in its own adapter and QEMU. */
async function granuleVariants(): Promise<void> {
  buildGuest();
  const runs: [string, StepTimes][] = [
    ['demo.elf', await adapterSteps(demoLaunch())],
    [
      'demo-16k.elf',
      await adapterSteps(
        demoLaunch({ program: demoElfFor('16k'), qemuArgs: demoQemuArgs(undefined, { variant: '16k' }) }),
      ),
    ],
  ];
  console.log(`stopped -> mmuChanged by firmware variant (${STEPS} instruction steps in handle_mmio_fault):`);
  for (const [name, t] of runs)
    console.log(
      `  ${name.padEnd(14)} median ${f(median(t.stopToMmu))} ms  p90 ${f(p90(t.stopToMmu))} ms  computeMs median ${f(median(t.compute))} ms`,
    );
  const [, seed] = runs[0];
  const [, g16] = runs[1];
  Object.assign(results, {
    variantSeedStoppedToMmuChangedMedianMs: median(seed.stopToMmu),
    variant16kStoppedToMmuChangedMedianMs: median(g16.stopToMmu),
    variant16kStoppedToMmuChangedP90Ms: p90(g16.stopToMmu),
    variant16kComputeMedianMs: median(g16.compute),
  });
}

async function kernelMemory(): Promise<void> {
  console.log('booting Debian arm64 kernel to its root-fs panic...');
  const k = await bootKernelToPanic();
  const c = new Client();
  try {
    // One gdbstub connection at a time: the adapter takes over from the boot helper's client.
    await k.gdb.close();
    await c.start();
    await c.dc.initializeRequest({ adapterID: 'pvmfw-mmu', pathFormat: 'path' });
    const rssBefore = vmHwmMb(c.pid);
    const m = c.events.length;
    const t0 = performance.now();
    await c.dc.attachRequest({
      gdb: `127.0.0.1:${k.qemu.port}`,
      stopOnEntry: true,
      onDisconnect: 'pause',
    } as DebugProtocol.AttachRequestArguments);
    await c.next('initialized', m);
    await c.dc.configurationDoneRequest();
    const stop = await c.next('stopped', m);
    const mmu = await c.next('mmuChanged', stop.i + 1);
    const body = mmu.e.body as MmuChangedEventBody;
    const t1 = performance.now();
    // Expand TTBR1's root and every table under it one level down, as a tree view would.
    const root = (await c.dc.customRequest('pageTable', { regime: 'TTBR1_EL1' }))
      .body as PageTableResponseBody;
    let entries = root.entries.length;
    for (const e of root.entries.filter((x) => x.child).slice(0, 64)) {
      const sub = (await c.dc.customRequest('pageTable', { regime: 'TTBR1_EL1', table: e.child }))
        .body as PageTableResponseBody;
      entries += sub.entries.length;
    }
    console.log(
      `kernel (attach + stop walk of TTBR0/TTBR1, diff, guard): stop -> mmuChanged ${f(mmu.t - stop.t)} ms, adapter computeMs ${f(body.computeMs)} ms, attach -> mmuChanged ${f(t1 - t0)} ms`,
    );
    console.log(
      `  regimes: ${body.regimes.map((r) => `${r.regime}${r.enabled ? '' : ' (off)'}`).join(', ')}; pageTable entries listed: ${entries}`,
    );
    console.log(
      `  adapter peak RSS: ${f(vmHwmMb(c.pid))} MB (idle adapter ${f(rssBefore)} MB; target < 150 MB)`,
    );
    Object.assign(results, {
      kernelStopToMmuChangedMs: mmu.t - stop.t,
      kernelComputeMs: body.computeMs,
      kernelIdleRssMb: rssBefore,
      kernelPeakRssMb: vmHwmMb(c.pid),
    });
    await c.dc.disconnectRequest({ terminateDebuggee: false });
  } finally {
    await c.dc.stop();
    await k.qemu.kill();
  }
}

async function main(): Promise<void> {
  if (PARTS.includes('steps')) await stepLatency();
  if (PARTS.includes('variants')) await granuleVariants();
  if (PARTS.includes('kernel')) await kernelMemory();
  // A partial run (BENCH_ADAPTER) does not replace the last full run's figures.
  if (process.env.BENCH_ADAPTER !== undefined || process.env.BENCH_STEPS !== undefined) return;
  const dir = resolve(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    resolve(dir, 'adapter.json'),
    `${JSON.stringify({ date: new Date().toISOString(), loadavg: loadavg(), steps: STEPS, ...results }, null, 1)}\n`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
