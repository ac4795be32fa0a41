// DAP `disassemble` for VS Code's Disassembly view: AArch64 words decoded by Capstone (src/disasm),
// ELF symbols as labels (`symbol`), DWARF lines as `location`/`line`, branch targets named. A64
// instructions are fixed 4-byte words, so instructionOffset is plain arithmetic, also backwards.
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { Instruction } from '../disasm';

export interface CodeMemory {
  /** Reads code bytes; throws (or returns fewer bytes) where nothing is mapped. */
  readMemory(address: bigint, length: number): Promise<Uint8Array>;
}

export interface Decoder {
  disassemble(bytes: Uint8Array, address: bigint, count?: number): Instruction[];
}

/** What src/elf's ElfImage offers (structural); all optional per ELF content. */
export interface CodeSymbols {
  symbolAt(addr: bigint): { name: string; offset: bigint } | undefined;
  lineForAddress?(addr: bigint): { file: string; line: number; column: number } | undefined;
}

export interface DisassembleContext {
  memory: CodeMemory;
  decoder: Decoder;
  symbols?: CodeSymbols;
  /** Builds the DAP Source for a DWARF path (the session may map build paths to local ones). */
  source?: (path: string) => DebugProtocol.Source;
}

const WORD = 4n;
/** Reads happen per aligned chunk so one unmapped page does not blank the whole listing. */
const CHUNK = 0x400n;
const MAX_COUNT = 10_000;

export function parseInstructionReference(ref: string): bigint {
  const s = ref.trim();
  if (/^0x[0-9a-f]+$/i.test(s) || /^\d+$/.test(s)) return BigInt(s);
  throw new Error(`bad memory reference '${ref}' (expected an address such as 0x40080000)`);
}

const hex = (a: bigint) => `0x${a.toString(16).padStart(8, '0')}`;

export async function disassemble(
  args: DebugProtocol.DisassembleArguments,
  ctx: DisassembleContext,
): Promise<{ instructions: DebugProtocol.DisassembledInstruction[] }> {
  const count = Math.min(Math.max(0, args.instructionCount), MAX_COUNT);
  const base = parseInstructionReference(args.memoryReference) + BigInt(args.offset ?? 0);
  // Align down: a reference into the middle of a word still lists whole instructions.
  let start = (base & ~(WORD - 1n)) + BigInt(args.instructionOffset ?? 0) * WORD;
  const instructions: DebugProtocol.DisassembledInstruction[] = [];
  // Before address 0 there is nothing: pad so the client still gets `count` entries.
  while (start < 0n && instructions.length < count) {
    instructions.push(invalid(BigInt.asUintN(64, start)));
    start += WORD;
  }
  const end = start + BigInt(count - instructions.length) * WORD;
  const words = await readWords(ctx.memory, start, end);
  let prevFile: string | undefined;
  for (let a = start, i = 0; a < end; a += WORD, i++) {
    const bytes = words[i];
    if (!bytes) {
      instructions.push(invalid(a));
      prevFile = undefined;
      continue;
    }
    const insn = ctx.decoder.disassemble(bytes, a, 1)[0];
    const out: DebugProtocol.DisassembledInstruction = {
      address: hex(a),
      instructionBytes: [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' '),
      instruction: insn ? render(insn, ctx.symbols) : '??',
    };
    if (insn && !insn.valid) out.presentationHint = 'invalid';
    const sym = args.resolveSymbols === false ? undefined : ctx.symbols?.symbolAt(a);
    // The same name on every instruction of a symbol: the view draws a label where it changes.
    if (sym) out.symbol = sym.name;
    const loc = ctx.symbols?.lineForAddress?.(a);
    if (loc && loc.line > 0) {
      out.line = loc.line;
      if (loc.column > 0) out.column = loc.column;
      // The location is required on the first instruction and wherever the file changes.
      if (loc.file !== prevFile || instructions.length === 0) {
        out.location = ctx.source ? ctx.source(loc.file) : { path: loc.file, name: baseName(loc.file) };
      }
      prevFile = loc.file;
    } else prevFile = undefined;
    instructions.push(out);
  }
  return { instructions };
}

/** Operands with direct branch targets named: `bl #0x40080120 <handle_mmio_fault>`. */
function render(insn: Instruction, symbols: CodeSymbols | undefined): string {
  let text = insn.operands ? `${insn.mnemonic} ${insn.operands}` : insn.mnemonic;
  if (symbols && /^(b|bl|b\.\w+|cbn?z|tbn?z|adr|adrp)$/.test(insn.mnemonic)) {
    const m = /#(0x[0-9a-f]+)$/.exec(insn.operands);
    if (m) {
      const s = symbols.symbolAt(BigInt(m[1]));
      if (s) text += ` <${s.offset === 0n ? s.name : `${s.name}+0x${s.offset.toString(16)}`}>`;
    }
  }
  return text;
}

function invalid(address: bigint): DebugProtocol.DisassembledInstruction {
  return { address: hex(address), instruction: '??', presentationHint: 'invalid' };
}

/** The 4-byte words of [start, end), undefined where memory could not be read. */
async function readWords(
  memory: CodeMemory,
  start: bigint,
  end: bigint,
): Promise<(Uint8Array | undefined)[]> {
  const out: (Uint8Array | undefined)[] = [];
  for (let chunk = start; chunk < end;) {
    const next = (chunk / CHUNK + 1n) * CHUNK;
    const stop = next < end ? next : end;
    const len = Number(stop - chunk);
    let bytes: Uint8Array | undefined;
    try {
      bytes = await memory.readMemory(chunk, len);
    } catch {
      bytes = undefined;
    }
    for (let off = 0; off < len; off += 4) {
      out.push(bytes && bytes.length >= off + 4 ? bytes.subarray(off, off + 4) : undefined);
    }
    chunk = stop;
  }
  return out;
}

function baseName(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}
