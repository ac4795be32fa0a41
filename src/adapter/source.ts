// Source-level features wired into the session: source breakpoints, line stepping and the
// disassemble request (modules by the ELF/DWARF work: sourceBreakpoints.ts, lineStepping.ts,
// disassemble.ts), over the program's ElfImage and the session's run control.
import type { DebugProtocol } from '@vscode/debugprotocol';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import type { ElfImage } from '../elf';
import { disassemble } from './disassemble';
import { evalAddress, parseExpression, type Expression } from './evaluate';
import { LineStepper, type LineStepTarget, type StepResult } from './lineStepping';
import { fromLittleEndian, readSpan } from './memory';
import type { Stop } from '../target/runControl';
import type { RawFrame } from './stack';
import type { StackFrameInfo } from './stackView';
import { SourceVariables } from './sourceVars';
import type { AdapterHost } from './host';
import { localSourcePath, SourceBreakpoints, sourceRoots } from './sourceBreakpoints';
import { StopContext } from '../target/stopContext';

export class SourceSupport {
  image: ElfImage | undefined;
  programPath: string | undefined;
  readonly breakpoints: SourceBreakpoints;
  private readonly sources = new Map<string, DebugProtocol.Source>();

  readonly variables: SourceVariables;

  constructor(
    private readonly s: Pick<
      AdapterHost,
      | 'gdb'
      | 'port'
      | 'run'
      | 'bps'
      | 'symbols'
      | 'mmu'
      | 'vars'
      | 'need'
      | 'requireStopped'
      | 'log'
      | 'refreshContext'
    >,
  ) {
    this.variables = new SourceVariables(s, () => this.image);
    this.breakpoints = new SourceBreakpoints(() => this.image, {
      replace: (owner, addrs) => s.bps.replace(owner, addrs),
    });
  }

  setProgram(image: ElfImage, path: string): void {
    this.image = image;
    this.programPath = path;
  }

  /** DAP Source for a DWARF path, mapped to a file on this machine when one exists. */
  source(dwarfPath: string): DebugProtocol.Source {
    let src = this.sources.get(dwarfPath);
    if (!src) {
      const local = localSourcePath(dwarfPath, sourceRoots(this.programPath), existsSync);
      src = local
        ? { name: basename(local), path: local }
        : { name: basename(dwarfPath), path: dwarfPath, presentationHint: 'deemphasize' };
      this.sources.set(dwarfPath, src);
    }
    return src;
  }

  location(pc: bigint): { source: DebugProtocol.Source; line: number; column: number } | undefined {
    const l = this.image?.lineForAddress(pc);
    if (!l || l.line === 0) return undefined;
    return { source: this.source(l.file), line: l.line, column: l.column > 0 ? l.column : 1 };
  }

  /**
   * The scopes request: the frame's Locals, Arguments and Globals from DWARF, after the Fault scope
   * when the register scopes start with it (at a fault the verdict stays first).
   */
  async scopes(
    frame: StackFrameInfo | undefined,
    base: () => Promise<DebugProtocol.ScopesResponse['body']>,
  ): Promise<DebugProtocol.ScopesResponse['body']> {
    const regs = (await base()).scopes;
    const src = await Promise.resolve()
      .then(() => this.variables.scopes(frame))
      .catch(() => []);
    const at = regs[0]?.name === 'Fault' ? 1 : 0;
    return { scopes: [...regs.slice(0, at), ...src, ...regs.slice(at)] };
  }

  /**
   * The evaluate request: console commands, memory reads and register/address sums go to the
   * console language (`fallback`); anything naming a variable of the program's DWARF, or that only
   * C reads (`a->b[2]`, `&x`, casts, sizeof), is a C expression in the frame. In the Debug Console a
   * global's bare name keeps its documented console meaning (its address, `pt_root`); a local or
   * argument there, and any name in watches and hovers, is the variable's value.
   */
  async evaluateRequest(
    args: DebugProtocol.EvaluateArguments,
    frame: StackFrameInfo | undefined,
    fallback: () => Promise<DebugProtocol.EvaluateResponse['body']>,
  ): Promise<DebugProtocol.EvaluateResponse['body']> {
    let console: Expression | undefined;
    let consoleError: unknown;
    try {
      console = parseExpression(args.expression);
    } catch (e) {
      consoleError = e;
    }
    if (!this.image?.scopes()) return fallback();
    if (consoleError !== undefined) {
      // Not the console language: C. When C stumbles on the first word too (`x/16q ADDR`, a console
      // command used wrongly), the console's usage message is the one that helps.
      try {
        return await this.variables.evaluate(args.expression, frame);
      } catch (e) {
        const first = /^\s*([A-Za-z_]\w*)/.exec(args.expression)?.[1];
        const missing = /^no symbol "(\w+)"/.exec((e as Error).message)?.[1];
        if (first && missing === first) return fallback();
        throw e;
      }
    }
    if (console && console.kind !== 'value') return fallback();
    if (console?.kind === 'value') {
      const named = console.expr.terms.flatMap((t) => (t.term.kind === 'symbol' ? [t.term.name] : []));
      // `a.b` reads as one symbol name to the console: its first part decides.
      const repl = args.context === 'repl';
      if (!named.some((n) => this.variables.knows(n.split('.')[0], frame, repl))) {
        try {
          return await fallback();
        } catch (e) {
          // Not a symbol or register (`last_word.value`): C, keeping the console's error otherwise.
          return this.variables.evaluate(args.expression, frame).catch(() => Promise.reject(e as Error));
        }
      }
    }
    return this.variables.evaluate(args.expression, frame);
  }

  /** Value of a condition or logpoint expression: the console language plus one comparison. */
  async evaluate(text: string, ctx?: StopContext): Promise<bigint | boolean> {
    // A condition over the program's variables (`addr == 0x9010456`, `r->mode != 0`) is C, read in
    // the frame of this hit; the console language is the fallback's fallback, as before.
    const at = ctx ?? this.s.requireStopped();
    const pc = this.image?.scopes() ? await at.reg('pc') : undefined;
    if (pc !== undefined) {
      const frame = this.variables.topFrame(pc, at.threadId);
      const words = text.replace(/\$\w+|0x[0-9a-f]+/gi, ' ').match(/[A-Za-z_]\w*/g) ?? [];
      if (words.some((w) => this.variables.knows(w, frame))) return this.variables.scalar(text, frame, at);
      try {
        return await this.consoleCondition(text, at);
      } catch (e) {
        // Not the console language: C, whose error is kept only when the console had none to say.
        return this.variables.scalar(text, frame, at).catch(() => Promise.reject(e as Error));
      }
    }
    return this.consoleCondition(text, at);
  }

  private async consoleCondition(text: string, ctx: StopContext): Promise<bigint | boolean> {
    // The first operator splits the text (a search, not `^(.*?)\s*(op)`, which backtracks
    // quadratically over spaces in a long condition).
    const cmp = /==|!=|>=|<=|>|</.exec(text);
    if (cmp && !text.trim().startsWith('*')) {
      const a = await this.value(text.slice(0, cmp.index), ctx);
      const b = await this.value(text.slice(cmp.index + cmp[0].length), ctx);
      switch (cmp[0]) {
        case '==':
          return a === b;
        case '!=':
          return a !== b;
        case '>=':
          return a >= b;
        case '<=':
          return a <= b;
        case '>':
          return a > b;
        default:
          return a < b;
      }
    }
    return this.value(text, ctx);
  }

  private async value(text: string, at?: StopContext): Promise<bigint> {
    const ctx = at ?? this.s.requireStopped();
    const e: Expression = parseExpression(text);
    const lookup = {
      register: (n: string) => ctx.reg(n),
      symbol: (n: string) => this.s.symbols.lookup(n)?.address,
    };
    if (e.kind === 'value') return evalAddress(e.expr, lookup);
    if (e.kind === 'deref') {
      const a = await evalAddress(e.address, lookup);
      const r = await readSpan(
        this.s.need(this.s.port),
        { space: e.physical ? 'physical' : 'virtual', address: a },
        e.width,
      );
      if (r.faultAt !== undefined) throw new Error(`cannot read 0x${a.toString(16)}`);
      return fromLittleEndian(r.data);
    }
    throw new Error(`'${text}' is a command, not a value`);
  }

  /** A hit on source breakpoints: conditions, hit counts, logpoints. Undefined = do not stop. */
  async onHit(pc: bigint, threadId: number): Promise<Stop | undefined> {
    // The registers of this hit, not of the last reported stop: a logpoint or a condition is
    // decided while the target is between reported stops.
    const hit = new StopContext(this.s.need(this.s.gdb), threadId, -1);
    const d = await this.breakpoints.onHit(pc, (t) => this.evaluate(t, hit));
    for (const line of d.logs) this.s.log(line, 'console');
    for (const err of d.errors) this.s.log(err, 'stderr');
    if (!d.stop) return undefined;
    return { reason: 'breakpoint', threadId, pc, hitBreakpointIds: d.ids, description: 'Breakpoint' };
  }

  async disassemble(
    args: DebugProtocol.DisassembleArguments,
  ): Promise<DebugProtocol.DisassembleResponse['body']> {
    this.s.requireStopped();
    const port = this.s.need(this.s.port);
    const image = this.image;
    // Capstone is a large module: loaded on the first disassemble request, not at adapter start.
    const { sharedDisassembler } = await import('../disasm');
    const decoder = await sharedDisassembler();
    return disassemble(args, {
      memory: {
        // The view lists around any address it is given: never read device registers to fill it
        // (a read has side effects). Chunks are 1 KiB-aligned, so one check covers a chunk.
        readMemory: async (a, n) => {
          if (await this.s.mmu.isDevice('virtual', a)) throw new Error('device memory');
          return port.readMemory(a, n);
        },
      },
      decoder,
      symbols: {
        symbolAt: (a) => {
          const m = this.s.symbols.find(a);
          return m ? { name: m.symbol.name, offset: m.offset } : undefined;
        },
        ...(image ? { lineForAddress: (a: bigint) => image.lineForAddress(a) } : {}),
      },
      source: (p) => this.source(p),
    });
  }

  /** Line stepping when the PC has line information; undefined = the caller steps by instruction. */
  async stepLine(
    threadId: number,
    kind: 'in' | 'over' | 'out',
    returnAddress: bigint | undefined,
    caller?: RawFrame,
  ): Promise<StepResult | undefined> {
    const image = this.image;
    const run = this.s.need(this.s.run);
    const gdb = this.s.need(this.s.gdb);
    if (!image?.hasDebugLines) return undefined;
    const target: LineStepTarget = {
      stepInstruction: () => run.haltStep(threadId),
      runTo: (a) => run.haltRunTo(threadId, a),
      readRegister: (n) => gdb.readRegister(n, threadId),
      readInstruction: async (a) => {
        try {
          return Number(fromLittleEndian(await gdb.readMemory(a, 4)));
        } catch {
          return undefined;
        }
      },
    };
    const stepper = new LineStepper(target, image);
    const pc = await gdb.readRegister('pc', threadId);
    // Out of an inlined call: until its code is left. Out of a function: to the return address with
    // the caller's SP from CFI, reached exactly when the frame is gone, even from a frameless leaf.
    const inline = stepper.inlinedFrame(pc);
    if (kind === 'out' && inline) return stepper.stepOutInline(inline.ranges);
    if (kind === 'out')
      return returnAddress === undefined
        ? undefined
        : stepper.stepOut(returnAddress, undefined, caller?.regs?.get(31));
    if (!stepper.hasLine(pc)) return undefined;
    return kind === 'in' ? stepper.stepIn() : stepper.next();
  }
}
