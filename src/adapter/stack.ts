// Call stack without debug info: PC, then the frame-record chain (x29 -> {prev x29, x30}) while it
// stays sane, with a synthetic frame for the interrupted context when PC sits in an exception vector
// table (VBAR_ELx .. +0x800): that is what a person needs when stopped on a fault.
import { decodeEsr } from '../aarch64/esr';
import { vectorAt } from '../aarch64/vectors';
import type { StopContext } from '../target/stopContext';
import type { SymbolTable } from '../elf/symbolTable';
import { formatAddress } from '../shared/format';

export interface RawFrame {
  pc: bigint;
  /** The frame is the interrupted context of an exception (its PC is ELR_ELx). */
  interrupted?: { vector: string; elr: string };
  /** A marker frame naming the exception entry. */
  label?: string;
  /** Registers recovered for this frame by DWARF number (0–30, 31 = sp), when CFI unwound it. */
  regs?: Map<number, bigint>;
  /** This frame's canonical frame address (the SP its caller had at the call). */
  cfa?: bigint;
}

export interface UnwindInput {
  pc: bigint;
  x29?: bigint;
  x30?: bigint;
  /** Vector bases and return state by exception level. */
  vectors: { el: 1 | 2; vbar?: bigint; elr?: bigint }[];
  readU64Pair(address: bigint): Promise<[bigint, bigint] | undefined>;
  symbols: SymbolTable;
  maxFrames?: number;
}

const sane = (p: bigint) => p !== 0n && (p & 3n) === 0n && p < 1n << 56n;
const saneFp = (p: bigint) => p !== 0n && (p & 7n) === 0n;

export async function chain(
  pc: bigint,
  x29: bigint | undefined,
  x30: bigint | undefined,
  input: UnwindInput,
  out: RawFrame[],
  max: number,
): Promise<void> {
  let fp = x29;
  const fnOf = (a: bigint) => input.symbols.find(a)?.symbol.address;
  const first = fp !== undefined && saneFp(fp) ? await input.readU64Pair(fp) : undefined;
  // x30 is the caller only while this function has not saved it and called elsewhere: when the
  // frame record already holds it, or it points back into this same function, follow the chain.
  if (
    x30 !== undefined &&
    sane(x30) &&
    x30 !== first?.[1] &&
    (fnOf(x30) === undefined || fnOf(x30) !== fnOf(pc))
  ) {
    out.push({ pc: x30 - 4n });
  }
  let rec = first;
  const seen = new Set<bigint>();
  while (rec && fp !== undefined && out.length < max) {
    const [prevFp, lr] = rec;
    if (!sane(lr)) break;
    out.push({ pc: lr - 4n });
    seen.add(fp);
    // A sane chain grows towards higher addresses on a full-descending stack.
    if (!saneFp(prevFp) || prevFp <= fp || seen.has(prevFp) || prevFp - fp > 0x100000n) break;
    fp = prevFp;
    rec = await input.readU64Pair(fp);
  }
}

/** Frames, innermost first. Return addresses are shown at the call instruction (lr - 4). */
export async function unwind(input: UnwindInput): Promise<RawFrame[]> {
  const max = input.maxFrames ?? 64;
  const out: RawFrame[] = [{ pc: input.pc }];
  for (const v of input.vectors) {
    const name = vectorAt(input.pc, v.vbar);
    if (!name || v.elr === undefined) continue;
    // In a vector stub no frame record of its own exists yet: x29/x30 still belong to the
    // interrupted code, so unwinding continues from ELR with them.
    out.push({
      pc: v.elr,
      label: `${name} (EL${v.el})`,
      interrupted: { vector: name, elr: `ELR_EL${v.el}` },
    });
    await chain(v.elr, input.x29, input.x30, input, out, max);
    return out;
  }
  await chain(input.pc, input.x29, input.x30, input, out, max);
  return out;
}

/** "Stepped into the exception vector…" when a step lands on a vector entry (a faulting load, an HVC). */
export async function vectorEntry(ctx: StopContext, pc: bigint): Promise<string | undefined> {
  const r = await ctx.regs(['VBAR_EL1', 'VBAR_EL2', 'ESR_EL1', 'ESR_EL2', 'FAR_EL1']);
  for (const el of [1, 2] as const) {
    const name = vectorAt(pc, r.get(`VBAR_EL${el}`));
    if (!name) continue;
    const esr = decodeEsr(r.get(`ESR_EL${el}`) ?? 0n);
    const cause = esr.abort
      ? `${esr.ecName}: ${esr.abort.fsc.name}${el === 1 ? ` at ${formatAddress(r.get('FAR_EL1') ?? 0n)}` : ''}`
      : esr.ecName;
    return `Stepped into the EL${el} exception vector (${name}): ${cause}`;
  }
  return undefined;
}
