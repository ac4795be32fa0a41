// The DAP session of debug type `pvmfw-mmu`: launch (QEMU spawned here) or attach to a gdbstub, then
// translate between DAP and the target. Request areas live in their own files; this one wires them.
import {
  DebugSession,
  ExitedEvent,
  InitializedEvent,
  OutputEvent,
  StoppedEvent,
  TerminatedEvent,
  Event,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { constants as osConstants } from 'node:os';
import { connectTcp, type GdbClient } from '../gdb';
import type { AttachArguments, LaunchArguments } from '../shared/config';
import type { MmuChangedEventBody } from '../shared/protocol';
import { BreakpointStore } from '../target/breakpoints';
import {
  checkArchitecture,
  checkProgramMatches,
  explainConnectError,
  loadProgram,
  parseHostPort,
  SessionSetupError,
} from '../target/connect';
import { Exceptions, EXCEPTION_FILTERS } from './exceptions';
import { Inspect } from './inspect';
import { MmuModel } from './mmu';
import { QemuProcess, QemuStartError } from '../target/qemuProcess';
import {
  checkRequest,
  errorResponse,
  failureMessage,
  type RequestArguments,
  type RequestCommand,
} from './requestArgs';
import { RunControl, type Stop } from '../target/runControl';
import { vectorEntry, type RawFrame } from './stack';
import type { TargetPort } from '../target/port';
import { answerResponse, openSnapshotTarget, snapshotAnswer, snapshotOrigin } from './snapshotSession';
import { StopContext } from '../target/stopContext';
import type { AdapterHost, OutputCategory } from './host';
import { SourceSupport } from './source';
import { StackView } from './stackView';
import { SymbolTable } from '../elf/symbolTable';
import { VariableStore } from './variables';

/** One handler per validated request (initialize is the library's); arguments arrive checked. */
type Handlers = {
  [C in Exclude<RequestCommand, 'initialize'>]: (args: RequestArguments<C>) => Promise<unknown>;
};

export class PvmfwDebugSession extends DebugSession implements AdapterHost {
  gdb: GdbClient | undefined;
  /** Registers and memory of the stopped target: the gdb client, or a snapshot post-mortem. */
  port: TargetPort | undefined;
  qemu: QemuProcess | undefined;
  run: RunControl | undefined;
  readonly bps = new BreakpointStore(() => this.gdb);
  symbols = SymbolTable.empty();
  config: LaunchArguments & AttachArguments = {};
  mode: 'launch' | 'attach' | 'snapshot' = 'launch';
  ctx: StopContext | undefined;
  readonly vars = new VariableStore();
  readonly mmu = new MmuModel(this);
  readonly exceptions = new Exceptions(this);
  readonly inspect = new Inspect(this);
  readonly source = new SourceSupport(this);
  readonly stack = new StackView(this);
  private stopId = 0;
  private ended = false;
  private mmuPending: Promise<MmuChangedEventBody | undefined> = Promise.resolve(undefined);
  lastStop: Stop | undefined;
  private readonly handlers: Handlers;

  constructor() {
    super();
    this.setDebuggerLinesStartAt1(true);
    this.setDebuggerColumnsStartAt1(true);
    this.handlers = {
      launch: (a) => this.launch(a),
      attach: (a) => this.attach(a),
      configurationDone: () => this.configurationDone(),
      threads: () => this.stack.threads(),
      stackTrace: (a) => this.stack.stackTrace(a),
      scopes: (a) => this.inspect.scopes(a),
      variables: (a) => this.inspect.variables(a),
      evaluate: (a) => this.inspect.evaluate(a),
      readMemory: (a) => this.inspect.readMemory(a),
      setVariable: (a) => this.inspect.setVariable(a),
      completions: (a) => Promise.resolve(this.inspect.completions(a)),
      writeMemory: (a) => this.inspect.writeMemory(a),
      continue: () => this.doContinue(),
      next: (a) => this.step(a.threadId, 'over', a.granularity),
      stepIn: (a) => this.step(a.threadId, 'in', a.granularity),
      stepOut: (a) => this.step(a.threadId, 'out', a.granularity),
      setBreakpoints: (a) => this.source.breakpoints.set(a),
      disassemble: (a) => this.source.disassemble(a),
      pause: () => this.need(this.run).pause(),
      setFunctionBreakpoints: (a) => this.exceptions.setFunctionBreakpoints(a),
      setInstructionBreakpoints: (a) => this.exceptions.setInstructionBreakpoints(a),
      setExceptionBreakpoints: (a) => this.exceptions.setFilters(a),
      dataBreakpointInfo: (a) => this.exceptions.dataBreakpointInfo(a),
      setDataBreakpoints: (a) => this.exceptions.setDataBreakpoints(a),
      exceptionInfo: () => Promise.resolve(this.exceptions.exceptionInfo()),
      restart: () => this.restart(),
      terminate: () => this.terminate(),
      disconnect: (a) => this.disconnect(a),
      pageTable: (a) => this.mmu.pageTable(a),
      translate: (a) => this.mmu.translateRequest(a),
      guardState: (a) => this.mmu.guardState(a),
      regimes: () => this.mmu.regimesRequest(),
      snapshot: () => this.mmu.snapshot(this.snapshotSource()),
    };
  }

  // ------------------------------------------------------------------ plumbing

  need<T>(v: T | undefined): T {
    if (v === undefined) throw new Error('not connected to a target');
    return v;
  }

  requireStopped(): StopContext {
    if (this.ctx && (this.mode === 'snapshot' || this.run?.state === 'stopped')) return this.ctx;
    throw new Error('the target is running: pause it first');
  }

  /** What an exported snapshot says of where it came from and which program ran. */
  private snapshotSource(): { source: string; program?: string } {
    return snapshotOrigin(this.mode, this.config, this.qemu?.pid);
  }

  sourceHit(pc: bigint, threadId: number): Promise<Stop | undefined> {
    return this.source.onHit(pc, threadId);
  }

  sourceLocation(pc: bigint): ReturnType<SourceSupport['location']> {
    return this.source.location(pc);
  }

  log(text: string, category: OutputCategory = 'console'): void {
    this.sendEvent(new OutputEvent(text.endsWith('\n') ? text : `${text}\n`, category));
  }

  protected override dispatchRequest(request: DebugProtocol.Request): void {
    // Arguments are checked before any handler sees them: a malformed request is refused in words.
    const checked = checkRequest(request);
    if (!checked.ok) return this.sendResponse(errorResponse(request, checked.message));
    const command = checked.command;
    if (command === 'initialize') return super.dispatchRequest({ ...request, arguments: checked.args });
    if (this.mode === 'snapshot') {
      const answer = snapshotAnswer(command, checked.args, this.config.snapshot ?? '');
      if (answer) return this.sendResponse(answerResponse(request, answer));
    }
    const handler = this.handlers[command] as (args: unknown) => Promise<unknown>;
    void (async () => {
      try {
        const body = await handler(checked.args);
        this.sendResponse({
          type: 'response',
          seq: 0,
          request_seq: request.seq,
          command,
          success: true,
          ...(body === undefined ? {} : { body }),
        });
        // Standalone: the process ends after a disconnect (shutdown is a no-op when inline).
        if (command === 'disconnect') this.shutdown();
      } catch (e) {
        // Whatever a handler throws becomes an answer; the session goes on.
        this.sendResponse(errorResponse(request, failureMessage(command, e)));
      }
    })();
  }

  protected override initializeRequest(response: DebugProtocol.InitializeResponse): void {
    response.body = {
      supportsConfigurationDoneRequest: true,
      supportsFunctionBreakpoints: true,
      supportsInstructionBreakpoints: true,
      supportsDataBreakpoints: true,
      supportsReadMemoryRequest: true,
      supportsDisassembleRequest: true,
      supportsSetVariable: true,
      supportsCompletionsRequest: true,
      supportsConditionalBreakpoints: true,
      supportsHitConditionalBreakpoints: true,
      supportsLogPoints: true,
      supportsWriteMemoryRequest: true,
      supportsSteppingGranularity: true,
      supportsRestartRequest: true,
      supportsTerminateRequest: true,
      supportTerminateDebuggee: true,
      supportsEvaluateForHovers: true,
      supportsExceptionInfoRequest: true,
      supportsDelayedStackTraceLoading: false,
      exceptionBreakpointFilters: EXCEPTION_FILTERS,
    };
    this.sendResponse(response);
  }

  // ------------------------------------------------------------------ sessions

  private async launch(args: LaunchArguments): Promise<void> {
    if (args.snapshot !== undefined) return this.openSnapshot(args);
    this.mode = 'launch';
    this.config = { stopOnEntry: true, ...args };
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
        onOutput: (text, stream) =>
          this.sendEvent(new OutputEvent(text, stream === 'stdout' ? 'stdout' : 'stderr')),
        onExit: (code, signal) => this.onQemuExit(code, signal),
      });
    } catch (e) {
      if (e instanceof QemuStartError) throw new SessionSetupError(e.message);
      throw e;
    }
    this.log(`QEMU (pid ${String(this.qemu.pid)}): ${this.qemu.commandLine.join(' ')}`);
    await this.connect('127.0.0.1', this.qemu.port, program, args.program);
  }

  private async attach(args: AttachArguments): Promise<void> {
    this.mode = 'attach';
    this.config = { stopOnEntry: false, onDisconnect: 'continue', ...args };
    const program = args.program ? loadProgram(args.program) : undefined;
    const { host, port } = parseHostPort(args.gdb);
    await this.connect(host, port, program, args.program);
  }

  private async connect(
    host: string,
    port: number,
    program: ReturnType<typeof loadProgram> | undefined,
    path?: string,
  ): Promise<void> {
    let gdb: GdbClient;
    try {
      gdb = await connectTcp(host, port, {
        timeoutMs: 5000,
        log: this.config.trace
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
      if (program && path) {
        const warning = await checkProgramMatches(gdb, program, path);
        if (warning) this.log(warning, 'stderr');
        this.symbols = program.symbols;
        this.mmu.setProgram(program);
        this.source.setProgram(program.image, path);
      }
    } catch (e) {
      await gdb.close().catch(() => undefined);
      await this.qemu?.kill();
      throw e;
    }
    gdb.onClose((err) => {
      if (this.ended) return;
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
      classifyBreakpoint: (pc, tid) => this.exceptions.classify(pc, tid),
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
    this.sendEvent(new InitializedEvent());
  }

  /**
   * A post-mortem session: the snapshot's registers and captured memory stand for the target, one
   * stop that never changes. Views, the Fault scope and the console answer from the same analysis as
   * a live stop; run control and breakpoints are refused in words.
   */
  private openSnapshot(args: LaunchArguments): Promise<void> {
    this.mode = 'snapshot';
    this.config = { ...args, stopOnEntry: true };
    const program = args.program ? loadProgram(args.program) : undefined;
    const t = openSnapshotTarget(args.snapshot ?? '', program);
    this.symbols = t.symbols;
    if (program && args.program) this.source.setProgram(program.image, args.program);
    this.port = t.port;
    this.log(t.intro);
    this.ctx = new StopContext(this.port, 1, this.stopId);
    this.sendEvent(new InitializedEvent());
    return Promise.resolve();
  }

  private async configurationDone(): Promise<void> {
    if (this.mode === 'snapshot') {
      const pc = (await this.need(this.port).readRegisters(['pc'])).get('pc') ?? 0n;
      this.reportStop({ reason: 'entry', threadId: 1, pc, description: 'Snapshot (post-mortem)' });
      return;
    }
    const run = this.need(this.run);
    await run.configureStepping();
    await this.exceptions.refresh();
    if (this.config.stopOnEntry) {
      const tid = run.currentThread;
      const pc = await this.need(this.gdb).readRegister('pc', tid);
      this.reportStop({ reason: 'entry', threadId: tid, pc, description: 'Paused on entry' });
    } else {
      this.invalidate();
      await run.resume();
    }
  }

  private onQemuExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.ended) return;
    this.log(`QEMU exited (${signal ? `signal ${signal}` : `code ${String(code)}`})`);
    // A signal death reports as a shell would: 128 + the signal number.
    void this.end(code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : undefined));
  }

  /** Ends the session once: exited + terminated, connection closed, QEMU (when ours) reaped. */
  async end(code?: number): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.run?.dispose();
    await this.gdb?.close().catch(() => undefined);
    if (this.mode === 'launch') await this.qemu?.kill();
    this.sendEvent(new ExitedEvent(code ?? 0));
    this.sendEvent(new TerminatedEvent());
  }

  private async restart(): Promise<void> {
    const gdb = this.need(this.gdb);
    if (this.run?.state === 'running') await this.run.pause();
    await gdb.monitor('system_reset');
    this.mmu.reset();
    await this.exceptions.refresh();
    const tid = this.need(this.run).currentThread;
    const pc = await gdb.readRegister('pc', tid);
    if (this.config.stopOnEntry !== false)
      this.reportStop({ reason: 'entry', threadId: tid, pc, description: 'Restarted' });
    else {
      this.invalidate();
      await this.need(this.run).resume();
    }
  }

  private async terminate(): Promise<void> {
    if (this.mode === 'launch') {
      await this.qemu?.kill();
    } else {
      await this.gdb?.monitor('quit').catch(() => undefined);
    }
    await this.end();
  }

  private async disconnect(args: DebugProtocol.DisconnectArguments): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.run?.dispose();
    const gdb = this.gdb;
    const killIt = args.terminateDebuggee ?? this.mode === 'launch';
    if (gdb && !killIt) {
      // Leave no breakpoint behind in a QEMU that keeps running.
      await this.exceptions.clearAll().catch(() => undefined);
      // QEMU leaves the VM as it is when the connection closes; detaching (`D;pid`) resumes it.
      const pause = this.config.onDisconnect === 'pause';
      await gdb.close({ detach: !pause }).catch(() => undefined);
    } else {
      await gdb?.close().catch(() => undefined);
    }
    if (killIt) {
      if (this.qemu) await this.qemu.kill();
      else if (gdb) await gdb.monitor('quit').catch(() => undefined);
    }
  }

  // ------------------------------------------------------------------ run control

  private invalidate(): void {
    this.stack.clear();
    this.vars.reset();
  }

  private async doContinue(): Promise<DebugProtocol.ContinueResponse['body']> {
    const run = this.need(this.run);
    this.invalidate();
    // The stop's walk reads the target: let it finish before the target runs.
    await this.mmuPending;
    // VBAR moves when the firmware installs its vectors: keep the filter breakpoints on them.
    await this.exceptions.refresh();
    await run.resume();
    return { allThreadsContinued: true };
  }

  private step(
    threadId: number,
    kind: 'in' | 'over' | 'out',
    granularity?: DebugProtocol.SteppingGranularity,
  ): Promise<void> {
    const run = this.need(this.run);
    const ctx = this.requireStopped();
    this.invalidate();
    // Run control answers the request first, then reports the stop (DAP ordering).
    setImmediate(() => {
      void (async () => {
        try {
          // The stop's walk reads the target: let it finish before the target moves.
          await this.mmuPending;
          let ret: RawFrame | undefined;
          if (kind === 'out') ret = (await this.stack.unwindThread(ctx, threadId))[1];
          const returnAddress = ret ? (ret.interrupted ? ret.pc : ret.pc + 4n) : undefined;
          // Line granularity (the default outside the Disassembly view): DWARF line steps, and a
          // step out that is safe against recursion (the same return address in a deeper frame).
          if (granularity !== 'instruction') {
            const r = await this.source.stepLine(threadId, kind, returnAddress);
            if (r) {
              if (r.kind === 'exited') return;
              if (r.kind === 'interrupted') {
                const stop = run.pendingStop ?? (await this.exceptions.classify(r.pc, threadId));
                this.reportStop(stop ?? { reason: 'step', threadId, pc: r.pc });
              } else
                this.reportStop({
                  reason: 'step',
                  threadId,
                  pc: r.pc,
                  ...(r.why ? { description: r.why } : {}),
                });
              return;
            }
          }
          if (kind === 'in') await run.stepInstruction(threadId);
          else if (kind === 'over') await run.stepOver(threadId);
          else if (returnAddress === undefined) await run.stepInstruction(threadId);
          else await run.runTo(threadId, returnAddress);
        } catch (e) {
          this.log(`step failed: ${(e as Error).message}`, 'stderr');
          if (!this.ended && this.gdb?.state !== 'closed') {
            const pc = await this.gdb?.readRegister('pc', threadId).catch(() => 0n);
            this.reportStop({ reason: 'pause', threadId, pc: pc ?? 0n, description: 'step failed' });
          }
        }
      })();
    });
    return Promise.resolve();
  }

  reportStop(stop: Stop): void {
    if (this.ended) return;
    this.lastStop = stop;
    this.stopId++;
    this.invalidate();
    this.ctx = new StopContext(this.need(this.port), stop.threadId, this.stopId);
    const ev: DebugProtocol.StoppedEvent = new StoppedEvent(stop.reason, stop.threadId, stop.text);
    ev.body.allThreadsStopped = true;
    if (stop.description) ev.body.description = stop.description;
    if (stop.hitBreakpointIds) ev.body.hitBreakpointIds = stop.hitBreakpointIds;
    const ctx = this.ctx;
    this.mmuPending = this.mmu.onStop(ctx, stop).catch((e: Error) => {
      this.log(`MMU walk failed: ${e.message}`, 'stderr');
      return undefined;
    });
    const mmu = this.mmuPending;
    void (async () => {
      if (stop.reason === 'step' && !stop.description) {
        const why = await vectorEntry(ctx, stop.pc).catch(() => undefined);
        if (why) {
          ev.body.description = why;
          ev.body.text = why;
        }
      }
      this.sendEvent(ev);
      const body = await mmu;
      if (body && !this.ended && this.ctx === ctx) this.sendEvent(new Event('mmuChanged', body));
    })();
  }

  /** A fresh register cache for the current stop (after a register write). */
  refreshContext(): void {
    if (this.ctx) this.ctx = new StopContext(this.need(this.port), this.ctx.threadId, this.ctx.stopId);
  }

  /** The MMU state of the current stop (walk + diff), once computed. */
  mmuReady(): Promise<MmuChangedEventBody | undefined> {
    return this.mmuPending;
  }
}
