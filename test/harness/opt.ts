// Builds test/fixtures/opt (bare-metal C at -O2 -g, no frame pointers) with the Debian cross GCC into
// out/fixtures/opt/opt.elf, and asks gdb-multiarch about it: the oracle the source-level tests compare
// the adapter with (`info line`, breakpoint locations, and, on its own QEMU, `bt`, `info locals`, `p`).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './mini';
import { startQemu, type QemuOptions } from './qemu';

const CROSS = process.env.CROSS_COMPILE ?? 'aarch64-linux-gnu-';
export const optSource = join(repoRoot, 'test', 'fixtures', 'opt', 'opt.c');
const FLAGS = ['-O2', '-g', '-fomit-frame-pointer', '-ffreestanding', '-nostdlib', '-static'];

const built = new Map<number, string>();

/**
 * The fixture ELF (rebuilt when a source is newer): DWARF 5 by default (GCC 12's own: .debug_loclists,
 * .debug_rnglists), or DWARF 4 (.debug_loc, .debug_ranges).
 */
export function buildOpt(dwarf: 4 | 5 = 5): string {
  const done = built.get(dwarf);
  if (done) return done;
  const src = join(repoRoot, 'test', 'fixtures', 'opt');
  const outDir = join(repoRoot, 'out', 'fixtures', 'opt');
  mkdirSync(outDir, { recursive: true });
  const elf = join(outDir, dwarf === 5 ? 'opt.elf' : 'opt-dwarf4.elf');
  const inputs = ['start.S', 'opt.c', 'opt.ld'].map((f) => join(src, f));
  if (!existsSync(elf) || inputs.some((f) => statSync(f).mtimeMs > statSync(elf).mtimeMs)) {
    execFileSync(
      `${CROSS}gcc`,
      [
        ...FLAGS,
        `-gdwarf-${dwarf}`,
        '-Wl,--build-id=none',
        '-Wl,--no-warn-rwx-segments',
        `-Wl,-T,${inputs[2]}`,
        '-o',
        elf,
        inputs[0],
        inputs[1],
      ],
      { stdio: 'pipe' },
    );
  }
  built.set(dwarf, elf);
  return elf;
}

/** The 1-based line of opt.c holding `text` (tests name lines by their text, never by number). */
export function optLine(text: string): number {
  const i = readFileSync(optSource, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(text));
  if (i < 0) throw new Error(`opt.c has no line containing '${text}'`);
  return i + 1;
}

/** QEMU's command line for the fixture (the adapter's launch adds -gdb and -S). */
export function optQemuArgs(elf: string): string[] {
  return [
    '-M',
    'virt',
    '-cpu',
    'max',
    '-m',
    '128M',
    '-nic',
    'none',
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'none',
    '-kernel',
    elf,
  ];
}

/** gdb-multiarch in batch mode on the ELF alone (no target): `info line`, `break`, `info scope`. */
export function gdbStatic(elf: string, commands: readonly string[]): string {
  return execFileSync('gdb-multiarch', ['-batch', '-nx', elf, ...commands.flatMap((c) => ['-ex', c])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
}

/**
 * gdb-multiarch on its own QEMU (same ELF, same machine): `break LOCATION`, continue (`hits` times),
 * then `commands`; returns what gdb printed for each command, in order.
 */
export async function gdbLive(
  elf: string,
  location: string,
  commands: readonly string[],
  hits = 1,
  machine: Omit<QemuOptions, 'kernel'> = {},
): Promise<string[]> {
  const qemu = await startQemu({ kernel: elf, ...machine });
  try {
    const script = [
      'set pagination off',
      'set confirm off',
      `target remote ${qemu.host}:${qemu.port}`,
      `break ${location}`,
      ...Array.from({ length: hits }, () => 'continue'),
      ...commands.flatMap((c) => [`echo @@ ${c}\\n`, c]),
      'echo @@ kill\\n',
      'kill',
    ];
    const out = execFileSync('gdb-multiarch', ['-batch', '-nx', elf, ...script.flatMap((c) => ['-ex', c])], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    // Each command's output follows its `@@ command` marker line.
    const chunks = out.split(/^@@ /m).slice(1);
    return commands.map((c, i) => (chunks[i] ?? '').slice(c.length + 1).trim());
  } finally {
    await qemu.kill();
  }
}
