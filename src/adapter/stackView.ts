// Threads (one per vCPU) and call stacks: frames from the unwinder (stack.ts) named from the ELF,
// with source locations when the ELF has DWARF lines.
import { Thread } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { AdapterHost } from './host';
import { chain, unwind, type RawFrame } from './stack';
import { DW_SP, unwindCfi } from './unwindCfi';
import type { ElfImage } from '../elf';
import type { ScopeFrame } from '../elf/scopes';
import { GENERAL_REGISTERS } from '../target/registers';
import { StopContext } from '../target/stopContext';

export class StackView {
  private frames = new Map<number, StackFrameInfo>();

  constructor(
    private readonly s: Pick<
      AdapterHost,
      'gdb' | 'port' | 'run' | 'symbols' | 'need' | 'requireStopped' | 'sourceLocation'
    >,
    /** The program (CFI, inlined frames) and its sources; without it frames follow frame records. */
    private readonly program: () =>
      { image: ElfImage | undefined; source(path: string): DebugProtocol.Source } | undefined = () =>
      undefined,
  ) {}

  clear(): void {
    this.frames.clear();
  }

  async threads(): Promise<DebugProtocol.ThreadsResponse['body']> {
    const gdb = this.s.gdb;
    if (!gdb || this.s.run?.state === 'running')
      return { threads: [new Thread(this.s.run?.currentThread ?? 1, 'vCPU')] };
    const ids = await gdb.threads();
    const threads: Thread[] = [];
    for (const t of ids) {
      const extra = await gdb.threadExtraInfo(t).catch(() => '');
      threads.push(new Thread(t.tid, `vCPU ${t.tid - 1}${extra ? ` (${extra.trim()})` : ''}`));
    }
    return { threads };
  }

  async unwindThread(ctx: StopContext, threadId: number): Promise<RawFrame[]> {
    const port = this.s.need(this.s.port);
    const tctx = threadId === ctx.threadId ? ctx : new StopContext(port, threadId, ctx.stopId);
    const r = await tctx.regs(['pc', 'x29', 'x30', 'VBAR_EL1', 'ELR_EL1', 'VBAR_EL2', 'ELR_EL2']);
    const pc = r.get('pc');
    if (pc === undefined) return [];
    const gdb = this.s.gdb;
    if (threadId !== ctx.threadId) await gdb?.selectThread(threadId, 'g');
    const readU64Pair = async (a: bigint): Promise<[bigint, bigint] | undefined> => {
      try {
        const b = await port.readMemory(a, 16);
        const dv = new DataView(b.buffer, b.byteOffset, 16);
        return [dv.getBigUint64(0, true), dv.getBigUint64(8, true)];
      } catch {
        return undefined;
      }
    };
    const vectors: { el: 1 | 2; vbar?: bigint; elr?: bigint }[] = [
      { el: 1, vbar: r.get('VBAR_EL1'), elr: r.get('ELR_EL1') },
      { el: 2, vbar: r.get('VBAR_EL2'), elr: r.get('ELR_EL2') },
    ];
    const cfi = this.program()?.image?.callFrameInfo();
    try {
      if (cfi && cfi.size > 0) {
        const g = await tctx.regs(GENERAL_REGISTERS);
        const regs = new Map<number, bigint>();
        for (let i = 0; i <= 30; i++) {
          const v = g.get(`x${i}`);
          if (v !== undefined) regs.set(i, v);
        }
        const sp = g.get('sp');
        if (sp !== undefined) regs.set(DW_SP, sp);
        return await unwindCfi({
          pc,
          regs,
          vectors,
          rowAt: (a) => cfi.rowAt(a),
          readU64: async (a) => (await readU64Pair(a))?.[0],
          chain: (p, x29, x30, out) =>
            chain(p, x29, x30, { pc, vectors, readU64Pair, symbols: this.s.symbols }, out, 64),
        });
      }
      return await unwind({
        pc,
        x29: r.get('x29'),
        x30: r.get('x30'),
        vectors,
        readU64Pair,
        symbols: this.s.symbols,
      });
    } finally {
      if (threadId !== ctx.threadId) await gdb?.selectThread(ctx.threadId, 'g');
    }
  }

  async stackTrace(
    args: DebugProtocol.StackTraceArguments,
  ): Promise<DebugProtocol.StackTraceResponse['body']> {
    const ctx = this.s.requireStopped();
    const raw = await this.unwindThread(ctx, args.threadId);
    const frames = this.expand(raw);
    const start = args.startFrame ?? 0;
    const end = args.levels ? start + args.levels : frames.length;
    const stackFrames: DebugProtocol.StackFrame[] = [];
    frames.forEach((v, i) => {
      if (i < start || i >= end) return;
      const f = v.raw;
      const id = ctx.stopId * 1000 + (this.frames.size + 1);
      this.frames.set(id, { ...f, threadId: args.threadId, view: v, all: raw });
      const scope = v.scopes?.[v.scopeIndex ?? 0];
      const sym = this.s.symbols.describe(f.pc) ?? `0x${f.pc.toString(16)}`;
      // A frame in a DWARF function is named after it, as gdb's bt names it (`rust_opt::rust_main`,
      // not `rust_main+0x34`); code without DWARF (vectors, assembly) keeps symbol+offset.
      const name = scope ? (scope.inlined ? `${scope.name} [inlined]` : scope.name) : sym;
      const frame: DebugProtocol.StackFrame = {
        id,
        // The interrupted context is named on its innermost frame (an inlined call there included).
        name: f.label && i > 0 && frames[i - 1].raw !== f ? `${name} [interrupted: ${f.label}]` : name,
        line: 0,
        column: 0,
        instructionPointerReference: `0x${f.pc.toString(16)}`,
      };
      if (f.interrupted) frame.presentationHint = 'label';
      // A frame that called an inlined function is at the call's line, not at the PC's.
      const call = v.callSite;
      const src = call
        ? { source: this.program()?.source(call.file), line: call.line, column: 1 }
        : this.s.sourceLocation(f.pc);
      if (src?.source) Object.assign(frame, src);
      stackFrames.push(frame);
    });
    return { stackFrames, totalFrames: frames.length };
  }

  /**
   * Physical frames expanded into the inlined calls each holds (gdb's inline frames). At the PC of
   * the innermost frame, an inlined call whose code starts exactly there is not entered yet: it is
   * shown from its call site, as gdb does, until a step enters it.
   */
  private expand(raw: RawFrame[]): FrameView[] {
    const program = this.program()?.image?.scopes();
    const out: FrameView[] = [];
    raw.forEach((f, rawIndex) => {
      const scopes = program?.framesAt(f.pc) ?? [];
      let first = 0;
      if (rawIndex === 0)
        while (
          first < scopes.length - 1 &&
          scopes[first].inlined &&
          scopes[first].ranges.some((r) => r.low === f.pc)
        )
          first++;
      if (scopes.length === 0) {
        out.push({ raw: f, rawIndex });
        return;
      }
      for (let k = first; k < scopes.length; k++) {
        const view: FrameView = { raw: f, rawIndex, scopes, scopeIndex: k };
        const inner = k > 0 ? scopes[k - 1] : undefined;
        const site = inner && program?.callSite(inner);
        if (site) view.callSite = site;
        out.push(view);
      }
    });
    return out;
  }

  frame(id: number): StackFrameInfo | undefined {
    return this.frames.get(id);
  }
}

/** One frame as the client sees it: a physical frame, or one of the inlined calls it holds. */
export interface FrameView {
  raw: RawFrame;
  rawIndex: number;
  /** framesAt(pc) of the physical frame, innermost first; this view is scopes[scopeIndex]. */
  scopes?: ScopeFrame[];
  scopeIndex?: number;
  /** Where the inlined call inside this frame was made (this frame's line). */
  callSite?: { file: string; line: number };
}

export type StackFrameInfo = RawFrame & { threadId: number; view?: FrameView; all?: RawFrame[] };
