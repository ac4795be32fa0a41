// DAP end-to-end glue: the real adapter (out/src/adapter/main.js) over stdio through
// @vscode/debugadapter-testsupport's DebugClient, every event recorded so a test can wait for "the
// next stopped event after this request" without racing, and the Debug Console output kept in
// memory to print only when a test fails.
import { DebugClient } from '@vscode/debugadapter-testsupport';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { after, before } from 'node:test';
import { resolve } from 'node:path';
import type { MmuChangedEventBody, PageTableResponseBody, PteEntry } from '../../src/shared/protocol';
import { demoElf, demoQemuArgs, repoRoot } from '../harness/demo';

export { demoElf, demoQemuArgs, repoRoot };

/** The adapter under test: the tsc output by default, or e.g. the webpack bundle dist/debugAdapter.js. */
export const adapterMain = resolve(repoRoot, process.env.PVMFW_MMU_ADAPTER ?? 'out/src/adapter/main.js');

export function buildGuest(): void {
  execFileSync('make', ['-s', '-C', resolve(repoRoot, 'guest')], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export function demoLaunch(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    program: demoElf,
    qemu: 'qemu-system-aarch64',
    qemuArgs: demoQemuArgs(),
    stopOnEntry: true,
    ...extra,
  };
}

/** Child processes of `pid` (from /proc): to check that no QEMU is left behind. */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

export function processAlive(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return false;
  try {
    // A zombie still has a /proc entry: count it as dead-but-unreaped (state Z).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/**
 * One adapter per suite: built guest, adapter started before the suite's tests, the debuggee
 * terminated and the adapter stopped after them.
 */
export function useDap(): Dap {
  const dap = new Dap();
  before(async () => {
    buildGuest();
    await dap.start();
  });
  after(async () => {
    await dap.dc.disconnectRequest({ terminateDebuggee: true }).catch(() => undefined);
    await dap.stop();
  });
  return dap;
}

/** A fresh adapter for one test, stopped afterwards whatever the test did. */
export async function withDap(fn: (dap: Dap) => Promise<void>): Promise<void> {
  const dap = new Dap();
  await dap.start();
  try {
    await fn(dap);
  } finally {
    await dap.stop();
  }
}

/**
 * Attaches to the gdbstub at 127.0.0.1:`port` with the demo ELF, stopped on entry; `configure` runs
 * between `initialized` and configurationDone (breakpoints). Returns the entry stop.
 */
export async function attachTo(
  dap: Dap,
  port: number,
  extra: Record<string, unknown> = {},
  configure?: () => Promise<unknown>,
): Promise<DebugProtocol.StoppedEvent['body']> {
  const m = dap.mark();
  await dap.dc.initializeRequest({
    adapterID: 'pvmfw-mmu',
    linesStartAt1: true,
    columnsStartAt1: true,
    pathFormat: 'path',
  });
  await dap.dc.attachRequest({
    gdb: `127.0.0.1:${port}`,
    program: demoElf,
    stopOnEntry: true,
    ...extra,
  } as never);
  await dap.next('initialized', m);
  if (configure) await configure();
  await dap.dc.configurationDoneRequest();
  return dap.nextStop(m);
}

/** The stage-1 entry mapping `va` (a leaf, or the deepest entry there), through pageTable requests. */
export async function entryFor(dap: Dap, va: bigint): Promise<PteEntry | undefined> {
  let table: PageTableResponseBody['table'] | undefined;
  for (let depth = 0; depth < 4; depth++) {
    const pt = await dap.custom<PageTableResponseBody>('pageTable', {
      regime: 'TTBR0_EL1',
      ...(table ? { table } : {}),
      vaStart: `0x${va.toString(16)}`,
      vaEnd: `0x${va.toString(16)}`,
    });
    const e = pt.entries[0];
    if (!e || e.kind !== 'table' || !e.child) return e;
    table = e.child;
  }
  return undefined;
}

/** Adapters started and not yet stopped, in this test file. */
const liveAdapters = new Set<Dap>();

// Guaranteed cleanup, whatever a test did: after the file's last test every adapter still running is
// stopped (a test that failed before its own `finally` would otherwise leave one behind, keeping the
// file's event loop alive: the suite then never ends), and on process exit any left is killed.
// Only under the test runner: a benchmark importing this module must not become a test file.
if (process.env.NODE_TEST_CONTEXT)
  after(async () => {
    for (const d of [...liveAdapters]) await d.stop().catch(() => undefined);
  });
process.on('exit', () => {
  for (const d of liveAdapters) d.kill();
});

export class Dap {
  readonly dc: DebugClient;
  readonly events: DebugProtocol.Event[] = [];
  readonly output: string[] = [];
  private waiters: (() => void)[] = [];

  constructor() {
    this.dc = new DebugClient('node', adapterMain, 'pvmfw-mmu', { stdio: ['pipe', 'pipe', 'pipe'] }, true);
    this.dc.defaultTimeout = 20000;
  }

  async start(): Promise<void> {
    liveAdapters.add(this);
    await this.dc.start();
    for (const name of [
      'stopped',
      'mmuChanged',
      'output',
      'terminated',
      'exited',
      'initialized',
      'continued',
      'breakpoint',
    ]) {
      this.dc.on(name, (e: DebugProtocol.Event) => {
        this.events.push(e);
        if (name === 'output') this.output.push(String((e.body as { output?: string }).output ?? ''));
        for (const w of this.waiters.splice(0)) w();
      });
    }
  }

  /** Index to pass to `next` so only events after this point count. */
  mark(): number {
    return this.events.length;
  }

  /** The first event named `name` at index >= `from` matching `pred`. */
  async next<T = unknown>(
    name: string,
    from: number,
    pred: (b: T) => boolean = () => true,
    timeoutMs = 20000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let i = from; i < this.events.length; i++) {
        const e = this.events[i];
        if (e.event === name && pred(e.body as T)) return e.body as T;
      }
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(
          `no '${name}' event within ${timeoutMs} ms; events: ${this.events
            .slice(from)
            .map((e) => e.event)
            .join(', ')}`,
        );
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  nextStop(from: number, timeoutMs?: number): Promise<DebugProtocol.StoppedEvent['body']> {
    return this.next<DebugProtocol.StoppedEvent['body']>('stopped', from, () => true, timeoutMs);
  }

  /** The next stopped event after `from`, and the mmuChanged event of that same stop. */
  async nextStopWithMmu(
    from: number,
    timeoutMs?: number,
  ): Promise<{ stop: DebugProtocol.StoppedEvent['body']; mmu: MmuChangedEventBody }> {
    const stop = await this.nextStop(from, timeoutMs);
    const at = this.events.findIndex((e, i) => i >= from && e.event === 'stopped');
    return { stop, mmu: await this.nextMmu(at + 1, timeoutMs) };
  }

  nextMmu(from: number, timeoutMs?: number): Promise<MmuChangedEventBody> {
    return this.next<MmuChangedEventBody>('mmuChanged', from, () => true, timeoutMs);
  }

  /** Launch + configuration, returning the entry stop. */
  async launch(
    args: Record<string, unknown>,
    configure?: () => Promise<void>,
  ): Promise<DebugProtocol.StoppedEvent['body']> {
    const m = this.mark();
    await this.dc.initializeRequest({
      adapterID: 'pvmfw-mmu',
      linesStartAt1: true,
      columnsStartAt1: true,
      pathFormat: 'path',
    });
    await this.dc.launchRequest(args);
    await this.next('initialized', m);
    if (configure) await configure();
    await this.dc.configurationDoneRequest();
    return this.nextStop(m);
  }

  async custom<T>(command: string, args: unknown): Promise<T> {
    const r = await this.dc.customRequest(command, args);
    return r.body as T;
  }

  async evaluate(expression: string, frameId?: number): Promise<string> {
    const r = await this.dc.evaluateRequest({ expression, context: 'repl', frameId });
    return r.body.result;
  }

  async topFrame(threadId = 1): Promise<DebugProtocol.StackFrame> {
    const st = await this.dc.stackTraceRequest({ threadId });
    return st.body.stackFrames[0];
  }

  async scope(name: string, threadId = 1): Promise<DebugProtocol.Variable[]> {
    const f = await this.topFrame(threadId);
    const sc = await this.dc.scopesRequest({ frameId: f.id });
    const s = sc.body.scopes.find((x) => x.name === name);
    if (!s) throw new Error(`no scope ${name}: ${sc.body.scopes.map((x) => x.name).join(', ')}`);
    return (await this.dc.variablesRequest({ variablesReference: s.variablesReference })).body.variables;
  }

  transcript(): string {
    return this.output.join('');
  }

  async stop(): Promise<void> {
    liveAdapters.delete(this);
    await this.dc.stop();
  }

  /** SIGKILL the adapter process (last resort, synchronous: for process exit). */
  kill(): void {
    const child = (this.dc as unknown as { _adapterProcess?: { pid?: number } | null })._adapterProcess;
    if (child?.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}
