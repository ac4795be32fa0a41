// Tiny aarch64 ELFs with and without a GNU build id, linked by Debian's cross toolchain (as the ELF
// tests' fixtures are); `readelf -n` is the oracle for the id.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const OUT = resolve(__dirname, '../../../fixtures/program');

const SOURCE = `
  .text
  .globl _start
_start:
  b _start
  .data
  .globl guard_log
guard_log:
  .quad 0
`;

export interface ProgramFixture {
  readonly path: string;
  /** What `readelf -n` prints as "Build ID", or undefined when linked with --build-id=none. */
  readonly buildId?: string;
}

const built = new Map<string, ProgramFixture>();

function link(name: string, buildId: 'sha1' | 'none'): ProgramFixture {
  const cached = built.get(name);
  if (cached) return cached;
  mkdirSync(OUT, { recursive: true });
  const src = join(OUT, 'start.S');
  writeFileSync(src, SOURCE);
  const path = join(OUT, name);
  execFileSync('aarch64-linux-gnu-gcc', [
    '-nostdlib',
    '-static',
    `-Wl,--build-id=${buildId}`,
    '-o',
    path,
    src,
  ]);
  const notes = execFileSync('aarch64-linux-gnu-readelf', ['-n', path], { encoding: 'utf8' });
  const id = /Build ID: ([0-9a-f]+)/.exec(notes)?.[1];
  const f = { path, ...(id ? { buildId: id } : {}) };
  built.set(name, f);
  return f;
}

/** An ELF with a 20-byte (sha1) GNU build id. */
export const buildIdElf = (): ProgramFixture => link('buildid.elf', 'sha1');

/** An ELF linked with --build-id=none, as the demo firmware is. */
export const noBuildIdElf = (): ProgramFixture => link('nobuildid.elf', 'none');
