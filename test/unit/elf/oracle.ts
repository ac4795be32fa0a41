// Test support: builds the fixture ELFs with Debian's aarch64 cross GCC and reads the binutils
// oracle (objdump --dwarf=decodedline, nm) that src/elf is checked against.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../../../..');
const SRC = join(ROOT, 'test/fixtures/elf');
const OUT = join(ROOT, 'out/fixtures/elf');

export interface Fixture {
  name: string;
  path: string;
  bytes: Uint8Array;
  dwarf: 4 | 5;
}

const built = new Map<string, Fixture>();

/**
 * Compiles crt.S + main.c + util.c + asm.S freestanding (no libc), linked at QEMU virt's RAM, into
 * out/fixtures/elf/<name>.elf.
 */
export function fixture(dwarf: 4 | 5, opt: '-O0' | '-O2'): Fixture {
  const name = `dwarf${dwarf}${opt}`;
  const cached = built.get(name);
  if (cached) return cached;
  mkdirSync(OUT, { recursive: true });
  const path = join(OUT, `${name}.elf`);
  execFileSync('aarch64-linux-gnu-gcc', [
    opt,
    `-gdwarf-${dwarf}`,
    '-ffreestanding',
    '-nostdlib',
    '-static',
    '-Wl,--build-id=none',
    '-Wl,--no-warn-rwx-segments',
    `-Wl,-T,${join(SRC, 'fixture.ld')}`,
    '-o',
    path,
    join(SRC, 'crt.S'),
    join(SRC, 'main.c'),
    join(SRC, 'util.c'),
    join(SRC, 'asm.S'),
  ]);
  const f = { name, path, bytes: new Uint8Array(readFileSync(path)), dwarf };
  built.set(name, f);
  return f;
}

export interface OracleRow {
  file: string;
  /** undefined for the end-of-sequence row ("-"). */
  line: number | undefined;
  address: bigint;
  isStmt: boolean;
}

/** Rows of `objdump --dwarf=decodedline`, in order (file names are base names there). */
export function decodedLine(path: string): OracleRow[] {
  const text = execFileSync('aarch64-linux-gnu-objdump', ['--dwarf=decodedline', path], { encoding: 'utf8' });
  const rows: OracleRow[] = [];
  for (const l of text.split('\n')) {
    const m = /^(\S+)\s+(\d+|-)\s+(0x[0-9a-f]+)(?:\s+(\d+))?(?:\s+(x))?\s*$/.exec(l);
    if (!m) continue;
    rows.push({
      file: m[1],
      line: m[2] === '-' ? undefined : Number(m[2]),
      address: BigInt(m[3]),
      isStmt: m[5] === 'x',
    });
  }
  return rows;
}

export interface OracleSymbol {
  name: string;
  value: bigint;
  size: bigint | undefined;
  kind: string;
}

/** Defined symbols from `nm -S` (kind letters: T/t text, B/b bss, D/d data, …). */
export function nmSymbols(path: string): OracleSymbol[] {
  const text = execFileSync('aarch64-linux-gnu-nm', ['-S', '--defined-only', path], { encoding: 'utf8' });
  const out: OracleSymbol[] = [];
  for (const l of text.split('\n')) {
    const m = /^([0-9a-f]+)(?:\s+([0-9a-f]+))?\s+(\S)\s+(\S+)$/.exec(l);
    if (m)
      out.push({
        value: BigInt(`0x${m[1]}`),
        size: m[2] ? BigInt(`0x${m[2]}`) : undefined,
        kind: m[3],
        name: m[4],
      });
  }
  return out;
}

/** Mnemonic per address from `objdump -d`. */
export function objdumpDisassembly(path: string): Map<bigint, string> {
  const text = execFileSync('aarch64-linux-gnu-objdump', ['-d', '--no-show-raw-insn', path], {
    encoding: 'utf8',
  });
  const out = new Map<bigint, string>();
  for (const l of text.split('\n')) {
    const m = /^\s+([0-9a-f]+):\s+(\S+)/.exec(l);
    if (m) out.set(BigInt(`0x${m[1]}`), m[2]);
  }
  return out;
}
