// Source-level variables: the Locals, Arguments and Globals scopes of a frame (a physical frame or
// an inlined call), values read from DWARF locations against the frame's registers (the stop's, or
// those CFI recovered for a caller) and formatted as gdb prints them, children expandable, values
// with memoryReference; and C-like expressions (expr.ts) over the same variables for evaluate.
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { ElfImage } from '../elf';
import type { FormValue } from '../elf/forms';
import type { FrameContext, ProgramScopes, ScopeFrame, VariableDie } from '../elf/program';
import { strip, typeName, type CType } from '../elf/types';
import {
  children,
  formatValue,
  isCharType,
  OPTIMIZED_OUT,
  rustSlice,
  scalar as scalarOf,
  sliceElements,
  toBigInt,
  type FormatContext,
  type Value,
} from '../elf/values';
import { GENERAL_REGISTERS } from '../target/registers';
import { StopContext } from '../target/stopContext';
import { CExpression } from './expr';
import type { AdapterHost } from './host';
import { memoryReference, readSpan } from './memory';
import type { StackFrameInfo } from './stackView';

const hex = (a: bigint) => `0x${a.toString(16)}`;

/** Where a value was read: the frame (its registers) and the stop. */
interface ReadAt {
  readonly info: StackFrameInfo;
  readonly stopId: number;
}

/** A variable, member or element shown in the Variables view: setVariable writes it (scalars only). */
interface Writable extends ReadAt {
  readonly value: Value;
}

export class SourceVariables {
  /** Scalars shown in Locals/Arguments/Globals, by container reference and name (setVariable). */
  private readonly writable = new Map<string, Writable>();

  constructor(
    private readonly s: Pick<
      AdapterHost,
      'gdb' | 'port' | 'mmu' | 'vars' | 'need' | 'requireStopped' | 'refreshContext'
    >,
    private readonly image: () => ElfImage | undefined,
  ) {}

  private program(): ProgramScopes | undefined {
    return this.image()?.scopes();
  }

  /** Memory of the stopped target for values; device pages are never read implicitly. */
  private async read(address: bigint, size: number): Promise<Uint8Array> {
    if (await this.s.mmu.isDevice('virtual', address))
      throw new Error(`0x${address.toString(16)} is device memory (reading has side effects)`);
    const r = await readSpan(this.s.need(this.s.port), { space: 'virtual', address }, size);
    if (r.faultAt !== undefined) throw new Error(`cannot read 0x${r.faultAt.toString(16)}`);
    return r.data;
  }

  private fmt(): FormatContext {
    const image = this.image();
    return {
      read: (a, n) => this.read(a, n),
      symbolFor: (a) => {
        const hit = image?.symbolAt(a);
        if (!hit || hit.symbol.type === 'notype' || (hit.symbol.size === 0n && hit.offset !== 0n))
          return undefined;
        return hit.offset === 0n ? hit.name : `${hit.name}+${hit.offset}`;
      },
    };
  }

  /** The registers and CFA of a physical frame, and its caller's (for entry values). */
  async frameContext(
    info: StackFrameInfo,
    ctx: StopContext,
    rawIndex = info.view?.rawIndex ?? 0,
  ): Promise<FrameContext> {
    const raw = info.all?.[rawIndex] ?? info;
    let regs = raw.regs;
    if (rawIndex === 0 && !regs) {
      // Another vCPU's stack: its own registers, not the stopped thread's.
      const tctx =
        info.threadId === ctx.threadId
          ? ctx
          : new StopContext(this.s.need(this.s.port), info.threadId, ctx.stopId);
      const g = await tctx.regs(GENERAL_REGISTERS);
      regs = new Map();
      for (let i = 0; i <= 30; i++) {
        const v = g.get(`x${i}`);
        if (v !== undefined) regs.set(i, v);
      }
      const sp = g.get('sp');
      if (sp !== undefined) regs.set(31, sp);
    }
    const known = regs ?? new Map<number, bigint>();
    const fc: FrameContext = {
      pc: raw.pc,
      register: (n) => known.get(n),
      read: (a, n) => this.read(a, n),
      ...(raw.cfa !== undefined ? { cfa: raw.cfa } : {}),
    };
    const up = info.all?.[rawIndex + 1];
    if (up && rawIndex < 32 && !up.interrupted) {
      const callerRegs = up.regs ?? new Map<number, bigint>();
      fc.caller = {
        pc: up.pc,
        register: (n) => callerRegs.get(n),
        read: (a, n) => this.read(a, n),
        ...(up.cfa !== undefined ? { cfa: up.cfa } : {}),
      };
    }
    return fc;
  }

  /** Locals, Arguments and Globals of a frame with DWARF scopes (none otherwise). */
  scopes(info: StackFrameInfo | undefined): Promise<DebugProtocol.Scope[]> {
    const program = this.program();
    const view = info?.view;
    if (!program || !info || !view?.scopes || view.scopeIndex === undefined) return Promise.resolve([]);
    const frame = view.scopes[view.scopeIndex];
    const ctx = this.s.requireStopped();
    const vars = program.variables(frame);
    const lazy = (list: VariableDie[]) => {
      const ref: number = this.s.vars.add({
        kind: 'lazy',
        load: async () => {
          const fc = await this.frameContext(info, ctx);
          const out: DebugProtocol.Variable[] = [];
          for (const v of list) {
            const value = await program.value(v, fc, view.scopes!.slice(view.scopeIndex));
            out.push(await this.variable(v.name, value, v.name, { info, stopId: ctx.stopId }, ref));
          }
          return out;
        },
      });
      return ref;
    };
    const out: DebugProtocol.Scope[] = [
      {
        name: 'Locals',
        presentationHint: 'locals',
        variablesReference: lazy(vars.filter((v) => !v.parameter)),
        expensive: false,
      },
      {
        name: 'Arguments',
        presentationHint: 'arguments',
        variablesReference: lazy(vars.filter((v) => v.parameter)),
        expensive: false,
      },
    ];
    if (program.globals().length)
      out.push({ name: 'Globals', variablesReference: lazy(program.globals()), expensive: true });
    return Promise.resolve(out);
  }

  /**
   * Sets a scalar shown in this stop's Variables view — a local, argument or global, or a member or
   * element of one (the user's explicit setVariable): the new value is a C expression in the
   * variable's frame, written to the register (its bytes of it) or the memory its location names.
   * Undefined when the variable is not one of ours.
   */
  async setVariable(
    args: DebugProtocol.SetVariableArguments,
  ): Promise<DebugProtocol.SetVariableResponse['body'] | undefined> {
    const w = this.writable.get(`${args.variablesReference}\0${args.name}`);
    if (!w) return undefined;
    const ctx = this.s.requireStopped();
    if (w.stopId !== ctx.stopId) throw new Error(`${args.name}: the target ran since it was read: refresh`);
    const kind = strip(w.value.type).kind;
    if (kind !== 'base' && kind !== 'enum' && kind !== 'pointer')
      throw new Error(
        `${args.name} cannot be set as a whole (${typeName(w.value.type)}): set its members or elements one by one`,
      );
    if (!w.value.bytes)
      throw new Error(
        `${args.name} cannot be set here: it is optimized out (${w.value.why ?? 'no location'})`,
      );
    if (w.value.computed)
      throw new Error(
        `${args.name} cannot be set here: its value is computed by the debug information (or is a bit-field), not stored in a register or memory`,
      );
    const size = sizeOfSafe(w.value.type);
    const v = BigInt.asUintN(size * 8, await this.scalar(args.value, w.info, ctx));
    // Writes go to the live gdbstub (a snapshot session refuses setVariable before it gets here).
    const port = this.s.need(this.s.gdb);
    if (w.value.register !== undefined && w.info.threadId === ctx.threadId && !w.info.view?.rawIndex) {
      // A register of the innermost frame: only the value's bytes of it change (a member of a
      // small struct sits at registerByte), the rest of the register is kept as it is.
      const shift = BigInt(8 * (w.value.registerByte ?? 0));
      if (shift + BigInt(size * 8) > 64n)
        throw new Error(`${args.name} cannot be set here: it does not fit its register`);
      const name = w.value.register === 31 ? 'sp' : `x${w.value.register}`;
      const old = (await ctx.reg(name)) ?? 0n;
      const mask = (size >= 8 ? (1n << 64n) - 1n : (1n << BigInt(size * 8)) - 1n) << shift;
      await port.writeRegister(name, (old & ~mask) | (v << shift), ctx.threadId);
    } else if (w.value.address !== undefined && w.value.register === undefined) {
      if (await this.s.mmu.isDevice('virtual', w.value.address))
        throw new Error(
          `${args.name} is in device memory: writing it has side effects (use the Memory view)`,
        );
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i++) bytes[i] = Number((v >> BigInt(8 * i)) & 0xffn);
      await port.writeMemory(w.value.address, bytes);
      // The analysis's page cache may hold that memory (a variable can be a table entry).
      this.s.mmu.invalidateMemory();
    } else if (w.value.register !== undefined) {
      throw new Error(`${args.name} cannot be set here: it lives in a caller’s register`);
    } else {
      throw new Error(`${args.name} cannot be set here: it is split over registers and memory`);
    }
    this.s.refreshContext();
    const now: Value = { ...w.value, bytes: le64(v, size) };
    return { value: await formatValue(now, this.fmt(), false), type: typeName(w.value.type) };
  }

  /** A DAP variable for a value: gdb's text, its C type, children and a memory reference. */
  async variable(
    name: string,
    v: Value,
    evaluateName: string,
    at?: ReadAt,
    container?: number,
  ): Promise<DebugProtocol.Variable> {
    // Remembered for setVariable (by the container's reference and the name shown in it).
    if (at && container !== undefined) this.writable.set(`${container}\0${name}`, { value: v, ...at });
    const out: DebugProtocol.Variable = {
      name,
      value: await formatValue(v, this.fmt(), false).catch((e: Error) => `<error: ${e.message}>`),
      type: typeName(v.type),
      variablesReference: 0,
      evaluateName,
    };
    if (v.address !== undefined) out.memoryReference = memoryReference('virtual', v.address);
    const s = strip(v.type);
    if (!v.bytes) {
      // A partly-known struct or array still opens onto its known members and elements.
      if (v.partial && (s.kind === 'struct' || s.kind === 'union' || s.kind === 'array'))
        out.variablesReference = this.childrenOf(v, evaluateName, at);
      else out.presentationHint = { attributes: ['readOnly'] };
      if (s.kind === 'array') out.indexedVariables = s.count ?? 0;
      return out;
    }
    const slice = rustSlice(v.type);
    if (slice && !slice.str) {
      // A Rust slice expands into its elements (read when expanded), as gdb prints them.
      const length = Number(toBigInt(v.bytes.subarray(slice.length.offset, slice.length.offset + 8)));
      const ref: number = this.s.vars.add({
        kind: 'lazy',
        load: async () => {
          const els = await sliceElements(v, { read: (a, n) => this.read(a, n) }, 1000);
          if (!els?.bytes) return [];
          const list: DebugProtocol.Variable[] = [];
          for (const c of children(els))
            list.push(await this.variable(c.name, c.value, `${evaluateName}${c.name}`, at, ref));
          return list;
        },
      });
      out.variablesReference = ref;
      out.indexedVariables = length;
      return out;
    }
    if (s.kind === 'struct' || s.kind === 'union' || s.kind === 'array') {
      out.variablesReference = this.childrenOf(v, evaluateName, at);
      if (s.kind === 'array') out.indexedVariables = s.count ?? 0;
    } else if (s.kind === 'pointer') {
      const target = toBigInt(v.bytes);
      if (target !== 0n) out.memoryReference = memoryReference('virtual', target);
      if (target !== 0n && derefable(s.target)) {
        const ref: number = this.s.vars.add({
          kind: 'lazy',
          load: async () => {
            const size = sizeOfSafe(s.target);
            const bytes = await this.read(target, size).catch(() => undefined);
            const pointee: Value = bytes
              ? { type: s.target, address: target, bytes }
              : { type: s.target, address: target, why: OPTIMIZED_OUT };
            return [await this.variable(`*${name}`, pointee, `*(${evaluateName})`, at, ref)];
          },
        });
        out.variablesReference = ref;
      }
    }
    return out;
  }

  /** A reference to the members or elements of an aggregate (read when expanded, at most 1,000). */
  private childrenOf(v: Value, evaluateName: string, at: ReadAt | undefined): number {
    const ref: number = this.s.vars.add({
      kind: 'lazy',
      load: async () => {
        const list: DebugProtocol.Variable[] = [];
        for (const c of children(v).slice(0, 1000)) {
          const path = c.name.startsWith('[') ? `${evaluateName}${c.name}` : `(${evaluateName}).${c.name}`;
          list.push(await this.variable(c.name, c.value, path, at, ref));
        }
        return list;
      },
    });
    return ref;
  }

  /**
   * The innermost frame at `pc` without an unwind (a breakpoint hit deciding its condition): its
   * registers are the hit's, an inlined call starting exactly at `pc` shows from its call site.
   */
  topFrame(pc: bigint, threadId: number): StackFrameInfo {
    const scopes = this.program()?.framesAt(pc) ?? [];
    let first = 0;
    while (
      first < scopes.length - 1 &&
      scopes[first].inlined &&
      scopes[first].ranges.some((r) => r.low === pc)
    )
      first++;
    const raw = { pc };
    return { ...raw, threadId, all: [raw], view: { raw, rawIndex: 0, scopes, scopeIndex: first } };
  }

  /** A C expression's integer value (conditions), in `info` with the registers of `ctx`. */
  async scalar(text: string, info: StackFrameInfo, ctx: StopContext): Promise<bigint> {
    const v = scalarOf(await this.value(text, info, ctx));
    if (v === undefined) throw new Error(`'${text}' is optimized out here`);
    return v;
  }

  /** A C expression in a frame (or over globals only, without one). */
  async evaluate(
    text: string,
    info: StackFrameInfo | undefined,
  ): Promise<DebugProtocol.EvaluateResponse['body']> {
    const ctx = this.s.requireStopped();
    const value = await this.value(text, info, ctx);
    // A watch's members and elements are writable like the Variables view's (not the value itself:
    // setExpression is not offered).
    const v = await this.variable('', value, text, info ? { info, stopId: ctx.stopId } : undefined);
    return {
      result: await formatValue(value, this.fmt(), true),
      type: v.type,
      variablesReference: v.variablesReference,
      ...(v.memoryReference ? { memoryReference: v.memoryReference } : {}),
      ...(v.indexedVariables !== undefined ? { indexedVariables: v.indexedVariables } : {}),
    };
  }

  private async value(text: string, info: StackFrameInfo | undefined, ctx: StopContext): Promise<Value> {
    const program = this.program();
    if (!program) throw new Error('the program has no DWARF debug information');
    const view = info?.view;
    const frames = view?.scopes && view.scopeIndex !== undefined ? view.scopes.slice(view.scopeIndex) : [];
    const fc = info ? await this.frameContext(info, ctx) : undefined;
    const fn = frames[frames.length - 1];
    const rust = fn ? isRust(fn.die.unit.root.attrs.get(DW_AT_language)) : this.rustProgram();
    return CExpression.evaluate(text, {
      rust,
      variable: async (name) => {
        if (fc && !name.includes('::'))
          for (const f of frames) {
            const v = program.variables(f).find((x) => x.name === name);
            if (v) return program.value(v, fc, frames);
          }
        const g = this.global(name, rust ? fn?.name : undefined);
        if (!g) return rust ? program.enumConstant(name) : undefined;
        return program.value(g, fc ?? { pc: 0n, register: () => undefined, read: (a, n) => this.read(a, n) });
      },
      register: async (name) => {
        const n = /^x(\d+)$/i.exec(name);
        if (fc && n && Number(n[1]) <= 30 && info?.view?.rawIndex) return fc.register(Number(n[1]));
        if (fc && name.toLowerCase() === 'sp' && info?.view?.rawIndex) return fc.register(31);
        return ctx.reg(name);
      },
      type: (name) => program.typeByName(name),
      read: (a, n) => this.read(a, n),
    });
  }

  /**
   * A global by name. In a Rust function (`fnName` = `rust_opt::net::find`) also as Rust resolves a
   * path there: `crate::X` from the function's crate, `self::X` / `super::X` from its module, and a
   * bare `X` in its module or an enclosing one (gdb finds `TABLE` in `rust_opt::find`).
   */
  private global(name: string, fnName: string | undefined): VariableDie | undefined {
    const program = this.program();
    const exact = program?.globalNamed(name);
    if (exact || !fnName || !program) return exact;
    const module = fnName.split('::').slice(0, -1);
    const parts = name.split('::');
    let candidates: string[];
    // A method's path holds its type (`rust_opt::Tracker::first_base`) or impl (`{impl#0}`): a
    // module-relative name is tried from the innermost prefix outwards.
    const outwards = (rest: string) =>
      module.map((_x, i) => [...module.slice(0, module.length - i), rest].join('::'));
    if (parts[0] === 'crate') candidates = [[module[0], ...parts.slice(1)].join('::')];
    else if (parts[0] === 'self' && parts[1] !== 'super') candidates = outwards(parts.slice(1).join('::'));
    else if (parts[0] === 'self' || parts[0] === 'super') {
      let at = module.length;
      let i = 0;
      for (; parts[i] === 'self' || parts[i] === 'super'; i++) if (parts[i] === 'super') at--;
      candidates = at > 0 ? [[...module.slice(0, at), ...parts.slice(i)].join('::')] : [];
    } else candidates = outwards(name);
    for (const c of candidates) {
      const g = program.globalNamed(c);
      if (g) return g;
    }
    return undefined;
  }

  private rustCache?: { image: ElfImage | undefined; rust: boolean };

  /** Whether the program has Rust units (expressions outside a frame then read as Rust). */
  private rustProgram(): boolean {
    const image = this.image();
    let cache = this.rustCache;
    if (!cache || cache.image !== image) {
      cache = { image, rust: (image?.compileUnits() ?? []).some((u) => u.language === DW_LANG_Rust) };
      this.rustCache = cache;
    }
    return cache.rust;
  }

  /** Whether `name` is a variable the program's DWARF knows (in the frame or global). */
  knows(name: string, info: StackFrameInfo | undefined, localsOnly = false): boolean {
    const program = this.program();
    if (!program) return false;
    const view = info?.view;
    const frames: ScopeFrame[] =
      view?.scopes && view.scopeIndex !== undefined ? view.scopes.slice(view.scopeIndex) : [];
    return (
      frames.some((f) => program.variables(f).some((v) => v.name === name)) ||
      (!localsOnly && this.global(name, frames[frames.length - 1]?.name) !== undefined)
    );
  }
}

const DW_AT_language = 0x13;
const DW_LANG_Rust = 0x1c;

function isRust(lang: FormValue | undefined): boolean {
  return lang?.kind === 'const' && Number(lang.value) === DW_LANG_Rust;
}

function derefable(t: CType): boolean {
  const s = strip(t);
  return s.kind !== 'void' && s.kind !== 'function' && !isCharType(t);
}

function sizeOfSafe(t: CType): number {
  const s = strip(t);
  return s.kind === 'struct' ||
    s.kind === 'union' ||
    s.kind === 'base' ||
    s.kind === 'enum' ||
    s.kind === 'pointer'
    ? Math.max(1, s.size)
    : 8;
}

export { hex as hexAddress };

function le64(v: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}
