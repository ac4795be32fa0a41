// Call frame information (DWARF 5 section 6.4, and .eh_frame as the LSB describes it): CIEs and FDEs
// read from .debug_frame or .eh_frame, and the row of the CFA table at a PC — how to find the
// caller's registers without frame pointers. Pure: the unwinder (src/adapter/stack.ts) applies the
// rules to a target's registers and memory.
import { ElfFormatError, Reader } from './reader';

/** How a register of the caller is recovered at a PC (DWARF 5 section 6.4.1). */
export type RegisterRule =
  | { kind: 'undefined' }
  | { kind: 'same' }
  /** Saved at CFA + offset. */
  | { kind: 'offset'; offset: bigint }
  /** Its value is CFA + offset. */
  | { kind: 'valOffset'; offset: bigint }
  | { kind: 'register'; register: number }
  /** Saved at the address a DWARF expression computes (the CFA pushed first). */
  | { kind: 'expression'; expr: Uint8Array }
  | { kind: 'valExpression'; expr: Uint8Array };

export type CfaRule =
  { kind: 'register'; register: number; offset: bigint } | { kind: 'expression'; expr: Uint8Array };

export interface CfaRow {
  cfa: CfaRule;
  /** Rules by DWARF register number (AArch64: 0–30 = x0–x30, 31 = sp). Absent = the CIE's default. */
  registers: Map<number, RegisterRule>;
  returnAddressRegister: number;
  /** The FDE's code range. */
  low: bigint;
  high: bigint;
}

interface Cie {
  codeAlign: bigint;
  dataAlign: bigint;
  returnAddressRegister: number;
  initial: Uint8Array;
  fdeEncoding: number;
  signalFrame: boolean;
}

interface Fde {
  low: bigint;
  high: bigint;
  cie: Cie;
  instructions: Uint8Array;
}

const DW_EH_PE_absptr = 0x00;
const DW_EH_PE_omit = 0xff;

export class CallFrameInfo {
  private readonly fdes: Fde[] = [];
  readonly errors: string[] = [];

  /**
   * `sections`: .debug_frame (CIE id 0xffffffff, absolute addresses) and/or .eh_frame (CIE id 0,
   * pointer encodings relative to the section's address `ehFrameAddress`). Both may describe the
   * same code; the first FDE covering a PC wins, .debug_frame first.
   */
  constructor(sections: { debugFrame?: Uint8Array; ehFrame?: Uint8Array; ehFrameAddress?: bigint }) {
    if (sections.debugFrame) this.read(sections.debugFrame, false, 0n);
    if (sections.ehFrame) this.read(sections.ehFrame, true, sections.ehFrameAddress ?? 0n);
    this.fdes.sort((a, b) => (a.low < b.low ? -1 : a.low > b.low ? 1 : 0));
  }

  get size(): number {
    return this.fdes.length;
  }

  private read(data: Uint8Array, eh: boolean, base: bigint): void {
    const cies = new Map<number, Cie>();
    const top = new Reader(data);
    while (!top.atEnd) {
      const start = top.pos;
      try {
        const { length, offsetSize } = top.initialLength();
        if (length === 0) {
          if (eh) break; // the .eh_frame terminator
          continue;
        }
        const end = top.pos + length;
        const idPos = top.pos;
        const r = top.window(top.pos, end);
        top.pos = end;
        const id = r.offset(offsetSize);
        const isCie = eh ? id === 0 : offsetSize === 4 ? id === 0xffffffff : id >= 2 ** 53 - 1;
        if (isCie) {
          cies.set(start, readCie(r, eh, end));
          continue;
        }
        const ciePos = eh ? idPos - id : id;
        let cie = cies.get(ciePos);
        if (!cie) {
          const cr = new Reader(data, ciePos);
          const cl = cr.initialLength();
          const ce = cr.pos + cl.length;
          const w = cr.window(cr.pos, ce);
          w.offset(cl.offsetSize);
          cie = readCie(w, eh, ce);
          cies.set(ciePos, cie);
        }
        const enc = eh ? cie.fdeEncoding : DW_EH_PE_absptr;
        const low = readPointer(r, enc, base + BigInt(r.pos));
        const range = readPointer(r, enc & 0x0f, 0n);
        if (eh && cieHasAugmentationData(cie)) r.skip(r.ulebn());
        const instructions = r.bytes.subarray(r.pos, end);
        if (range > 0n && low !== 0n) this.fdes.push({ low, high: low + range, cie, instructions });
      } catch (e) {
        this.errors.push(`${eh ? '.eh_frame' : '.debug_frame'} at ${start}: ${(e as Error).message}`);
        break;
      }
    }
  }

  private fdeAt(pc: bigint): Fde | undefined {
    let lo = 0;
    let hi = this.fdes.length - 1;
    let found: Fde | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.fdes[mid].low <= pc) {
        found = this.fdes[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found && pc < found.high ? found : undefined;
  }

  /** The CFA table row in effect at `pc`, or undefined when no FDE covers it. */
  rowAt(pc: bigint): CfaRow | undefined {
    const fde = this.fdeAt(pc);
    if (!fde) return undefined;
    const state: State = {
      cfa: { kind: 'register', register: 31, offset: 0n },
      registers: new Map(),
    };
    run(fde.cie.initial, fde.cie, state, undefined, fde.low, undefined);
    const initial = new Map(state.registers);
    run(fde.instructions, fde.cie, state, initial, fde.low, pc);
    return {
      cfa: state.cfa,
      registers: state.registers,
      returnAddressRegister: fde.cie.returnAddressRegister,
      low: fde.low,
      high: fde.high,
    };
  }
}

interface State {
  cfa: CfaRule;
  registers: Map<number, RegisterRule>;
}

/** Augmentation strings this reader understands ('z' + any of R, P, L, S, B). */
const cieAug = new WeakMap<Cie, boolean>();
const cieHasAugmentationData = (c: Cie) => cieAug.get(c) ?? false;

function readCie(r: Reader, eh: boolean, end: number): Cie {
  const version = r.u8();
  if (version !== 1 && version !== 3 && version !== 4)
    throw new ElfFormatError(`CIE version ${version} is not supported`);
  const aug = r.cstr();
  if (version === 4) {
    r.u8(); // address_size
    r.u8(); // segment_selector_size
  }
  const codeAlign = r.uleb();
  const dataAlign = r.sleb();
  const returnAddressRegister = version === 1 ? r.u8() : r.ulebn();
  let fdeEncoding = DW_EH_PE_absptr;
  let signalFrame = false;
  let z = false;
  if (aug.startsWith('z')) {
    z = true;
    const len = r.ulebn();
    const after = r.pos + len;
    for (const ch of aug.slice(1)) {
      if (ch === 'R') fdeEncoding = r.u8();
      else if (ch === 'P') readPointer(r, r.u8() & 0x7f, 0n);
      else if (ch === 'L') r.u8();
      else if (ch === 'S') signalFrame = true;
    }
    r.pos = after;
  } else if (aug !== '' && eh) {
    throw new ElfFormatError(`CIE augmentation '${aug}' is not supported`);
  }
  const cie: Cie = {
    codeAlign,
    dataAlign,
    returnAddressRegister,
    initial: r.bytes.subarray(r.pos, end),
    fdeEncoding,
    signalFrame,
  };
  cieAug.set(cie, z);
  return cie;
}

/** An encoded pointer (DW_EH_PE_*): absolute or pc-relative, of a fixed or LEB128 size. */
function readPointer(r: Reader, enc: number, pcrelBase: bigint): bigint {
  if (enc === DW_EH_PE_omit) return 0n;
  let v: bigint;
  switch (enc & 0x0f) {
    case 0x00:
      v = r.u64();
      break;
    case 0x01:
      v = r.uleb();
      break;
    case 0x02:
      v = BigInt(r.u16());
      break;
    case 0x03:
      v = BigInt(r.u32());
      break;
    case 0x04:
      v = r.u64();
      break;
    case 0x09:
      v = r.sleb();
      break;
    case 0x0a:
      v = BigInt(r.i16());
      break;
    case 0x0b:
      v = BigInt(r.i32());
      break;
    case 0x0c:
      v = r.i64();
      break;
    default:
      throw new ElfFormatError(`pointer encoding 0x${enc.toString(16)} is not supported`);
  }
  if ((enc & 0x70) === 0x10) v += pcrelBase;
  return BigInt.asUintN(64, v);
}

/** Runs call frame instructions until the location passes `pc` (all of them when undefined). */
function run(
  code: Uint8Array,
  cie: Cie,
  st: State,
  initial: Map<number, RegisterRule> | undefined,
  start: bigint,
  pc: bigint | undefined,
): void {
  const r = new Reader(code);
  let loc = start;
  const stack: State[] = [];
  const advance = (delta: bigint): boolean => {
    loc += delta * cie.codeAlign;
    return pc !== undefined && loc > pc;
  };
  const restore = (reg: number) => {
    const rule = initial?.get(reg);
    if (rule) st.registers.set(reg, rule);
    else st.registers.delete(reg);
  };
  const factored = (n: bigint) => n * cie.dataAlign;
  while (!r.atEnd) {
    const op = r.u8();
    const high = op & 0xc0;
    const low = op & 0x3f;
    if (high === 0x40) {
      if (advance(BigInt(low))) return;
      continue;
    }
    if (high === 0x80) {
      st.registers.set(low, { kind: 'offset', offset: factored(r.uleb()) });
      continue;
    }
    if (high === 0xc0) {
      restore(low);
      continue;
    }
    switch (op) {
      case 0x00: // nop
        break;
      case 0x01: // set_loc
        loc = r.u64();
        if (pc !== undefined && loc > pc) return;
        break;
      case 0x02:
        if (advance(BigInt(r.u8()))) return;
        break;
      case 0x03:
        if (advance(BigInt(r.u16()))) return;
        break;
      case 0x04:
        if (advance(BigInt(r.u32()))) return;
        break;
      case 0x05: {
        const reg = r.ulebn();
        st.registers.set(reg, { kind: 'offset', offset: factored(r.uleb()) });
        break;
      }
      case 0x06:
        restore(r.ulebn());
        break;
      case 0x07:
        st.registers.set(r.ulebn(), { kind: 'undefined' });
        break;
      case 0x08:
        st.registers.set(r.ulebn(), { kind: 'same' });
        break;
      case 0x09: {
        const reg = r.ulebn();
        st.registers.set(reg, { kind: 'register', register: r.ulebn() });
        break;
      }
      case 0x0a:
        stack.push({ cfa: { ...st.cfa }, registers: new Map(st.registers) });
        break;
      case 0x0b: {
        const s = stack.pop();
        if (s) {
          st.cfa = s.cfa;
          st.registers = s.registers;
        }
        break;
      }
      case 0x0c: {
        const reg = r.ulebn();
        st.cfa = { kind: 'register', register: reg, offset: r.uleb() };
        break;
      }
      case 0x0d:
        st.cfa = {
          kind: 'register',
          register: r.ulebn(),
          offset: st.cfa.kind === 'register' ? st.cfa.offset : 0n,
        };
        break;
      case 0x0e:
        if (st.cfa.kind === 'register') st.cfa = { ...st.cfa, offset: r.uleb() };
        else r.uleb();
        break;
      case 0x0f:
        st.cfa = { kind: 'expression', expr: block(r) };
        break;
      case 0x10: {
        const reg = r.ulebn();
        st.registers.set(reg, { kind: 'expression', expr: block(r) });
        break;
      }
      case 0x11: {
        const reg = r.ulebn();
        st.registers.set(reg, { kind: 'offset', offset: factored(r.sleb()) });
        break;
      }
      case 0x12: {
        const reg = r.ulebn();
        st.cfa = { kind: 'register', register: reg, offset: factored(r.sleb()) };
        break;
      }
      case 0x13:
        if (st.cfa.kind === 'register') st.cfa = { ...st.cfa, offset: factored(r.sleb()) };
        else r.sleb();
        break;
      case 0x14: {
        const reg = r.ulebn();
        st.registers.set(reg, { kind: 'valOffset', offset: factored(r.uleb()) });
        break;
      }
      case 0x15: {
        const reg = r.ulebn();
        st.registers.set(reg, { kind: 'valOffset', offset: factored(r.sleb()) });
        break;
      }
      case 0x16: {
        const reg = r.ulebn();
        st.registers.set(reg, { kind: 'valExpression', expr: block(r) });
        break;
      }
      case 0x2d: // DW_CFA_AARCH64_negate_ra_state (pointer authentication): no effect on values read here
        break;
      case 0x2e: // DW_CFA_GNU_args_size
        r.uleb();
        break;
      case 0x2f: {
        // DW_CFA_GNU_negative_offset_extended
        const reg = r.ulebn();
        st.registers.set(reg, { kind: 'offset', offset: -factored(r.uleb()) });
        break;
      }
      default:
        throw new ElfFormatError(`call frame instruction 0x${op.toString(16)} is not supported`);
    }
  }
}

function block(r: Reader): Uint8Array {
  const n = r.ulebn();
  const start = r.pos;
  r.skip(n);
  return r.bytes.subarray(start, start + n);
}
