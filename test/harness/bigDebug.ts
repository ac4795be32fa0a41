// A large debug ELF for the source-level benchmarks (#13: DWARF load time of a ~5 MB debug ELF, the
// variables request at a stop with 50 locals): generated C (thousands of functions and struct types,
// one function with 50 live locals) linked with the -O2 fixture's start.S and linker script, built
// at -O2 -g with the Debian cross GCC into out/fixtures/big and reused until the generator changes.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './mini';

const CROSS = process.env.CROSS_COMPILE ?? 'aarch64-linux-gnu-';
const FUNCTIONS = 5200;

function source(): string {
  const out = ['typedef unsigned int u32;', 'typedef unsigned long u64;', 'volatile u64 sink;'];
  for (let i = 0; i < FUNCTIONS; i++) {
    out.push(
      `struct s${i} { u64 a; u32 b; u32 c[4]; u64 d, e, f; struct s${i} *next; };`,
      `__attribute__((noinline)) u64 f${i}(struct s${i} *p, u64 k) { u64 x = p->a * k; u32 y = p->b + (u32)k;` +
        ` for (int j = 0; j < 4; j++) x += p->c[j] * (u64)(j + y); x += p->d ^ p->e ^ p->f;` +
        ` if (p->next) x ^= f${i}(p->next, k + 1); return x + y; }`,
    );
  }
  const locals = Array.from({ length: 50 }, (_x, j) => `volatile u64 v${j} = k * ${j + 3};`).join(' ');
  const uses = Array.from({ length: 50 }, (_x, j) => `v${j}`).join(' + ');
  out.push(
    `__attribute__((noinline)) u64 many_locals(u64 k) { ${locals} return ${uses}; /* many_locals: return */ }`,
  );
  out.push('void sync_handler(u64 esr) { sink = esr; }');
  const calls = Array.from(
    { length: FUNCTIONS },
    (_x, i) => `  { static struct s${i} o; o.a = ${i}; sink += f${i}(&o, ${i}); }`,
  );
  out.push(`void opt_main(void) {\n  sink = many_locals(3);\n${calls.join('\n')}\n}`);
  return `${out.join('\n')}\n`;
}

/** out/fixtures/big/big.elf, built once per generator version (a minute on two cores). */
export function buildBigDebugElf(): string {
  const dir = join(repoRoot, 'out', 'fixtures', 'big');
  mkdirSync(dir, { recursive: true });
  const c = join(dir, 'big.c');
  const elf = join(dir, 'big.elf');
  const text = source();
  if (existsSync(elf) && existsSync(c) && readFileSync(c, 'utf8') === text) return elf;
  writeFileSync(c, text);
  const fixture = join(repoRoot, 'test', 'fixtures', 'opt');
  execFileSync(
    `${CROSS}gcc`,
    [
      '-O2',
      '-g',
      '-fomit-frame-pointer',
      '-ffreestanding',
      '-nostdlib',
      '-static',
      '-Wl,--build-id=none',
      '-Wl,--no-warn-rwx-segments',
      `-Wl,-T,${join(fixture, 'opt.ld')}`,
      '-o',
      elf,
      join(fixture, 'start.S'),
      c,
    ],
    { stdio: 'pipe' },
  );
  return elf;
}
