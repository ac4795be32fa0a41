// Builds test/fixtures/mini (aarch64 assembly) with the Debian cross toolchain into out/fixtures/mini
// and reads its symbol table with nm, so tests address labels by name instead of hard-coded numbers.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export interface MiniProgram {
  readonly elf: string;
  /** Every symbol of the ELF (from `nm`), e.g. `main_loop`, `bp_here`, `data_page`, `l1`. */
  readonly symbols: ReadonlyMap<string, bigint>;
  symbol(name: string): bigint;
}

/** Repository root (this file compiles to out/test/harness/mini.js). */
export const repoRoot = resolve(__dirname, '..', '..', '..');

const CROSS = process.env.CROSS_COMPILE ?? 'aarch64-linux-gnu-';

function newer(a: string, b: string): boolean {
  return !existsSync(b) || statSync(a).mtimeMs > statSync(b).mtimeMs;
}

let cached: MiniProgram | undefined;

export function buildMini(): MiniProgram {
  if (cached) return cached;
  const src = join(repoRoot, 'test', 'fixtures', 'mini');
  const outDir = join(repoRoot, 'out', 'fixtures', 'mini');
  mkdirSync(outDir, { recursive: true });
  const asm = join(src, 'mini.S');
  const lds = join(src, 'mini.ld');
  const obj = join(outDir, 'mini.o');
  const elf = join(outDir, 'mini.elf');
  if (newer(asm, elf) || newer(lds, elf)) {
    execFileSync(`${CROSS}gcc`, ['-c', '-o', obj, asm], { stdio: 'pipe' });
    execFileSync(`${CROSS}ld`, ['--no-warn-rwx-segments', '-T', lds, '-o', elf, obj], { stdio: 'pipe' });
  }
  const nm = execFileSync(`${CROSS}nm`, [elf], { encoding: 'latin1' });
  const symbols = new Map<string, bigint>();
  for (const line of nm.split('\n')) {
    const [addr, , name] = line.trim().split(/\s+/);
    if (addr && name) symbols.set(name, BigInt(`0x${addr}`));
  }
  cached = {
    elf,
    symbols,
    symbol(name: string): bigint {
      const v = symbols.get(name);
      if (v === undefined) throw new Error(`mini.elf has no symbol '${name}'`);
      return v;
    },
  };
  return cached;
}
