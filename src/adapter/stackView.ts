// Threads (one per vCPU) and call stacks: frames from the unwinder (stack.ts) named from the ELF,
// with source locations when the ELF has DWARF lines.
import { Thread } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { AdapterHost } from './host';
import { unwind, type RawFrame } from './stack';
import { StopContext } from '../target/stopContext';

export class StackView {
  private frames = new Map<number, RawFrame & { threadId: number }>();

  constructor(
    private readonly s: Pick<
      AdapterHost,
      'gdb' | 'port' | 'run' | 'symbols' | 'need' | 'requireStopped' | 'sourceLocation'
    >,
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
    try {
      return await unwind({
        pc,
        x29: r.get('x29'),
        x30: r.get('x30'),
        vectors: [
          { el: 1, vbar: r.get('VBAR_EL1'), elr: r.get('ELR_EL1') },
          { el: 2, vbar: r.get('VBAR_EL2'), elr: r.get('ELR_EL2') },
        ],
        readU64Pair: async (a) => {
          try {
            const b = await port.readMemory(a, 16);
            const dv = new DataView(b.buffer, b.byteOffset, 16);
            return [dv.getBigUint64(0, true), dv.getBigUint64(8, true)];
          } catch {
            return undefined;
          }
        },
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
    const start = args.startFrame ?? 0;
    const end = args.levels ? start + args.levels : raw.length;
    const stackFrames: DebugProtocol.StackFrame[] = [];
    raw.forEach((f, i) => {
      if (i < start || i >= end) return;
      const id = ctx.stopId * 1000 + (this.frames.size + 1);
      this.frames.set(id, { ...f, threadId: args.threadId });
      const sym = this.s.symbols.describe(f.pc) ?? `0x${f.pc.toString(16)}`;
      const frame: DebugProtocol.StackFrame = {
        id,
        name: f.label ? `${sym} [interrupted: ${f.label}]` : sym,
        line: 0,
        column: 0,
        instructionPointerReference: `0x${f.pc.toString(16)}`,
      };
      if (f.interrupted) frame.presentationHint = 'label';
      const src = this.s.sourceLocation(f.pc);
      if (src) Object.assign(frame, src);
      stackFrames.push(frame);
    });
    return { stackFrames, totalFrames: raw.length };
  }

  frame(id: number): (RawFrame & { threadId: number }) | undefined {
    return this.frames.get(id);
  }
}
