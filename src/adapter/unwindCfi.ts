// The call stack from call frame information (.debug_frame / .eh_frame): each frame's registers are
// recovered from the CFA rules at its PC, so frameless functions, leaves (the return address still
// in x30) and code without frame pointers unwind exactly. An exception vector is crossed as today:
// the frame after a PC in a vector table is the interrupted context at ELR_ELx, its registers those
// the vector stub's CFI restores (or, without CFI, the frame-record chain as before).
import { vectorAt } from '../aarch64/vectors';
import type { CfaRow } from '../elf/cfi';
import type { RawFrame } from './stack';

/** AArch64 DWARF register numbers: x0–x30 are 0–30, sp 31. */
export const DW_SP = 31;
const DW_LR = 30;
/** x19–x29 and sp: what a caller may count on after a call (AAPCS64); x0–x18 are the callee's. */
const calleeSaved = (r: number) => r >= 19 && r <= 29;

export interface CfiUnwindInput {
  pc: bigint;
  /** The stopped registers by DWARF number (0–30, 31 = sp). */
  regs: Map<number, bigint>;
  vectors: { el: 1 | 2; vbar?: bigint; elr?: bigint }[];
  rowAt(pc: bigint): CfaRow | undefined;
  readU64(address: bigint): Promise<bigint | undefined>;
  /** The frame-record chain (stack.ts), for code without CFI. */
  chain(pc: bigint, x29: bigint | undefined, x30: bigint | undefined, out: RawFrame[]): Promise<void>;
  maxFrames?: number;
}

const sane = (p: bigint) => p !== 0n && (p & 3n) === 0n && p < 1n << 56n;

/** Registers of the caller of a frame at `pc` with registers `regs`, or undefined without CFI. */
async function callerRegs(
  row: CfaRow,
  regs: Map<number, bigint>,
  readU64: (a: bigint) => Promise<bigint | undefined>,
): Promise<{ cfa: bigint; regs: Map<number, bigint> } | undefined> {
  if (row.cfa.kind !== 'register') return undefined;
  const base = regs.get(row.cfa.register);
  if (base === undefined) return undefined;
  const cfa = BigInt.asUintN(64, base + row.cfa.offset);
  const out = new Map<number, bigint>();
  for (let r = 0; r <= 30; r++) {
    const rule = row.registers.get(r);
    let v: bigint | undefined;
    if (!rule) v = calleeSaved(r) || r === DW_LR ? regs.get(r) : undefined;
    else if (rule.kind === 'same') v = regs.get(r);
    else if (rule.kind === 'offset') v = await readU64(BigInt.asUintN(64, cfa + rule.offset));
    else if (rule.kind === 'valOffset') v = BigInt.asUintN(64, cfa + rule.offset);
    else if (rule.kind === 'register') v = regs.get(rule.register);
    if (v !== undefined) out.set(r, v);
  }
  out.set(DW_SP, cfa);
  return { cfa, regs: out };
}

/** Frames innermost first; each carries its registers and CFA for variables and step out. */
export async function unwindCfi(input: CfiUnwindInput): Promise<RawFrame[]> {
  const max = input.maxFrames ?? 64;
  const out: RawFrame[] = [];
  let frame: RawFrame = { pc: input.pc, regs: input.regs };
  let crossed = false;
  for (;;) {
    out.push(frame);
    if (out.length >= max) break;
    const regs = frame.regs ?? new Map<number, bigint>();
    // The first vector on the way down: the next frame is the interrupted context.
    const vec = crossed
      ? undefined
      : input.vectors.find((v) => v.elr !== undefined && vectorAt(frame.pc, v.vbar) !== undefined);
    const row = input.rowAt(frame.pc);
    const up = row ? await callerRegs(row, regs, (a) => input.readU64(a)) : undefined;
    if (up) frame.cfa = up.cfa;
    if (vec) {
      crossed = true;
      const name = vectorAt(frame.pc, vec.vbar) ?? 'vector';
      // At a vector entry nothing is pushed yet: the interrupted code's registers are the current
      // ones (for the current EL; a lower EL's SP is another register).
      const atEntry = ((frame.pc - (vec.vbar ?? 0n)) & 0x7fn) === 0n && out.length === 1;
      const next: Map<number, bigint> = up ? up.regs : new Map(regs);
      if (!up && !(atEntry && name.startsWith('Current'))) next.delete(DW_SP);
      frame = {
        pc: vec.elr!,
        label: `${name} (EL${vec.el})`,
        interrupted: { vector: name, elr: `ELR_EL${vec.el}` },
        regs: next,
      };
      if (!up && !input.rowAt(vec.elr!)) {
        out.push(frame);
        await input.chain(frame.pc, next.get(29), next.get(DW_LR), out);
        break;
      }
      continue;
    }
    if (!up) {
      // No CFI here: the frame-record chain, as without debug information.
      await input.chain(frame.pc, regs.get(29), regs.get(DW_LR), out);
      break;
    }
    const ra = up.regs.get(DW_LR);
    if (ra === undefined || !sane(ra)) break;
    const sp = regs.get(DW_SP);
    // No progress (a CFA that does not move at the same return address): a corrupt or outermost frame.
    if (ra - 4n === frame.pc && sp === up.cfa) break;
    frame = { pc: ra - 4n, regs: up.regs };
  }
  return out.slice(0, max);
}
