// The debug target without DAP (mock-debug's runtime, as against its session): the gdb connection,
// the QEMU process a launch spawns, run control, breakpoints and the stop context. It reports stops,
// its end and its output to a TargetListener; the DAP session only translates those into DAP.
import { constants as osConstants } from 'node:os';
import { connectTcp, type GdbClient } from '../gdb';
import type { AttachArguments, LaunchArguments } from '../shared/config';
import { BreakpointStore } from './breakpoints';
import {
  checkArchitecture,
  checkProgramMatches,
  explainConnectError,
  loadProgram,
  parseHostPort,
  SessionSetupError,
  type LoadedProgram,
} from './connect';
import type { TargetPort } from './port';
import { QemuProcess, QemuStartError } from './qemuProcess';
import { RamPort } from './ramPort';
import { RunControl, type Stop } from './runControl';
import { StopContext } from './stopContext';

export type TargetOutputCategory = 'console' | 'stderr' | 'stdout';

export interface TargetListener {
  /** A stop a user should see; `lastStop` and `ctx` already describe it. */
  stopped(stop: Stop): void;
  /** The target ended (once): the connection is closed and QEMU, when launched here, reaped. */
  exited(code: number): void;
  /** QEMU's own output as it came, or one of the target's messages (newline-terminated). */
  output(text: string, category: TargetOutputCategory): void;
}

/** Decides what a stop at a breakpoint address means; undefined: nobody wants it, continue. */
export type ClassifyBreakpoint = (pc: bigint, threadId: number) => Promise<Stop | undefined>;

export type TargetMode = 'launch' | 'attach' | 'snapshot';

export class Target {
  gdb: GdbClient | undefined;
  /** Registers and memory of the stopped target: the gdb client, or a snapshot post-mortem. */
  port: TargetPort | undefined;
  qemu: QemuProcess | undefined;
  run: RunControl | undefined;
  readonly bps = new BreakpointStore(() => this.gdb);
  ctx: StopContext | undefined;
  lastStop: Stop | undefined;
  mode: TargetMode = 'launch';
  private stopId = 0;
  private _ended = false;
  private options: { trace?: boolean; onDisconnect?: 'continue' | 'pause' } = {};

  constructor(
    private readonly listener: TargetListener,
    private readonly classifyBreakpoint: ClassifyBreakpoint,
  ) {}

  get ended(): boolean {
    return this._ended;
  }

  /** The value, or an error saying no target is connected. */
  need<T>(v: T | undefined): T {
    if (v === undefined) throw new Error('not connected to a target');
    return v;
  }

  /** The current stop's context, or an error saying the target is running. */
  requireStopped(): StopContext {
    if (this.ctx && (this.mode === 'snapshot' || this.run?.state === 'stopped')) return this.ctx;
    throw new Error('the target is running: pause it first');
  }

  private log(text: string, category: TargetOutputCategory = 'console'): void {
    this.listener.output(text.endsWith('\n') ? text : `${text}\n`, category);
  }

  // ------------------------------------------------------------------ sessions

  /** Spawns QEMU halted with a gdbstub and connects; the program, when given, is checked and returned. */
  async launch(
    args: LaunchArguments & Pick<AttachArguments, 'onDisconnect'>,
  ): Promise<LoadedProgram | undefined> {
    this.mode = 'launch';
    this.options = { trace: args.trace, onDisconnect: args.onDisconnect };
    const program = args.program ? loadProgram(args.program) : undefined;
    const binary = args.qemu ?? 'qemu-system-aarch64';
    const own = (args.qemuArgs ?? []).find(
      (a) => a === '-gdb' || a === '-s' || a === '-S' || a.startsWith('-gdb='),
    );
    if (own) {
      throw new SessionSetupError(
        `remove '${own}' from "qemuArgs": the adapter adds -gdb tcp:127.0.0.1:PORT -S itself (use an attach configuration to debug a QEMU you start)`,
      );
    }
    try {
      this.qemu = await QemuProcess.start({
        binary,
        args: args.qemuArgs ?? [],
        cwd: args.cwd,
        env: args.env,
        onOutput: (text, stream) => this.listener.output(text, stream === 'stdout' ? 'stdout' : 'stderr'),
        onExit: (code, signal) => this.onQemuExit(code, signal),
      });
    } catch (e) {
      if (e instanceof QemuStartError) throw new SessionSetupError(e.message);
      throw e;
    }
    this.log(`QEMU (pid ${String(this.qemu.pid)}): ${this.qemu.commandLine.join(' ')}`);
    await this.connect('127.0.0.1', this.qemu.port, program, args.program);
    return program;
  }

  /** Connects to a running gdbstub (`args.gdb`, host:port); the program, when given, is checked and returned. */
  async attach(args: AttachArguments): Promise<LoadedProgram | undefined> {
    this.mode = 'attach';
    this.options = { trace: args.trace, onDisconnect: args.onDisconnect };
    const program = args.program ? loadProgram(args.program) : undefined;
    const { host, port } = parseHostPort(args.gdb);
    await this.connect(host, port, program, args.program);
    return program;
  }

  private async connect(
    host: string,
    port: number,
    program: LoadedProgram | undefined,
    path?: string,
  ): Promise<void> {
    let gdb: GdbClient;
    try {
      gdb = await connectTcp(host, port, {
        timeoutMs: 5000,
        log: this.options.trace
          ? (dir, p) => this.log(`${dir === 'send' ? '->' : '<-'} ${p.slice(0, 200)}`)
          : undefined,
      });
    } catch (e) {
      await this.qemu?.kill();
      throw explainConnectError(e, host, port);
    }
    this.gdb = gdb;
    this.port = gdb;
    try {
      checkArchitecture(gdb);
      // Guest RAM read straight from QEMU's memory when it runs here, else through the gdbstub.
      const ramPort = await RamPort.open(gdb, {
        host,
        port,
        pid: this.mode === 'launch' ? this.qemu?.pid : undefined,
      });
      this.port = ramPort;
      this.log(`physical memory via ${ramPort.memoryPath.path}: ${ramPort.memoryPath.detail}`);
      if (program && path) {
        const warning = await checkProgramMatches(gdb, program, path);
        if (warning) this.log(warning, 'stderr');
      }
    } catch (e) {
      await gdb.close().catch(() => undefined);
      await this.qemu?.kill();
      throw e;
    }
    gdb.onClose((err) => {
      if (this._ended) return;
      this.log(`gdbstub connection closed${err ? `: ${err.message}` : ''}`);
      // When our QEMU died, the socket usually closes first: give its exit status a moment to
      // arrive so the exited event carries it (onQemuExit then ends the session).
      const q = this.mode === 'launch' ? this.qemu : undefined;
      void (async () => {
        if (q) await Promise.race([q.waitExit(), new Promise((r) => setTimeout(r, 500))]);
        await this.end();
      })();
    });
    this.run = new RunControl(gdb, this.bps, {
      classifyBreakpoint: (pc, tid) => this.classifyBreakpoint(pc, tid),
      onStop: (stop) => this.reportStop(stop),
      onExit: (code, text) => {
        this.log(text);
        void this.end(code);
      },
      log: (t) => this.log(t),
    });
    const threads = await gdb.threads().catch(() => []);
    this.run.currentThread = threads[0]?.tid ?? 1;
    this.ctx = new StopContext(gdb, this.run.currentThread, this.stopId);
  }

  /** A post-mortem target: the port (a snapshot) stands for one stop that never changes; nothing runs. */
  openSnapshot(port: TargetPort): void {
    this.mode = 'snapshot';
    this.port = port;
    this.ctx = new StopContext(port, 1, this.stopId);
  }

  private onQemuExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this._ended) return;
    this.log(`QEMU exited (${signal ? `signal ${signal}` : `code ${String(code)}`})`);
    // A signal death reports as a shell would: 128 + the signal number.
    void this.end(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : undefined));
  }

  /** Ends the target once: connection closed, QEMU (when ours) reaped, then `exited`. */
  async end(code?: number): Promise<void> {
    if (this._ended) return;
    this._ended = true;
    this.run?.dispose();
    await this.gdb?.close().catch(() => undefined);
    if (this.mode === 'launch') await this.qemu?.kill();
    this.listener.exited(code ?? 0);
  }

  /** Kills QEMU when launched here, else asks the attached QEMU to quit; then ends. */
  async terminate(): Promise<void> {
    if (this.mode === 'launch') {
      await this.qemu?.kill();
    } else {
      await this.gdb?.monitor('quit').catch(() => undefined);
    }
    await this.end();
  }

  /**
   * Leaves the target without `exited`: QEMU killed (the default for a launch), or left running
   * (resumed, or paused with `onDisconnect: 'pause'`) once `clearBreakpoints` has removed ours.
   */
  async disconnect(opts: {
    terminateDebuggee?: boolean;
    clearBreakpoints: () => Promise<void>;
  }): Promise<void> {
    if (this._ended) return;
    this._ended = true;
    this.run?.dispose();
    const gdb = this.gdb;
    const killIt = opts.terminateDebuggee ?? this.mode === 'launch';
    if (gdb && !killIt) {
      // Leave no breakpoint behind in a QEMU that keeps running.
      await opts.clearBreakpoints().catch(() => undefined);
      // QEMU leaves the VM as it is when the connection closes; detaching (`D;pid`) resumes it.
      const pause = this.options.onDisconnect === 'pause';
      await gdb.close({ detach: !pause }).catch(() => undefined);
    } else {
      await gdb?.close().catch(() => undefined);
    }
    if (killIt) {
      if (this.qemu) await this.qemu.kill();
      else if (gdb) await gdb.monitor('quit').catch(() => undefined);
    }
  }

  /** Resets the machine (`system_reset`), paused first when running; the caller reports the stop. */
  async restart(): Promise<void> {
    const gdb = this.need(this.gdb);
    if (this.run?.state === 'running') await this.run.pause();
    await gdb.monitor('system_reset');
  }

  // ------------------------------------------------------------------ run control

  /** The current thread and its PC (where a session starts or restarts). */
  async here(): Promise<{ threadId: number; pc: bigint }> {
    const threadId = this.need(this.run).currentThread;
    return { threadId, pc: await this.need(this.gdb).readRegister('pc', threadId) };
  }

  async resume(): Promise<void> {
    await this.need(this.run).resume();
  }

  async pause(): Promise<void> {
    await this.need(this.run).pause();
  }

  /**
   * One instruction-level step: into (`in`), over calls and exception-generating instructions
   * (`over`), or to the return address (`out`; one instruction when there is none).
   */
  async step(threadId: number, kind: 'in' | 'over' | 'out', returnAddress?: bigint): Promise<void> {
    const run = this.need(this.run);
    if (kind === 'in') await run.stepInstruction(threadId);
    else if (kind === 'over') await run.stepOver(threadId);
    else if (returnAddress === undefined) await run.stepInstruction(threadId);
    else await run.runTo(threadId, returnAddress);
  }

  /** After a step failed: reports a pause where the thread is, unless the target is gone. */
  async stopAfterFailedStep(threadId: number): Promise<void> {
    if (this._ended || this.gdb?.state === 'closed') return;
    const pc = await this.gdb?.readRegister('pc', threadId).catch(() => 0n);
    this.reportStop({ reason: 'pause', threadId, pc: pc ?? 0n, description: 'step failed' });
  }

  /** A new stop: a fresh context (registers read once per stop), then `stopped`. */
  reportStop(stop: Stop): void {
    if (this._ended) return;
    this.lastStop = stop;
    this.stopId++;
    this.ctx = new StopContext(this.need(this.port), stop.threadId, this.stopId);
    this.listener.stopped(stop);
  }

  /** A fresh register cache for the current stop (after a register write). */
  refreshContext(): void {
    if (this.ctx) this.ctx = new StopContext(this.need(this.port), this.ctx.threadId, this.ctx.stopId);
  }
}
