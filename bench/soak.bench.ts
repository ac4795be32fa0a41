// Soak benchmark (issue #10), printed by `npm run bench`, never asserted on timing: one adapter
// session (node out/src/adapter/main.js over DAP, launching QEMU with the demo firmware) takes
// 10,000 instruction steps and 1,000 continues, and the figures say whether the adapter leaks or
// slows down over a long session: its RSS (VmRSS from /proc) after warm-up and at the end, and the
// median request -> stopped latency of the first and the last 10% of the steps and of the continues.
//
// The continues stop at a function breakpoint on uart_putc, which the firmware calls once per
// console character: about 2,350 after the MMU is on, where the soak starts (the first run to
// mmio_guard_info), enough for the warm-up and the 1,000 rounds. A round is 10 instruction steps
// then 1 continue, so the first and the last windows both sample the same code (uart_putc, emit,
// print) at the two ends of the session. After every stop the bench asks what VS Code asks
// (threads, stackTrace, scopes, the first scope's variables) and waits for the stop's mmuChanged
// before the next request.
//
// The guest does not stand still meanwhile: by the last window it has taken lazy-MMIO faults and
// split blocks, so the adapter walks more tables at a stop than in the first window. The baseline
// measured in the same run separates the two: a fresh adapter session, run to the guest state the
// last window started from (the same uart_putc call, by counting them), takes the same rounds.
// last/fresh is the adapter's own drift; last/first mixes it with the guest's.
//
// Exits non-zero only if a session breaks: a request that does not stop within STOP_TIMEOUT_MS, a
// continue that stops elsewhere than the breakpoint, an error response, the adapter exiting.
// Counts: SOAK_STEPS, SOAK_CONTINUES (the issue's 10,000 and 1,000 by default; the firmware prints
// too little for more than about 1,900 continues after the warm-up).
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import type { MmuChangedEventBody } from '../src/shared/protocol';
// Not test/dap/support: it registers node:test hooks on import, which make this process a test run.
import { demoElf, demoQemuArgs, repoRoot } from '../test/harness/demo';

/** As test/dap/support's adapterMain and demoLaunch. */
const adapterMain = resolve(repoRoot, process.env.PVMFW_MMU_ADAPTER ?? 'out/src/adapter/main.js');
const launchArgs: DebugProtocol.LaunchRequestArguments & Record<string, unknown> = {
  program: demoElf,
  qemu: 'qemu-system-aarch64',
  qemuArgs: demoQemuArgs(),
  stopOnEntry: true,
};

const STEPS = Number(process.env.SOAK_STEPS ?? 10_000);
const CONTINUES = Number(process.env.SOAK_CONTINUES ?? 1_000);
/**
 * Rounds before the first RSS sample: JIT, caches, and V8 sizing its young generation, which under
 * the adapter's allocation rate grows RSS by some 15 MB over the first ~40 rounds and then stays
 * (gone with --max-semi-space-size=1): a cost of the heap's configuration, not a leak.
 */
const WARMUP_ROUNDS = 100;
const STOP_TIMEOUT_MS = 10_000;
/** Where the soak starts: the first call after mmu_enable. */
const START_AT = 'mmio_guard_info';
/** What the continues stop at: called once per console character. */
const BREAK_AT = 'uart_putc';

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)];
const p99 = (xs: number[]) => sorted(xs)[Math.floor(xs.length * 0.99)];
const f = (n: number) => n.toFixed(2);
const mb = (kb: number) => kb / 1024;
/** Steps in round r, spreading STEPS evenly over CONTINUES rounds. */
const stepsIn = (r: number) =>
  Math.round(((r + 1) * STEPS) / CONTINUES) - Math.round((r * STEPS) / CONTINUES);

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no ${field} for pid ${pid}`);
  return Number(m[1]);
}

interface Stopped {
  t: number;
  body: DebugProtocol.StoppedEvent['body'];
}

/** Latencies of the measured rounds (ms), and the adapter's RSS after each round (kB). */
interface Series {
  step: number[];
  cont: number[];
  /** stopped -> mmuChanged of the steps: the adapter's walk + diff of the stop. */
  stepMmu: number[];
  rssKb: number[];
}

const newSeries = (): Series => ({ step: [], cont: [], stepMmu: [], rssKb: [] });

/**
 * The adapter over DAP, keeping counters and the latest stop and mmuChanged only: 11,000 stops'
 * event bodies kept in this process would make its own GC part of what is measured.
 */
class Session {
  readonly dc = new DebugClient('node', adapterMain, 'pvmfw-mmu', { stdio: ['pipe', 'pipe', 'pipe'] });
  stops = 0;
  lastStop: Stopped | undefined;
  mmus = 0;
  lastMmuAt = 0;
  /** uart_putc calls entered so far (stops at its first instruction, by a step or the breakpoint). */
  entries = 0;
  private bpId = -1;
  private bpAddress = '';
  private dead: string | undefined;
  /** The adapter process has exited. */
  private gone = false;
  /** The end of what the adapter and the guest printed, for the report when the session breaks. */
  private tail = '';
  private waiters: (() => void)[] = [];

  constructor(readonly name: string) {}

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private note(text: string): void {
    this.tail = (this.tail + text).slice(-3000);
  }

  get process(): ChildProcess {
    return (this.dc as unknown as { _adapterProcess: ChildProcess })._adapterProcess;
  }

  rssKb(field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
    return statusKb(this.process.pid ?? 0, field);
  }

  async start(): Promise<void> {
    this.dc.defaultTimeout = STOP_TIMEOUT_MS;
    await this.dc.start();
    this.dc.on('stopped', (e: DebugProtocol.StoppedEvent) => {
      this.stops++;
      this.lastStop = { t: performance.now(), body: e.body };
      this.wake();
    });
    this.dc.on('mmuChanged', (e: DebugProtocol.Event) => {
      if (typeof (e.body as MmuChangedEventBody).computeMs !== 'number') return;
      this.mmus++;
      this.lastMmuAt = performance.now();
      this.wake();
    });
    this.dc.on('output', (e: DebugProtocol.OutputEvent) => this.note(e.body.output));
    for (const name of ['terminated', 'exited'])
      this.dc.on(name, () => {
        this.dead ??= `the adapter sent '${name}'`;
        this.wake();
      });
    this.process.stderr?.on('data', (d: Buffer) => this.note(`[adapter stderr] ${d.toString()}`));
    // Writing to a dead adapter fails with EPIPE: the exit handler below reports that.
    this.process.stdin?.on('error', (e) => this.note(`[adapter stdin] ${e.message}\n`));
    this.process.on('exit', (code, signal) => {
      this.gone = true;
      this.dead ??= `the adapter exited (${signal ?? `code ${String(code)}`})`;
      this.wake();
    });
  }

  /** Launches the demo, runs to START_AT, and leaves one breakpoint: BREAK_AT. */
  async launch(): Promise<void> {
    await this.ask(
      'initialize',
      this.dc.initializeRequest({
        adapterID: 'pvmfw-mmu',
        linesStartAt1: true,
        columnsStartAt1: true,
        pathFormat: 'path',
      }),
    );
    // The adapter sends initialized before it answers launch: configure right after.
    await this.ask('launch', this.dc.launchRequest(launchArgs), 60_000);
    // Only breakpoints stop the continues: the lazy-MMIO faults on the way are the guest's path.
    await this.ask('setExceptionBreakpoints', this.dc.setExceptionBreakpointsRequest({ filters: [] }));
    await this.setBreakpoint(START_AT);
    await this.cycle('entry stop', () => this.dc.configurationDoneRequest(), false, 60_000);
    await this.continueToBreakpoint(`continue to ${START_AT}`, false);
    await this.setBreakpoint(BREAK_AT);
    this.entries = 0;
  }

  private async setBreakpoint(name: string): Promise<void> {
    const r = await this.ask(
      'setFunctionBreakpoints',
      this.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name }] }),
    );
    const bp = r.body.breakpoints[0];
    if (bp?.id === undefined || !bp.verified || !bp.instructionReference)
      throw new Error(`no function breakpoint at ${name}: ${bp?.message ?? '?'}`);
    this.bpId = bp.id;
    this.bpAddress = bp.instructionReference;
  }

  /** Resolves once `cond` holds; rejects when the session dies or `timeoutMs` passes first. */
  until(cond: () => boolean, what: string, timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
    return new Promise((res, rej) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        rej(this.broken(`${what}: nothing within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (this.dead) {
          clearTimeout(timer);
          rej(this.broken(`${what}: ${this.dead}`));
        } else if (cond()) {
          clearTimeout(timer);
          res();
        } else this.waiters.push(check);
      };
      check();
    });
  }

  /**
   * A request's answer, failing when the adapter dies or does not answer within `timeoutMs`:
   * DebugClient's requests have no timeout, and a request the dead adapter never answers would
   * otherwise end this process with status 0 once nothing else is pending.
   */
  async ask<T>(what: string, request: Promise<T>, timeoutMs = STOP_TIMEOUT_MS): Promise<T> {
    let answer: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    request.then(
      (value) => {
        answer = { ok: true, value };
        this.wake();
      },
      (error: unknown) => {
        answer = { ok: false, error };
        this.wake();
      },
    );
    await this.until(() => answer !== undefined, what, timeoutMs);
    const a = answer as unknown as { ok: true; value: T } | { ok: false; error: unknown };
    if (!a.ok) throw this.broken(`${what}: ${String(a.error)}`);
    return a.value;
  }

  broken(why: string): Error {
    return new Error(`${this.name} session broken: ${why}\n--- the end of its output ---\n${this.tail}\n---`);
  }

  /**
   * Sends `request` and waits for the stop it causes and that stop's mmuChanged, asking in between
   * what VS Code asks at a stop (`followUps`). Returns request -> stopped and stopped -> mmuChanged.
   */
  async cycle(
    what: string,
    request: () => Promise<unknown>,
    followUps: boolean,
    timeoutMs = STOP_TIMEOUT_MS,
  ): Promise<{ ms: number; mmuMs: number; stop: Stopped }> {
    const stops = this.stops;
    const mmus = this.mmus;
    const t0 = performance.now();
    await this.ask(what, request());
    await this.until(() => this.stops > stops, what, timeoutMs);
    const stop = this.lastStop as Stopped;
    if (followUps) await this.followUps(what, stop);
    await this.until(() => this.mmus > mmus, `${what} (its mmuChanged)`, timeoutMs);
    return { ms: stop.t - t0, mmuMs: this.lastMmuAt - stop.t, stop };
  }

  private async followUps(what: string, stop: Stopped): Promise<void> {
    await this.ask(`${what}: threads`, this.dc.threadsRequest());
    const st = await this.ask(
      `${what}: stackTrace`,
      this.dc.stackTraceRequest({ threadId: stop.body.threadId ?? 1, startFrame: 0, levels: 20 }),
    );
    const top = st.body.stackFrames[0];
    if (!top) throw this.broken(`${what}: empty stack trace`);
    if (top.instructionPointerReference === this.bpAddress && stop.body.reason === 'step') this.entries++;
    const scopes = (await this.ask(`${what}: scopes`, this.dc.scopesRequest({ frameId: top.id }))).body
      .scopes;
    if (scopes[0])
      await this.ask(
        `${what}: variables`,
        this.dc.variablesRequest({ variablesReference: scopes[0].variablesReference }),
      );
  }

  step(what: string): ReturnType<Session['cycle']> {
    const threadId = this.lastStop?.body.threadId ?? 1;
    return this.cycle(what, () => this.dc.stepInRequest({ threadId, granularity: 'instruction' }), true);
  }

  /** A continue that must stop at the breakpoint again: anything else means the guest left the path. */
  async continueToBreakpoint(what: string, followUps = true): ReturnType<Session['cycle']> {
    const threadId = this.lastStop?.body.threadId ?? 1;
    const r = await this.cycle(what, () => this.dc.continueRequest({ threadId }), followUps);
    if (!r.stop.body.hitBreakpointIds?.includes(this.bpId))
      throw this.broken(`${what} stopped elsewhere: ${JSON.stringify(r.stop.body)}`);
    this.entries++;
    return r;
  }

  /** Round r: its steps, then a continue; figures into `out` unless warming up. */
  async round(r: number, out?: Series): Promise<void> {
    for (let i = 0; i < stepsIn(r); i++) {
      const x = await this.step(`instruction step ${out ? out.step.length + 1 : 'warm-up'}`);
      out?.step.push(x.ms);
      out?.stepMmu.push(x.mmuMs);
    }
    const x = await this.continueToBreakpoint(`continue ${out ? out.cont.length + 1 : 'warm-up'}`);
    out?.cont.push(x.ms);
    out?.rssKb.push(this.rssKb());
  }

  async close(): Promise<void> {
    await this.ask('disconnect', this.dc.disconnectRequest({ terminateDebuggee: true }), 5000).catch(
      () => undefined,
    );
    // Not dc.stop(): it sends disconnect again and waits for an answer without a timeout. The
    // adapter ends itself after disconnect; a hung one gets SIGTERM (its QEMU dies with it), and
    // SIGKILL if its event loop is too stuck to run the SIGTERM handler.
    for (const signal of [undefined, 'SIGTERM', 'SIGKILL'] as const) {
      if (signal) this.process.kill(signal);
      await new Promise<void>((res) => {
        if (this.gone) return res();
        const timer = setTimeout(res, 5000);
        this.process.once('exit', () => {
          clearTimeout(timer);
          res();
        });
      });
      if (this.gone) return;
    }
  }
}

/** The soak: warm-up, then CONTINUES rounds; `lastAt` = uart_putc entries when the last window began. */
async function soak(
  window: number,
): Promise<{ out: Series; rssLaunchKb: number; rssStartKb: number; hwmKb: number; lastAt: number }> {
  const s = new Session('soak');
  await s.start();
  try {
    await s.launch();
    const rssLaunchKb = s.rssKb();
    await s.continueToBreakpoint(`continue to ${BREAK_AT}`);
    for (let r = 0; r < WARMUP_ROUNDS; r++) await s.round(r);
    const out = newSeries();
    const rssStartKb = s.rssKb();
    let lastAt = 0;
    for (let r = 0; r < CONTINUES; r++) {
      if (r === CONTINUES - window) lastAt = s.entries;
      await s.round(r, out);
    }
    return { out, rssLaunchKb, rssStartKb, hwmKb: s.rssKb('VmHWM'), lastAt };
  } finally {
    await s.close();
  }
}

/**
 * A fresh adapter, warmed up as the soak was, run on (continues alone) to the `entries`-th uart_putc
 * call, then the last window's rounds.
 */
async function fresh(entries: number, window: number): Promise<{ out: Series; rssStartKb: number }> {
  const s = new Session('fresh');
  await s.start();
  try {
    await s.launch();
    await s.continueToBreakpoint(`continue to ${BREAK_AT}`);
    for (let r = 0; r < WARMUP_ROUNDS; r++) await s.round(r);
    while (s.entries < entries) await s.continueToBreakpoint(`fast-forward continue ${s.entries + 1}`, false);
    const rssStartKb = s.rssKb();
    const out = newSeries();
    for (let r = CONTINUES - window; r < CONTINUES; r++) await s.round(r, out);
    return { out, rssStartKb };
  } finally {
    await s.close();
  }
}

async function main(): Promise<void> {
  if (!(Number.isInteger(STEPS) && Number.isInteger(CONTINUES) && STEPS >= CONTINUES && CONTINUES >= 10))
    throw new Error('SOAK_STEPS >= SOAK_CONTINUES >= 10, integers');
  execFileSync('make', ['-s', '-C', resolve(repoRoot, 'guest')], { stdio: ['ignore', 'ignore', 'inherit'] });
  // The first and the last 10% of the rounds: 1,000 of the 10,000 steps, 100 of the 1,000 continues.
  const window = Math.floor(CONTINUES / 10);
  const stepWindow = Math.round((window * STEPS) / CONTINUES);
  const t0 = performance.now();
  const { out, rssLaunchKb, rssStartKb, hwmKb, lastAt } = await soak(window);
  const soakSecs = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const base = await fresh(lastAt, window);
  const freshSecs = (performance.now() - t1) / 1000;

  const rssEndKb = out.rssKb[out.rssKb.length - 1];
  const deciles = (xs: number[], fn: (ys: number[]) => number) =>
    Array.from({ length: 10 }, (_, k) =>
      f(fn(xs.slice((k * xs.length) / 10, ((k + 1) * xs.length) / 10))),
    ).join(' ');
  console.log(
    `soak: one adapter session on the demo firmware, from ${START_AT} (MMU on): ${out.step.length} instruction steps + ${out.cont.length} continues to ${BREAK_AT} (${f(STEPS / CONTINUES)} steps per continue), each stop followed by threads/stackTrace/scopes/variables and its mmuChanged; after ${WARMUP_ROUNDS} warm-up rounds`,
  );
  console.log(
    `  adapter RSS: after launch ${f(mb(rssLaunchKb))} MB, start (after warm-up) ${f(mb(rssStartKb))} MB  end ${f(mb(rssEndKb))} MB  growth ${f(mb(rssEndKb - rssStartKb))} MB (target <= 10 MB)  peak (VmHWM) ${f(mb(hwmKb))} MB`,
  );
  console.log(
    `    at the end of each tenth of the rounds: ${deciles(out.rssKb, (ys) => mb(ys[ys.length - 1]))} MB; fresh adapter at the last window: ${f(mb(base.rssStartKb))} MB before it, ${f(mb(base.out.rssKb[base.out.rssKb.length - 1]))} MB after`,
  );
  const figures: Record<string, number> = {};
  const row = (key: string, label: string, xs: number[], ys: number[], n: number, target?: string) => {
    const first = median(xs.slice(0, n));
    const last = median(xs.slice(-n));
    const base = median(ys);
    console.log(
      `  ${label}: median of the first ${n} ${f(first)} ms, of the last ${n} ${f(last)} ms: last/first ${f(last / first)}x${target ? ` (target <= ${target})` : ''}`,
    );
    console.log(
      `    fresh adapter from the last window's guest state ${f(base)} ms: last/fresh ${f(last / base)}x; all ${xs.length}: median ${f(median(xs))} p99 ${f(p99(xs))} ms`,
    );
    console.log(`    medians by tenth of the rounds: ${deciles(xs, median)} ms`);
    Object.assign(figures, {
      [`${key}FirstMedianMs`]: first,
      [`${key}LastMedianMs`]: last,
      [`${key}FreshMedianMs`]: base,
      [`${key}LastOverFirst`]: last / first,
      [`${key}LastOverFresh`]: last / base,
    });
  };
  row('step', 'instruction step -> stopped', out.step, base.out.step, stepWindow, '1.2x');
  row('continue', 'continue -> stopped', out.cont, base.out.cont, window, '1.2x');
  row('stepMmu', 'step stopped -> mmuChanged', out.stepMmu, base.out.stepMmu, stepWindow);
  const requests = out.step.length + out.cont.length;
  console.log(
    `  total: soak session ${f(soakSecs)} s (${f((soakSecs * 1000) / requests)} ms per step or continue, follow-ups included), fresh baseline ${f(freshSecs)} s`,
  );

  const dir = resolve(repoRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    resolve(dir, 'soak.json'),
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        loadavg: loadavg(),
        steps: out.step.length,
        continues: out.cont.length,
        rssStartMb: mb(rssStartKb),
        rssEndMb: mb(rssEndKb),
        rssGrowthMb: mb(rssEndKb - rssStartKb),
        rssPeakMb: mb(hwmKb),
        freshRssMb: mb(base.out.rssKb[base.out.rssKb.length - 1]),
        ...figures,
        soakSeconds: soakSecs,
        rssByRoundMb: out.rssKb.map((k) => Math.round(mb(k) * 100) / 100),
      },
      null,
      1,
    )}\n`,
  );
}

let finished = false;
// Belt and braces: a promise nothing will settle ends node with status 0 once the loop is empty.
process.once('beforeExit', () => {
  if (finished) return;
  console.error('soak: the event loop emptied before the benchmark finished (a request left unanswered?)');
  process.exitCode = 1;
});
main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => {
    finished = true;
  });
