// Source-level benchmarks (#13; printed by `npm run bench`, never asserted):
// 1. DWARF load: parsing the ELF, its line tables and its scopes (what the adapter does at launch and
//    the first stack trace), for the demo and for a generated ~5 MB debug ELF, against reading the file;
//    and the first stop on the big ELF: load plus what a stop asks (the function, line, frames,
//    locals and their values at many_locals, the globals), each in a fresh process (a cold start, as
//    the adapter has), with the DIEs read against the DIEs in the file.
// 2. The variables request at a stop with 50 locals (the generated ELF's many_locals, -O2), through the
//    adapter over DAP, against a bare `threads` request (the DAP round trip) in the same session.
// 3. `next` at -O2 (test/fixtures/opt's run_loop): request -> stopped, median and p90, against an
//    instruction step (stepi) in the same session.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { ElfImage } from '../src/elf';
import { buildBigDebugElf } from '../test/harness/bigDebug';
import { buildOpt, optLine, optQemuArgs, optSource } from '../test/harness/opt';
import { buildGuest, Dap, demoElf } from '../test/dap/support';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.9)];
const f = (n: number) => n.toFixed(1);

async function timed(n: number, fn: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

async function dwarfLoad(): Promise<void> {
  buildGuest();
  for (const [label, file] of [
    ['demo.elf', demoElf],
    ['generated debug ELF', buildBigDebugElf()],
  ] as const) {
    const mb = statSync(file).size / 2 ** 20;
    const read = await timed(5, () => Promise.resolve(readFileSync(file)));
    const load = await timed(5, () => {
      const image = ElfImage.parse(new Uint8Array(readFileSync(file)));
      image.scopes();
      return Promise.resolve(image.hasDebugLines);
    });
    console.log(
      `DWARF load of ${label} (${f(mb)} MB): median ${f(median(load))} ms (read alone ${f(median(read))} ms, ${f(median(load) / Math.max(0.01, median(read)))}x)`,
    );
  }
}

/** Run in a child process (`node out/bench/source.bench.js first-stop ELF`): one cold first stop. */
async function firstStopChild(file: string): Promise<void> {
  const t0 = performance.now();
  const bytes = new Uint8Array(readFileSync(file));
  const t1 = performance.now();
  const image = ElfImage.parse(bytes);
  const fn = image.symbols().find((s) => s.name === 'many_locals');
  if (!fn) throw new Error('no many_locals');
  const pc = fn.value + 8n;
  image.functionAt(pc);
  image.lineForAddress(pc);
  const program = image.scopes();
  if (!program) throw new Error('no DWARF');
  const t2 = performance.now();
  const frames = program.framesAt(pc);
  const vars = program.variables(frames[0]);
  const fc = {
    pc,
    register: () => undefined,
    read: (a: bigint, n: number) => Promise.resolve(image.bytesAt(a, n) ?? new Uint8Array(n)),
  };
  for (const v of vars) await program.value(v, fc, frames);
  program.globals();
  const t3 = performance.now();
  console.log(
    JSON.stringify({
      read: t1 - t0,
      load: t2 - t1,
      stop: t3 - t2,
      locals: vars.length,
      dies: program.index.diesRead,
    }),
  );
}

function firstStop(): void {
  const file = buildBigDebugElf();
  const runs: { read: number; load: number; stop: number; locals: number; dies: number }[] = [];
  for (let i = 0; i < 7; i++) {
    const out = execFileSync(process.execPath, [__filename, 'first-stop', file], { encoding: 'utf8' });
    runs.push(JSON.parse(out.trim().split('\n').pop() ?? '{}') as (typeof runs)[number]);
  }
  const total = runs.map((r) => r.load + r.stop);
  const read = median(runs.map((r) => r.read));
  // Every DIE of the file, for the share the first stop read.
  let all = 0;
  const whole = ElfImage.parse(new Uint8Array(readFileSync(file)));
  const index = whole.scopes()!.index;
  for (const cu of whole.compileUnits()) {
    const stack = [index.unit(cu.offset).root];
    while (stack.length) {
      const d = stack.pop()!;
      all++;
      stack.push(...d.children);
    }
  }
  console.log(
    `first stop on the generated debug ELF, cold (load + function, line, frames, ${runs[0].locals} locals with values, globals): median ${f(median(total))} ms, p90 ${f(p90(total))} ms (load ${f(median(runs.map((r) => r.load)))} ms, stop ${f(median(runs.map((r) => r.stop)))} ms; reading the file ${f(read)} ms, ${f(median(total) / Math.max(0.01, read))}x); DIEs read ${runs[0].dies} of ${all}`,
  );
}

async function manyLocals(): Promise<void> {
  const elf = buildBigDebugElf();
  const dap = new Dap();
  await dap.start();
  try {
    await dap.launch(
      { program: elf, qemu: 'qemu-system-aarch64', qemuArgs: optQemuArgs(elf), stopOnEntry: false },
      async () => {
        await dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'many_locals' }] });
      },
    );
    const frame = (await dap.dc.stackTraceRequest({ threadId: 1 })).body.stackFrames[0];
    let count = 0;
    const vars = await timed(21, async () => {
      const sc = await dap.dc.scopesRequest({ frameId: frame.id });
      const locals = sc.body.scopes.find((s) => s.name === 'Locals');
      if (!locals) throw new Error('no Locals scope');
      count = (await dap.dc.variablesRequest({ variablesReference: locals.variablesReference })).body
        .variables.length;
    });
    const rtt = await timed(21, () => dap.dc.threadsRequest());
    console.log(
      `variables at a stop with ${count} locals (many_locals, -O2): median ${f(median(vars))} ms, p90 ${f(p90(vars))} ms; DAP round trip (threads) ${f(median(rtt))} ms`,
    );
  } finally {
    await dap.dc.disconnectRequest({ terminateDebuggee: true }).catch(() => undefined);
    await dap.stop();
  }
}

async function nextAtO2(): Promise<void> {
  const elf = buildOpt(5);
  const dap = new Dap();
  await dap.start();
  try {
    await dap.launch(
      { program: elf, qemu: 'qemu-system-aarch64', qemuArgs: optQemuArgs(elf), stopOnEntry: false },
      async () => {
        await dap.dc.setBreakpointsRequest({
          source: { path: optSource },
          breakpoints: [{ line: optLine('run_loop: mix call') }],
        });
      },
    );
    await dap.dc.setBreakpointsRequest({ source: { path: optSource }, breakpoints: [] });
    const step = (granularity?: 'instruction') => async () => {
      const m = dap.mark();
      await dap.dc.nextRequest({ threadId: 1, ...(granularity ? { granularity } : {}) });
      await dap.nextStop(m);
    };
    const next = await timed(12, step());
    const stepi = await timed(12, step('instruction'));
    console.log(
      `next at -O2 (run_loop): request -> stopped median ${f(median(next))} ms, p90 ${f(p90(next))} ms; stepi ${f(median(stepi))} ms (${f(median(next) / median(stepi))}x)`,
    );
  } finally {
    await dap.dc.disconnectRequest({ terminateDebuggee: true }).catch(() => undefined);
    await dap.stop();
  }
}

async function main(): Promise<void> {
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} on ${cpus().length} CPUs`,
  );
  await dwarfLoad();
  firstStop();
  await manyLocals();
  await nextAtO2();
}

void (process.argv[2] === 'first-stop' ? firstStopChild(process.argv[3]) : main()).then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
