// Source-line stepping (DAP next/stepIn/stepOut with granularity 'line' or 'statement') built from
// instruction steps and temporary breakpoints, driven by the DWARF line table. Independent of the
// session: it drives a narrow target interface and reads a line source (src/elf ElfImage).

/** How a target run ended. `breakpoint`: someone else (a user breakpoint) wants a stop at `pc`. */
export type Halt = { kind: 'stopped'; pc: bigint; breakpoint: boolean } | { kind: 'exited' };

export interface LineStepTarget {
  /** One instruction, with no breakpoint at PC in the way, reporting nothing to the client. */
  stepInstruction(): Promise<Halt>;
  /**
   * Runs (temporary breakpoint at `address`) until the target stops anywhere; `breakpoint` tells
   * whether that stop is also wanted by another owner (or is not at `address` at all).
   */
  runTo(address: bigint): Promise<Halt>;
  readRegister(name: 'pc' | 'sp' | 'x29' | 'x30'): Promise<bigint>;
  /** The A64 word at `address`, or undefined when unreadable. */
  readInstruction(address: bigint): Promise<number | undefined>;
}

/** What src/elf's ElfImage offers (structural). */
export interface LineSource {
  lineForAddress(addr: bigint): { file: string; line: number } | undefined;
  lineRangeAt(addr: bigint): { start: bigint; end: bigint; file: string; line: number } | undefined;
  isStatement(addr: bigint): boolean;
  /** `source` 'symtab' = no DWARF subprogram: nothing says where a prologue ends, none is skipped. */
  functionAt(
    addr: bigint,
  ): { name: string; low: bigint; high: bigint; source?: 'dwarf' | 'symtab' } | undefined;
  /** Assembly has no prologue to skip: step-in stops at its first instruction. */
  isAssembly?(addr: bigint): boolean;
  /** Where the body of the function entered at `low` starts (prologue_end, or the second row). */
  prologueEnd?(low: bigint): { address: bigint; line: number } | undefined;
  /** Calls inlined at `addr`, innermost first: their code ranges and the line they were called from. */
  inlinedAt?(addr: bigint): { ranges: { low: bigint; high: bigint }[]; callLine: number; callFile: string }[];
}

/** Where a PC is as the call stack shows it: how many inlined calls deep, and at which line. */
interface View {
  depth: number;
  line: number | undefined;
  file: string | undefined;
  /** The innermost inlined call the PC is shown in (entered, not just at its first instruction). */
  inline?: { ranges: { low: bigint; high: bigint }[] };
}

export type StepResult =
  /** Report a `step` stop at `pc`. */
  | { kind: 'step'; pc: bigint; why?: string }
  /** Stopped for another reason (a breakpoint): the session classifies the stop at `pc`. */
  | { kind: 'interrupted'; pc: bigint }
  | { kind: 'exited' };

export interface StepOptions {
  /** Upper bound of instructions per step, so a `for (;;)` line cannot hang the request. */
  maxInstructions?: number;
}

// A64 encodings stepping must know (Arm ARM C6): calls return to the next instruction, and so do
// SVC/HVC/SMC (ELR_ELx = the next instruction), so "over" runs to PC + 4 across both.
const isCall = (w: number) =>
  (w & 0xfc000000) >>> 0 === 0x94000000 || // BL
  (w & 0xfffffc1f) >>> 0 === 0xd63f0000 || // BLR
  (w & 0xfefff800) >>> 0 === 0xd63f0800; // BLRAA/BLRAB(Z)
const isExceptionCall = (w: number) => (w & 0xffe0001c) >>> 0 === 0xd4000000 && (w & 3) !== 0; // SVC/HVC/SMC
/** Instructions that may leave the sequence on their own: anything else that does took an exception. */
const mayBranch = (w: number) =>
  (w & 0x7c000000) >>> 0 === 0x14000000 || // B, BL
  (w & 0xff000000) >>> 0 === 0x54000000 || // B.cond, BC.cond
  (w & 0x7e000000) >>> 0 === 0x34000000 || // CBZ, CBNZ
  (w & 0x7e000000) >>> 0 === 0x36000000 || // TBZ, TBNZ
  (w & 0xfe000000) >>> 0 === 0xd6000000 || // BR, BLR, RET, ERET (and their PAC forms)
  (w & 0xff000000) >>> 0 === 0xd4000000; // SVC, HVC, SMC, BRK, HLT
const hex = (a: bigint) => `0x${a.toString(16)}`;

export class LineStepper {
  constructor(
    private readonly target: LineStepTarget,
    private readonly lines: LineSource,
    private readonly options: StepOptions = {},
  ) {}

  /** Whether `pc` has line information (else the session should step by instruction). */
  hasLine(pc: bigint): boolean {
    const l = this.lines.lineForAddress(pc);
    return l !== undefined && l.line !== 0;
  }

  /**
   * Step over: run until PC reaches the start of a statement outside the current line's range in
   * this frame, stepping over calls and exception calls (HVC/SVC/SMC) as units. A fault that lands in
   * an exception vector without line information stops there.
   */
  next(): Promise<StepResult> {
    return this.stepLine('over');
  }

  /** Step in: as next, but enters called functions that have line information (past their prologue). */
  stepIn(): Promise<StepResult> {
    return this.stepLine('in');
  }

  /**
   * Step out: run to `returnAddress` (the caller's resume point, from the unwinder) until it is
   * reached in the caller's frame, not by a deeper recursive call. With `callerFp` (the caller's
   * x29, from the frame record) or `callerSp` (the caller's SP, from CFI) that test is exact; without
   * them SP decides: above the SP we started with, or equal to it when starting at a function's first
   * instruction (nothing pushed yet).
   */
  async stepOut(returnAddress: bigint, callerFp?: bigint, callerSp?: bigint): Promise<StepResult> {
    const pc0 = await this.target.readRegister('pc');
    const sp0 = await this.target.readRegister('sp');
    const atEntry = this.lines.functionAt(pc0)?.low === pc0;
    for (let n = 0; n < 10_000; n++) {
      const h = await this.target.runTo(returnAddress);
      if (h.kind === 'exited') return h;
      if (h.pc !== returnAddress || h.breakpoint) return { kind: 'interrupted', pc: h.pc };
      if (callerSp !== undefined) {
        // The caller's SP (from CFI): back in the caller's frame once SP is at or above it.
        if ((await this.target.readRegister('sp')) >= callerSp) return { kind: 'step', pc: h.pc };
      } else if (callerFp !== undefined) {
        if ((await this.target.readRegister('x29')) === callerFp) return { kind: 'step', pc: h.pc };
      } else {
        const sp = await this.target.readRegister('sp');
        if (sp > sp0 || (atEntry && sp === sp0)) return { kind: 'step', pc: h.pc };
      }
    }
    return {
      kind: 'step',
      pc: await this.target.readRegister('pc'),
      why: 'step out gave up: the return address kept being reached by deeper frames',
    };
  }

  /**
   * The frame a PC shows in. An inlined call whose code starts exactly at the PC is not entered yet
   * (gdb shows its call site until a step goes in): the PC is then at the call's line, one level up.
   */
  private view(pc: bigint): View {
    const inl = this.lines.inlinedAt?.(pc) ?? [];
    let hidden = 0;
    while (hidden < inl.length && inl[hidden].ranges.some((r) => r.low === pc)) hidden++;
    const at = hidden > 0 ? inl[hidden - 1] : undefined;
    const loc = at ? undefined : this.lines.lineForAddress(pc);
    const v: View = {
      depth: inl.length - hidden,
      line: at ? at.callLine : loc?.line,
      file: at ? at.callFile : loc?.file,
    };
    if (hidden < inl.length) v.inline = inl[hidden];
    return v;
  }

  /** The innermost inlined call the PC shows in, if any (step out leaves it). */
  inlinedFrame(pc: bigint): { ranges: { low: bigint; high: bigint }[] } | undefined {
    return this.view(pc).inline;
  }

  /**
   * Step out of an inlined call: run (stepping over calls) until the PC leaves the call's code, in
   * this frame. No return address exists: the caller's code simply follows.
   */
  async stepOutInline(ranges: { low: bigint; high: bigint }[]): Promise<StepResult> {
    const max = this.options.maxInstructions ?? 20_000;
    let pc = await this.target.readRegister('pc');
    const inside = (a: bigint) => ranges.some((r) => a >= r.low && a < r.high);
    for (let n = 0; n < max; n++) {
      const h = await this.instruction(pc, 'over');
      if (h.kind === 'exited') return h;
      pc = h.pc;
      if (h.trapped) return { kind: 'step', pc, why: h.trapped };
      if (h.breakpoint) return { kind: 'interrupted', pc };
      if (!inside(pc)) return { kind: 'step', pc };
    }
    return { kind: 'step', pc, why: `stopped after ${max} instructions inside the inlined call` };
  }

  private async stepLine(mode: 'over' | 'in'): Promise<StepResult> {
    const max = this.options.maxInstructions ?? 20_000;
    let pc = await this.target.readRegister('pc');
    const range = this.lines.lineRangeAt(pc);
    if (!range || range.line === 0) {
      // No line here (assembly without -g, a vector): one instruction, as the Disassembly view does.
      return this.fromHalt(await this.instruction(pc, mode));
    }
    const startFn = this.lines.functionAt(pc);
    const start = this.view(pc);
    const sp0 = await this.target.readRegister('sp');
    for (let n = 0; n < max; n++) {
      const h = await this.instruction(pc, mode);
      if (h.kind === 'exited') return h;
      pc = h.pc;
      const inRange = pc >= range.start && pc < range.end;
      if (h.breakpoint && !inRange) return { kind: 'interrupted', pc };
      // A fault (e.g. the lazy MMIO translation fault) stops at the vector, saying so.
      if (h.trapped) return { kind: 'step', pc, why: h.trapped };
      if (inRange) continue;
      const here = this.lines.lineForAddress(pc);
      if (!here) {
        if (h.entered) {
          // Called code without line information: finish it and carry on in this line.
          // At the callee's first instruction SP is still the caller's.
          const back = await this.runToReturn(h.returnAddress, await this.target.readRegister('sp'));
          if (back.kind !== 'stopped') return this.fromHalt(back);
          if (back.breakpoint) return { kind: 'interrupted', pc: back.pc };
          pc = back.pc;
          continue;
        }
        return { kind: 'step', pc, why: 'left the source line into code without line information' };
      }
      if (here.line === 0) continue;
      if (h.entered) {
        // Stepped into a function with lines: stop after its prologue, where the line table says
        // the body starts (prologue_end, or its second row), never a guessed range.
        const fn = this.lines.functionAt(pc);
        const body =
          fn && fn.source !== 'symtab' && !this.lines.isAssembly?.(pc) && pc === fn.low
            ? this.lines.prologueEnd?.(fn.low)
            : undefined;
        if (body && body.address > pc && body.address < fn!.high) {
          const r = await this.target.runTo(body.address);
          if (r.kind === 'exited') return r;
          return r.pc === body.address && !r.breakpoint
            ? { kind: 'step', pc: r.pc }
            : { kind: 'interrupted', pc: r.pc };
        }
        return { kind: 'step', pc };
      }
      const v = this.view(pc);
      const sameFn = startFn !== undefined && this.lines.functionAt(pc)?.low === startFn.low;
      if (sameFn && v.depth > start.depth) {
        // Inside a call inlined into this line: next steps over it; step in stops in it.
        if (mode === 'in') return { kind: 'step', pc };
        continue;
      }
      // Returned into the middle of a caller's line: keep going to the start of a statement, as
      // gdb does, unless the frame is gone (a return from the function we started in).
      if (!this.lines.isStatement(pc)) {
        const fn = this.lines.functionAt(pc);
        const returned =
          startFn && fn && fn.low !== startFn.low && (await this.target.readRegister('sp')) > sp0;
        if (!returned) continue;
        return this.finishLine(pc, max - n);
      }
      // At -O2 one line has statements at several addresses: another of the same line (not a new
      // iteration from its start) is still that line.
      if (
        sameFn &&
        v.depth === start.depth &&
        v.line === start.line &&
        v.file === start.file &&
        pc !== range.start
      )
        continue;
      return { kind: 'step', pc };
    }
    return { kind: 'step', pc, why: `stopped after ${max} instructions without leaving the line` };
  }

  /** After returning into the middle of a caller's line, stop at the next statement boundary. */
  private async finishLine(pc: bigint, budget: number): Promise<StepResult> {
    const range = this.lines.lineRangeAt(pc);
    if (!range) return { kind: 'step', pc };
    for (let n = 0; n < budget; n++) {
      const h = await this.instruction(pc, 'over');
      if (h.kind === 'exited') return h;
      pc = h.pc;
      if (h.trapped) return { kind: 'step', pc, why: h.trapped };
      if (pc >= range.start && pc < range.end) continue;
      if (h.breakpoint) return { kind: 'interrupted', pc };
      if (this.lines.isStatement(pc) || !this.lines.lineForAddress(pc)) return { kind: 'step', pc };
    }
    return { kind: 'step', pc };
  }

  /**
   * Runs to the instruction after a call. A recursive call reaches that address first in a deeper
   * frame (SP below the caller's `sp` at the call): run on until the caller's frame gets there.
   */
  private async runToReturn(returnAddress: bigint, sp: bigint | undefined): Promise<Halt> {
    for (let n = 0; ; n++) {
      const h = await this.target.runTo(returnAddress);
      if (h.kind === 'exited' || h.breakpoint || h.pc !== returnAddress || sp === undefined || n >= 10_000)
        return h;
      if ((await this.target.readRegister('sp')) >= sp) return h;
    }
  }

  /**
   * One instruction of a line step. Over: a call or an exception call runs to PC + 4. In: a call is
   * stepped into (`entered`), an exception call still runs to PC + 4.
   */
  private async instruction(
    pc: bigint,
    mode: 'over' | 'in',
  ): Promise<
    | (Halt & { kind: 'exited' })
    | {
        kind: 'stopped';
        pc: bigint;
        breakpoint: boolean;
        entered?: boolean;
        returnAddress: bigint;
        /** Why the PC left the sequence without a branch: the instruction took an exception. */
        trapped?: string;
      }
  > {
    const w = await this.target.readInstruction(pc);
    const returnAddress = pc + 4n;
    if (w !== undefined && (isExceptionCall(w) || (mode === 'over' && isCall(w)))) {
      const h = await this.runToReturn(
        returnAddress,
        isCall(w) ? await this.target.readRegister('sp') : undefined,
      );
      if (h.kind === 'exited') return h;
      return { ...h, breakpoint: h.breakpoint || h.pc !== returnAddress, returnAddress };
    }
    const h = await this.target.stepInstruction();
    if (h.kind === 'exited') return h;
    const entered = w !== undefined && isCall(w) && h.pc !== returnAddress;
    if (w !== undefined && !mayBranch(w) && h.pc !== returnAddress) {
      const trapped = `exception taken: the instruction at ${hex(pc)} did not complete, the CPU entered ${hex(h.pc)}`;
      return { ...h, entered, returnAddress, trapped };
    }
    return { ...h, entered, returnAddress };
  }

  private fromHalt(h: Halt): StepResult {
    if (h.kind === 'exited') return h;
    return h.breakpoint ? { kind: 'interrupted', pc: h.pc } : { kind: 'step', pc: h.pc };
  }
}

/** The breakpoint book-keeping a stepping target shares with the session (its BreakpointStore). */
export interface StepBreakpoints {
  add(owner: 'temp', address: bigint): Promise<void>;
  remove(owner: 'temp', address: bigint): Promise<void>;
  /** Whether an owner other than `except` wants a stop at `address`. */
  hasOther(address: bigint, ...except: 'temp'[]): boolean;
  /** Lifts the stub's breakpoint at `address` (to step off it); returns the restore function. */
  lift(address: bigint): Promise<(() => Promise<void>) | undefined>;
}

/** The gdb client calls a line step makes (a subset of src/gdb's GdbClient). */
export interface StepGdb {
  readRegister(register: string, thread?: number): Promise<bigint>;
  readMemory(address: bigint, length: number): Promise<Uint8Array>;
  step(thread?: number): Promise<{ kind: string }>;
  resume(action: 'continue'): Promise<void>;
  waitForStop(timeoutMs?: number): Promise<{ kind: string }>;
}

/**
 * LineStepTarget over the gdb client and the session's breakpoints. `quiet` wraps every target run
 * so the session's own stop listener ignores these internal stops (RunControl counts them).
 */
export class GdbLineTarget implements LineStepTarget {
  constructor(
    private readonly gdb: StepGdb,
    private readonly bps: StepBreakpoints,
    private readonly threadId: number,
    private readonly quiet: <T>(f: () => Promise<T>) => Promise<T> = (f) => f(),
  ) {}

  readRegister(name: 'pc' | 'sp' | 'x29' | 'x30'): Promise<bigint> {
    return this.gdb.readRegister(name, this.threadId);
  }

  async readInstruction(address: bigint): Promise<number | undefined> {
    try {
      const b = await this.gdb.readMemory(address, 4);
      return b.length === 4 ? (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0 : undefined;
    } catch {
      return undefined;
    }
  }

  /** A single step with the stub's breakpoint under PC lifted, so the step leaves it. */
  private async stepOff(): Promise<boolean> {
    const pc = await this.readRegister('pc');
    const restore = await this.bps.lift(pc);
    try {
      return (await this.gdb.step(this.threadId)).kind === 'signal';
    } finally {
      if (restore) await restore();
    }
  }

  private async halt(target?: bigint): Promise<Halt> {
    const pc = await this.readRegister('pc');
    return {
      kind: 'stopped',
      pc,
      breakpoint: this.bps.hasOther(pc, 'temp') || (target !== undefined && pc !== target),
    };
  }

  stepInstruction(): Promise<Halt> {
    return this.quiet(async () => ((await this.stepOff()) ? this.halt() : { kind: 'exited' }));
  }

  runTo(address: bigint): Promise<Halt> {
    return this.quiet(async () => {
      await this.bps.add('temp', address);
      try {
        if (!(await this.stepOff())) return { kind: 'exited' };
        let pc = await this.readRegister('pc');
        if (pc !== address && !this.bps.hasOther(pc, 'temp')) {
          await this.gdb.resume('continue');
          // No timeout: a pause request interrupts the target, which ends this wait.
          if ((await this.gdb.waitForStop(2 ** 31 - 1)).kind !== 'signal') return { kind: 'exited' };
          pc = await this.readRegister('pc');
        }
        return { kind: 'stopped', pc, breakpoint: this.bps.hasOther(pc, 'temp') || pc !== address };
      } finally {
        await this.bps.remove('temp', address).catch(() => undefined);
      }
    });
  }
}
