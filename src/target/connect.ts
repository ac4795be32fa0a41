// Connects to a gdbstub and checks that it is what the session needs: an aarch64 target (from the
// target XML), and, when an ELF is given, one whose code is what the guest runs.
import { readFileSync } from 'node:fs';
import { ConnectRefusedError, type GdbClient } from '../gdb';
import { EM_AARCH64, ElfImage, type ElfFile } from '../elf';
import { SymbolTable } from '../elf/symbolTable';

export class SessionSetupError extends Error {}

export function parseHostPort(spec: string | undefined): { host: string; port: number } {
  const s = (spec ?? '127.0.0.1:1234').trim().replace(/^tcp:/, '');
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s) ?? /^()()(\d+)$/.exec(s);
  if (!m) throw new SessionSetupError(`bad gdb address '${spec}' (expected host:port)`);
  const port = Number(m[3]);
  if (!(port > 0 && port < 65536)) throw new SessionSetupError(`bad port in '${spec}'`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

export function explainConnectError(e: unknown, host: string, port: number): Error {
  if (e instanceof ConnectRefusedError) {
    return new SessionSetupError(
      `Nothing accepts connections at ${host}:${port}. Start QEMU with -gdb tcp:${host}:${port} (or -s for port 1234), or use a launch configuration.`,
    );
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** Throws when the stub does not describe an aarch64 CPU. */
export function checkArchitecture(gdb: GdbClient): void {
  const xml = gdb.registers.documents.get('target.xml') ?? '';
  const arch = /<architecture>\s*([^<\s]+)\s*<\/architecture>/.exec(xml)?.[1];
  const hasX30 = gdb.registers.get('x30') !== undefined;
  if (arch ? arch !== 'aarch64' : !hasX30) {
    throw new SessionSetupError(
      `The gdbstub describes a ${arch ?? 'non-aarch64'} target; pvmfw-mmu debugs aarch64 guests (qemu-system-aarch64).`,
    );
  }
}

export interface LoadedProgram {
  elf: ElfFile;
  image: ElfImage;
  symbols: SymbolTable;
  /** Some bytes of executable code, to compare with the guest's memory. */
  probe?: { address: bigint; bytes: Uint8Array };
}

export function loadProgram(path: string): LoadedProgram {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new SessionSetupError(`cannot read program '${path}': ${(e as Error).message}`);
  }
  let image: ElfImage;
  try {
    image = ElfImage.parse(bytes);
  } catch (e) {
    throw new SessionSetupError(`'${path}' is not a usable ELF file: ${(e as Error).message}`);
  }
  const elf = image.elf;
  if (elf.header.machine !== EM_AARCH64) {
    throw new SessionSetupError(`'${path}' is not an aarch64 ELF (e_machine = ${elf.header.machine})`);
  }
  const symbols = SymbolTable.fromElf(elf);
  const text =
    elf.sections.find((s) => s.name === '.text' && s.size >= 16) ??
    elf.sections.find((s) => (s.flags & 4n) !== 0n && s.size >= 16);
  const probe = text ? { address: text.addr, bytes: elf.dataOf(text).slice(0, 64) } : undefined;
  return { elf, image, symbols, probe };
}

/**
 * Compares the ELF's first code bytes with the guest's memory: physical first (images load at their
 * link address, the MMU is off at entry), else virtual (a kernel linked at virtual addresses). Only
 * bytes that can be read and differ count as a mismatch; unreadable code yields a warning.
 */
export async function checkProgramMatches(
  gdb: GdbClient,
  program: LoadedProgram,
  path: string,
): Promise<string | undefined> {
  const p = program.probe;
  if (!p) return undefined;
  let mem: Uint8Array | undefined;
  for (const read of [
    () => gdb.readPhysical(p.address, p.bytes.length),
    () => gdb.readMemory(p.address, p.bytes.length),
  ]) {
    try {
      mem = await read();
      if (mem.some((b, i) => b !== p.bytes[i])) continue;
      return undefined;
    } catch {
      // try the other address space
    }
  }
  if (!mem)
    return `warning: could not read the guest's memory at 0x${p.address.toString(16)} to check that '${path}' is what it runs`;
  const i = mem.findIndex((b, k) => b !== p.bytes[k]);
  throw new SessionSetupError(
    `'${path}' does not match the guest: its code at 0x${(p.address + BigInt(i)).toString(16)} differs from guest memory (wrong or rebuilt ELF?).`,
  );
}
