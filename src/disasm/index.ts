// AArch64 disassembly through Capstone (the @alexaltea/capstone-js WebAssembly build). Pure: the
// caller passes the bytes; only the Capstone module itself is loaded from its package (or from
// `wasmBinary` when the caller bundles it differently).
import MCapstone from '@alexaltea/capstone-js';

export interface Instruction {
  address: bigint;
  bytes: Uint8Array;
  mnemonic: string;
  operands: string;
  /** False for a word Capstone could not decode (shown as `.inst 0x…`). */
  valid: boolean;
}

export interface LoadOptions {
  /** The bytes of capstone.wasm, when it is not next to the package's capstone.js. */
  wasmBinary?: Uint8Array;
  /** Where to find capstone.wasm (e.g. the extension's dist/ directory). */
  locateFile?: (name: string) => string;
}

const INSN_SIZE = 4;

export class Disassembler {
  private constructor(private readonly handle: ReturnType<typeof openHandle>) {}

  static async load(options: LoadOptions = {}): Promise<Disassembler> {
    const locate = options.locateFile;
    const cs = await MCapstone({
      ...(options.wasmBinary ? { wasmBinary: options.wasmBinary } : {}),
      ...(locate ? { locateFile: (p: string) => locate(p) } : {}),
    });
    return new Disassembler(openHandle(cs));
  }

  /**
   * Decodes up to `count` instructions (all of `bytes` when omitted). A word Capstone rejects does not
   * end the listing: AArch64 instructions are fixed 4-byte words, so it becomes `.inst 0x…` and
   * decoding resumes at the next word, which keeps the Disassembly view aligned over literal pools.
   */
  disassemble(bytes: Uint8Array, address: bigint, count?: number): Instruction[] {
    const out: Instruction[] = [];
    const want = count ?? Math.ceil(bytes.length / INSN_SIZE);
    let off = 0;
    while (out.length < want && off < bytes.length) {
      if (bytes.length - off < INSN_SIZE) {
        out.push(invalidWord(bytes.subarray(off), address + BigInt(off)));
        break;
      }
      const decoded = this.decodeFrom(bytes.subarray(off), address + BigInt(off), want - out.length);
      for (const i of decoded) {
        out.push({
          address: BigInt.asUintN(64, i.address),
          bytes: Uint8Array.from(i.bytes),
          mnemonic: i.mnemonic,
          operands: i.op_str.trim(),
          valid: true,
        });
        off += i.size;
      }
      // Capstone stops only at `max`, at the end, or before an undecodable word: here, the latter.
      if (out.length < want && off < bytes.length) {
        out.push(invalidWord(bytes.subarray(off, off + INSN_SIZE), address + BigInt(off)));
        off += INSN_SIZE;
      }
    }
    return out;
  }

  close(): void {
    this.handle.close();
  }

  private decodeFrom(bytes: Uint8Array, address: bigint, max: number) {
    try {
      return this.handle.disasm(bytes, BigInt.asIntN(64, address), max);
    } catch {
      // capstone.js throws (a string) when the very first word is undecodable.
      return [];
    }
  }
}

function openHandle(cs: Awaited<ReturnType<typeof MCapstone>>) {
  return new cs.Capstone(cs.ARCH_ARM64, cs.MODE_ARM);
}

function invalidWord(bytes: Uint8Array, address: bigint): Instruction {
  let word = 0;
  for (let i = bytes.length - 1; i >= 0; i--) word = word * 256 + (bytes[i] ?? 0);
  const width = bytes.length * 2;
  return {
    address,
    bytes: Uint8Array.from(bytes),
    mnemonic: bytes.length === INSN_SIZE ? '.inst' : '.byte',
    operands: `0x${word.toString(16).padStart(width, '0')}`,
    valid: false,
  };
}

let shared: Promise<Disassembler> | undefined;

/** One Capstone instance per process: instantiating the 3 MB module costs ~40 ms. */
export function sharedDisassembler(options?: LoadOptions): Promise<Disassembler> {
  // A failed load (capstone.wasm missing next to the bundle) is not cached, so a fixed install retries.
  shared ??= Disassembler.load(options).catch((e: unknown) => {
    shared = undefined;
    throw e instanceof Error ? e : new Error(String(e));
  });
  return shared;
}
