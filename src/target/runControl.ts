// Run control over the gdb client: continue, instruction step in/over/out, pause, and the
// filtering of stops (exception filters auto-continue when their check does not match). The session
// only hears about stops a user should see.
import { GdbTimeoutError, type GdbClient, type StopEvent } from '../gdb';
import type { BreakpointStore } from './breakpoints';
import { isCall, isExceptionGenerating, readU32 } from './insn';

/** Qqemu.sstep: ENABLE | NOIRQ | NOTIMER, so a timer interrupt cannot hijack a step. */
export const SSTEP_FLAGS = 0x7;
/** How long one instruction step may take before it is declared stuck (WFI) and interrupted. */
const STEP_TIMEOUT_MS = 1500;

export type StopReason = 'entry' | 'breakpoint' | 'step' | 'pause' | 'exception' | 'data breakpoint' | 'goto';

export interface Stop {
  reason: StopReason;
  threadId: number;
  pc: bigint;
  /** Text for the stopped event (shown in the call stack and the exception widget). */
  description?: string;
  text?: string;
  /** Exception filter that caused the stop. */
  filter?: string;
  hitBreakpointIds?: number[];
}

export interface RunHooks {
  /** Decides what a stop at a breakpoint address means; `undefined` = not of interest, auto-continue. */
  classifyBreakpoint(pc: bigint, threadId: number): Promise<Stop | undefined>;
  onStop(stop: Stop): void;
  onExit(code: number | undefined, text: string): void;
  log(text: string): void;
}

export class RunControl {
  private internal = 0;
  private pausing = false;
  private lastWatch = false;
  /** The last raw step timed out and was interrupted (read once by stepInstruction). */
  private stuckStep = false;
  private _state: 'stopped' | 'running' | 'exited' = 'stopped';
  currentThread = 1;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly gdb: GdbClient,
    private readonly bps: BreakpointStore,
    private readonly hooks: RunHooks,
  ) {
    this.unsubscribe = gdb.onStop((ev) => {
      if (this.internal > 0) return;
      void this.onAsyncStop(ev);
    });
  }

  get state(): 'stopped' | 'running' | 'exited' {
    return this._state;
  }

  dispose(): void {
    this.unsubscribe();
  }

  private threadOf(ev: StopEvent): number {
    return ev.kind === 'signal' && ev.thread ? ev.thread.tid : this.currentThread;
  }

  private async pcOf(threadId: number): Promise<bigint> {
    return this.gdb.readRegister('pc', threadId);
  }

  private exited(ev: StopEvent): boolean {
    if (ev.kind === 'signal') return false;
    this._state = 'exited';
    this.hooks.onExit(
      ev.kind === 'exited' ? ev.code : undefined,
      ev.kind === 'exited' ? `guest exited with code ${ev.code}` : `guest terminated by signal ${ev.signal}`,
    );
    return true;
  }

  /** A stop the target reported while running freely (after continue or pause). */
  private async onAsyncStop(ev: StopEvent): Promise<void> {
    if (this.exited(ev)) return;
    this._state = 'stopped';
    const threadId = this.threadOf(ev);
    this.currentThread = threadId;
    try {
      const stop = await this.describe(ev, threadId);
      if (stop) this.hooks.onStop(stop);
      else await this.resume();
    } catch (e) {
      this.hooks.log(`stop handling failed: ${(e as Error).message}`);
      this.hooks.onStop({ reason: 'pause', threadId, pc: 0n, description: 'stopped' });
    }
  }

  private async describe(ev: StopEvent, threadId: number): Promise<Stop | undefined> {
    const pc = await this.pcOf(threadId);
    if (ev.kind === 'signal' && ev.watchpoint) {
      const w = ev.watchpoint;
      this.lastWatch = true;
      return {
        reason: 'data breakpoint',
        threadId,
        pc,
        description: `${w.type} at 0x${w.address.toString(16)}`,
      };
    }
    if (this.pausing) {
      this.pausing = false;
      if (this.bps.owners(pc).size === 0) return { reason: 'pause', threadId, pc };
    }
    if (this.bps.owners(pc).size > 0) return this.hooks.classifyBreakpoint(pc, threadId);
    return {
      reason: 'pause',
      threadId,
      pc,
      description: `stopped (signal ${ev.kind === 'signal' ? ev.signal : '?'})`,
    };
  }

  /** Steps one instruction with the stub's breakpoint at PC lifted, so the step leaves it. */
  private async rawStep(threadId: number): Promise<StopEvent> {
    const pc = await this.pcOf(threadId);
    const restore = await this.bps.lift(pc);
    // QEMU reports a watchpoint before the access completes, and a step with the watchpoint in
    // place reports it again without executing: lift them for that one instruction (as gdb does).
    const restoreWatch = this.lastWatch ? await this.bps.liftWatchpoints() : undefined;
    this.lastWatch = false;
    this.internal++;
    try {
      try {
        return await this.gdb.step(threadId, STEP_TIMEOUT_MS);
      } catch (e) {
        // A step that does not complete: typically WFI with interrupts held off by the step flags.
        // Interrupt it, so the session gets its stop back instead of a target stuck "running".
        if (!(e instanceof GdbTimeoutError)) throw e;
        this.stuckStep = true;
        return await this.gdb.interrupt(5000);
      }
    } finally {
      this.internal--;
      if (restore) await restore();
      if (restoreWatch) await restoreWatch();
    }
  }

  /** Continues all vCPUs; the stop arrives through onAsyncStop. */
  async resume(): Promise<void> {
    const threadId = this.currentThread;
    const pc = await this.pcOf(threadId);
    // A breakpoint under PC would report again at once, and so would the access a watchpoint
    // stopped before: step that instruction first.
    if (this.lastWatch || this.bps.owners(pc).size > 0) {
      const ev = await this.rawStep(threadId);
      if (this.exited(ev)) return;
      const after = await this.pcOf(threadId);
      if (this.bps.owners(after).size > 0) return this.onAsyncStop(ev);
    }
    this._state = 'running';
    await this.gdb.resume('continue');
  }

  async pause(): Promise<void> {
    if (this._state !== 'running') return;
    this.pausing = true;
    await this.gdb.interrupt();
  }

  async stepInstruction(threadId: number): Promise<void> {
    this.currentThread = threadId;
    await this.gdb.selectThread(threadId);
    this._state = 'running';
    const ev = await this.rawStep(threadId);
    if (this.exited(ev)) return;
    this._state = 'stopped';
    const pc = await this.pcOf(threadId);
    const stuck = this.stuckStep;
    this.stuckStep = false;
    this.hooks.onStop(
      stuck
        ? {
            reason: 'pause',
            threadId,
            pc,
            description: `the step did not complete within ${STEP_TIMEOUT_MS} ms (WFI waiting for an interrupt the step flags hold off?): paused`,
          }
        : { reason: 'step', threadId, pc },
    );
  }

  /** Step over a call or an HVC/SVC/SMC: run to the instruction after it (or stop earlier at a breakpoint). */
  async stepOver(threadId: number): Promise<void> {
    const pc = await this.pcOf(threadId);
    let insn = 0;
    try {
      insn = readU32(await this.gdb.readMemory(pc, 4));
    } catch {
      // Unreadable code: fall back to a plain step.
    }
    if (!isCall(insn) && !isExceptionGenerating(insn)) return this.stepInstruction(threadId);
    return this.runTo(threadId, pc + 4n);
  }

  /** Run until `target` is reached, reporting it as a step (or the stop that came first). */
  async runTo(threadId: number, target: bigint): Promise<void> {
    const r = await this.runInternal(threadId, target);
    if (r.kind === 'exited') return;
    this.hooks.onStop(r.stop ?? { reason: 'step', threadId: this.currentThread, pc: r.pc });
  }

  /** The stop a halt-style primitive saw but did not report (the session reports it). */
  pendingStop: Stop | undefined;

  /** One instruction, no report: for line stepping. `breakpoint`: someone else wants the new PC. */
  async haltStep(
    threadId: number,
  ): Promise<{ kind: 'exited' } | { kind: 'stopped'; pc: bigint; breakpoint: boolean }> {
    this.currentThread = threadId;
    this._state = 'running';
    const ev = await this.rawStep(threadId);
    if (this.exited(ev)) return { kind: 'exited' };
    this._state = 'stopped';
    const pc = await this.pcOf(threadId);
    let breakpoint = false;
    if (this.bps.hasOther(pc, 'temp')) {
      const stop = await this.hooks.classifyBreakpoint(pc, threadId);
      if (stop && stop.reason !== 'step') {
        this.pendingStop = stop;
        breakpoint = true;
      }
    }
    return { kind: 'stopped', pc, breakpoint };
  }

  /** Runs to `target`, no report: for line stepping. */
  async haltRunTo(
    threadId: number,
    target: bigint,
  ): Promise<{ kind: 'exited' } | { kind: 'stopped'; pc: bigint; breakpoint: boolean }> {
    const r = await this.runInternal(threadId, target);
    if (r.kind === 'exited') return r;
    if (r.stop) this.pendingStop = r.stop;
    return { kind: 'stopped', pc: r.pc, breakpoint: r.stop !== undefined };
  }

  /**
   * Runs with a temporary breakpoint at `target` until a stop somebody wants: the target itself, or
   * a user breakpoint, a matching exception filter, a watchpoint or a pause on the way. Exception
   * filter stops that do not match continue silently.
   */
  private async runInternal(
    threadId: number,
    target: bigint,
  ): Promise<{ kind: 'exited' } | { kind: 'stopped'; pc: bigint; stop?: Stop }> {
    this.currentThread = threadId;
    this.pendingStop = undefined;
    await this.bps.add('temp', target);
    this._state = 'running';
    try {
      for (;;) {
        let ev = await this.rawStep(this.currentThread);
        if (this.exited(ev)) return { kind: 'exited' };
        let pc = await this.pcOf(this.currentThread);
        const watch = ev.kind === 'signal' && ev.watchpoint !== undefined;
        if (pc !== target && this.bps.owners(pc).size === 0 && !watch && !this.pausing) {
          this.internal++;
          try {
            await this.gdb.resume('continue');
            ev = await this.gdb.waitForStop(2 ** 31 - 1);
          } finally {
            this.internal--;
          }
          if (this.exited(ev)) return { kind: 'exited' };
          this.currentThread = this.threadOf(ev);
          pc = await this.pcOf(this.currentThread);
        }
        this._state = 'stopped';
        if (pc === target && !this.bps.hasOther(pc, 'temp') && !(ev.kind === 'signal' && ev.watchpoint))
          return { kind: 'stopped', pc };
        const stop = await this.describe(ev, this.currentThread);
        if (stop && stop.reason !== 'step') return { kind: 'stopped', pc, stop };
        if (pc === target) return { kind: 'stopped', pc };
        this._state = 'running';
      }
    } finally {
      await this.bps.remove('temp', target).catch(() => undefined);
    }
  }

  /** Sets Qqemu.sstep so that steps do not land in timer interrupt handlers. */
  async configureStepping(): Promise<void> {
    if (!this.gdb.qemuFeatures.has('sstep') && !this.gdb.qemuFeatures.has('sstepbits')) return;
    try {
      await this.gdb.setStepFlags(SSTEP_FLAGS);
    } catch (e) {
      this.hooks.log(`could not set QEMU step flags: ${(e as Error).message}`);
    }
  }

  markRunning(): void {
    this._state = 'running';
  }
}
