// The DAP session of debug type `pvmfw-mmu`: launch (QEMU spawned here) or attach to a gdbstub, then
// translate between DAP and the target. Request areas live in their own files; this one wires them.
import {
  ContinuedEvent,
  DebugSession,
  ExitedEvent,
  InitializedEvent,
  OutputEvent,
  StoppedEvent,
  TerminatedEvent,
  Event,
} from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { AttachArguments, LaunchArguments } from '../shared/config';
import type { MmuChangedEventBody } from '../shared/protocol';
import { loadProgram, type LoadedProgram } from '../target/connect';
import { Exceptions, EXCEPTION_FILTERS } from './exceptions';
import { Inspect } from './inspect';
import { MmuModel } from './mmu';
import { QemuOutputLines } from './qemuConsole';
import {
  checkRequest,
  errorResponse,
  failureMessage,
  type RequestArguments,
  type RequestCommand,
} from './requestArgs';
import type { Stop } from '../target/runControl';
import { vectorEntry, type RawFrame } from './stack';
import { answerResponse, openSnapshotTarget, snapshotAnswer, snapshotOrigin } from './snapshotSession';
import type { StopContext } from '../target/stopContext';
import { Target } from '../target/target';
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
  /** The target model (gdb, QEMU, run control, breakpoints, stops); this session translates it. */
  readonly target = new Target(
    {
      stopped: (stop) => this.onStopped(stop),
      exited: (code) => {
        this.qemuLines.flush();
        this.sendEvent(new ExitedEvent(code));
        this.sendEvent(new TerminatedEvent());
      },
      output: (text, category) => {
        // QEMU's "terminating on signal 15" after our own Stop is not an error (qemuConsole.ts);
        // its stderr goes out in whole lines, however the pipe cut it.
        this.qemuLines.push(text, category);
      },
    },
    (pc, tid) => this.exceptions.classify(pc, tid),
  );
  private readonly qemuLines = new QemuOutputLines((text, category) =>
    this.sendEvent(new OutputEvent(text, category)),
  );
  symbols = SymbolTable.empty();
  config: LaunchArguments & AttachArguments = {};
  readonly vars = new VariableStore();
  readonly mmu = new MmuModel(this);
  readonly exceptions = new Exceptions(this);
  readonly inspect = new Inspect(this);
  readonly source = new SourceSupport(this);
  readonly stack = new StackView(this, () => this.source);
  private mmuPending: Promise<MmuChangedEventBody | undefined> = Promise.resolve(undefined);
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
      scopes: (a) => this.source.scopes(this.stack.frame(a.frameId), () => this.inspect.scopes(a)),
      variables: (a) => this.inspect.variables(a),
      evaluate: (a) =>
        this.source.evaluateRequest(a, this.stack.frame(a.frameId ?? -1), () => this.inspect.evaluate(a)),
      readMemory: (a) => this.inspect.readMemory(a),
      setVariable: async (a) => (await this.source.variables.setVariable(a)) ?? this.inspect.setVariable(a),
      completions: (a) => Promise.resolve(this.inspect.completions(a)),
      writeMemory: (a) => this.inspect.writeMemory(a),
      continue: () => this.doContinue(),
      next: (a) => this.step(a.threadId, 'over', a.granularity),
      stepIn: (a) => this.step(a.threadId, 'in', a.granularity),
      stepOut: (a) => this.step(a.threadId, 'out', a.granularity),
      setBreakpoints: (a) => this.source.breakpoints.set(a),
      disassemble: (a) => this.source.disassemble(a),
      pause: () => this.target.pause(),
      setFunctionBreakpoints: (a) => this.exceptions.setFunctionBreakpoints(a),
      setInstructionBreakpoints: (a) => this.exceptions.setInstructionBreakpoints(a),
      setExceptionBreakpoints: (a) => this.exceptions.setFilters(a),
      dataBreakpointInfo: (a) => this.exceptions.dataBreakpointInfo(a),
      setDataBreakpoints: (a) => this.exceptions.setDataBreakpoints(a),
      exceptionInfo: () => Promise.resolve(this.exceptions.exceptionInfo()),
      restart: () => this.restart(),
      terminate: () => this.target.terminate(),
      disconnect: (a) => this.disconnect(a),
      pageTable: (a) => this.mmu.pageTable(a),
      translate: (a) => this.mmu.translateRequest(a),
      guardState: (a) => this.mmu.guardState(a),
      regimes: () => this.mmu.regimesRequest(),
      snapshot: () => this.mmu.snapshot(this.snapshotSource()),
      ownership: () => this.mmu.ownership(),
      selectThread: async (a) => {
        const body = await this.mmu.selectThread(a.threadId);
        if (body) this.sendEvent(new Event('mmuChanged', body));
        return { changed: body !== undefined };
      },
    };
  }

  // ------------------------------------------------------------------ plumbing

  // The AdapterHost picks the helpers use, answered by the target.
  get gdb(): Target['gdb'] {
    return this.target.gdb;
  }
  get port(): Target['port'] {
    return this.target.port;
  }
  get run(): Target['run'] {
    return this.target.run;
  }
  get bps(): Target['bps'] {
    return this.target.bps;
  }
  get ctx(): Target['ctx'] {
    return this.target.ctx;
  }
  get lastStop(): Target['lastStop'] {
    return this.target.lastStop;
  }
  get mode(): Target['mode'] {
    return this.target.mode;
  }

  need<T>(v: T | undefined): T {
    return this.target.need(v);
  }

  requireStopped(): StopContext {
    return this.target.requireStopped();
  }

  /** What an exported snapshot says of where it came from and which program ran. */
  private snapshotSource(): { source: string; program?: string } {
    return snapshotOrigin(this.mode, this.config, this.target.qemu?.pid);
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

  /**
   * Answers a request from a caller in this process (the extension's views, when VS Code runs this
   * adapter inline) with the checks and handlers of dispatchRequest, without the two trips through
   * the workbench a customRequest takes. Throws the message an error response would carry.
   */
  async answer(command: string, args: unknown): Promise<unknown> {
    const checked = checkRequest({ command, arguments: args });
    if (!checked.ok) throw new Error(checked.message);
    if (checked.command === 'initialize') throw new Error('initialize: only through DAP');
    if (this.mode === 'snapshot') {
      const a = snapshotAnswer(checked.command, checked.args, this.config.snapshot ?? '');
      if (a && 'error' in a) throw new Error(a.error);
      if (a) return a.body;
    }
    const handler = this.handlers[checked.command] as (args: unknown) => Promise<unknown>;
    try {
      return await handler(checked.args);
    } catch (e) {
      throw new Error(failureMessage(checked.command, e));
    }
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
    this.config = { stopOnEntry: true, ...args };
    this.connected(await this.target.launch(args), args.program);
  }

  private async attach(args: AttachArguments): Promise<void> {
    this.config = { stopOnEntry: false, onDisconnect: 'continue', ...args };
    this.connected(await this.target.attach(args), args.program);
  }

  /** The target is connected (and its program checked): the views learn the program. */
  private connected(program: LoadedProgram | undefined, path: string | undefined): void {
    if (program && path) {
      this.symbols = program.symbols;
      this.mmu.setProgram(program);
      this.source.setProgram(program.image, path);
    }
    this.sendEvent(new InitializedEvent());
  }

  /**
   * A post-mortem session: the snapshot's registers and captured memory stand for the target, one
   * stop that never changes. Views, the Fault scope and the console answer from the same analysis as
   * a live stop; run control and breakpoints are refused in words.
   */
  private openSnapshot(args: LaunchArguments): Promise<void> {
    this.config = { ...args, stopOnEntry: true };
    const program = args.program ? loadProgram(args.program) : undefined;
    const t = openSnapshotTarget(args.snapshot ?? '', program);
    this.symbols = t.symbols;
    if (program && args.program) this.source.setProgram(program.image, args.program);
    this.target.openSnapshot(t.port);
    this.log(t.intro);
    this.sendEvent(new InitializedEvent());
    return Promise.resolve();
  }

  private async configurationDone(): Promise<void> {
    if (this.mode === 'snapshot') {
      const pc = (await this.need(this.port).readRegisters(['pc'])).get('pc') ?? 0n;
      this.target.reportStop({ reason: 'entry', threadId: 1, pc, description: 'Snapshot (post-mortem)' });
      return;
    }
    await this.need(this.run).configureStepping();
    await this.exceptions.refresh();
    if (this.config.stopOnEntry) {
      const { threadId, pc } = await this.target.here();
      this.target.reportStop({ reason: 'entry', threadId, pc, description: 'Paused on entry' });
    } else {
      this.invalidate();
      await this.target.resume();
    }
  }

  private async restart(): Promise<void> {
    // The stop the machine was in is over: the stop numbers and the changes start again from here.
    const lastStop = this.ctx?.stopId ?? 0;
    await this.target.restart();
    this.mmu.reset(lastStop);
    this.invalidate();
    const { threadId, pc } = await this.target.here();
    // A client keeps the last stop's details (VS Code's Call Stack label "Lazy MMIO fault at …")
    // until it hears the target ran: a reset is a run, so say so before the new stop.
    this.sendEvent(new ContinuedEvent(threadId, true));
    await this.exceptions.refresh();
    if (this.config.stopOnEntry !== false)
      this.target.reportStop({ reason: 'entry', threadId, pc, description: 'Restarted' });
    else {
      this.invalidate();
      await this.target.resume();
    }
  }

  private disconnect(args: DebugProtocol.DisconnectArguments): Promise<void> {
    return this.target.disconnect({
      terminateDebuggee: args.terminateDebuggee,
      clearBreakpoints: () => this.exceptions.clearAll(),
    });
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
            const r = await this.source.stepLine(threadId, kind, returnAddress, ret);
            if (r) {
              if (r.kind === 'exited') return;
              if (r.kind === 'interrupted') {
                const stop = run.pendingStop ?? (await this.exceptions.classify(r.pc, threadId));
                this.target.reportStop(stop ?? { reason: 'step', threadId, pc: r.pc });
              } else
                this.target.reportStop({
                  reason: 'step',
                  threadId,
                  pc: r.pc,
                  ...(r.why ? { description: r.why } : {}),
                });
              return;
            }
          }
          await this.target.step(threadId, kind, returnAddress);
        } catch (e) {
          this.log(`step failed: ${(e as Error).message}`, 'stderr');
          await this.target.stopAfterFailedStep(threadId);
        }
      })();
    });
    return Promise.resolve();
  }

  /** The target stopped (its ctx and lastStop describe the stop): the stopped and mmuChanged events. */
  private onStopped(stop: Stop): void {
    this.invalidate();
    const ev: DebugProtocol.StoppedEvent = new StoppedEvent(stop.reason, stop.threadId, stop.text);
    ev.body.allThreadsStopped = true;
    if (stop.description) ev.body.description = stop.description;
    if (stop.hitBreakpointIds) ev.body.hitBreakpointIds = stop.hitBreakpointIds;
    const ctx = this.need(this.ctx);
    this.mmuPending = this.mmu.onStop(ctx, stop).catch((e: Error) => {
      this.log(`MMU walk failed: ${e.message}`, 'stderr');
      return undefined;
    });
    const mmu = this.mmuPending;
    void (async () => {
      // A store to a descriptor the console's watch-pte watches: the old and new descriptor, decoded.
      const watched = /at 0x([0-9a-f]+)/.exec(stop.description ?? '')?.[1];
      const pte =
        stop.reason === 'data breakpoint' && watched
          ? this.inspect.pteWatches.watchAt(BigInt(`0x${watched}`))
          : undefined;
      if (pte) {
        const hit = await this.inspect.pteWatches
          .describeHit(pte, ctx, this.need(this.port), stop.pc, this.symbols.describe(stop.pc))
          .catch((e: Error) => ({
            description: 'PTE write',
            detail: `PTE write: cannot decode it (${e.message})`,
          }));
        ev.body.description = hit.description;
        ev.body.text = hit.detail;
        this.log(hit.detail);
      }
      if (stop.reason === 'step' && !stop.description) {
        const why = await vectorEntry(ctx, stop.pc).catch(() => undefined);
        if (why) {
          ev.body.description = why;
          ev.body.text = why;
        }
      }
      this.sendEvent(ev);
      const body = await mmu;
      if (body && !this.target.ended && this.ctx === ctx) this.sendEvent(new Event('mmuChanged', body));
    })();
  }

  /** A fresh register cache for the current stop (after a register write). */
  refreshContext(): void {
    this.target.refreshContext();
  }

  /** The MMU state of the current stop (walk + diff), once computed. */
  mmuReady(): Promise<MmuChangedEventBody | undefined> {
    return this.mmuPending;
  }
}
