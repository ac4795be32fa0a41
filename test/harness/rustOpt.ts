// Builds test/fixtures/rust-opt (a `no_std` Rust program at -C opt-level=2 -g for aarch64-unknown-none,
// pvmfw's target) with Debian's rustc into out/fixtures/rust-opt/, linked by the cross binutils. Debian
// ships no prebuilt `core` for that target, so `core` is compiled once from Debian's rust-src (the same
// rustc version; RUSTC_BOOTSTRAP lets a release compiler build it, as Rust's own build does), next to
// the fixture's small `compiler_builtins` (builtins.rs). Packages: rustc, rust-src (scripts/lib/packages.sh).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './mini';

const CROSS = process.env.CROSS_COMPILE ?? 'aarch64-linux-gnu-';
/** Debian's rustc (a rustup toolchain earlier in PATH is another compiler with another core). */
const RUSTC = process.env.RUSTC_FOR_FIXTURES ?? '/usr/bin/rustc';
const TARGET = 'aarch64-unknown-none';
const fixtureDir = join(repoRoot, 'test', 'fixtures', 'rust-opt');
export const rustSource = join(fixtureDir, 'rust_opt.rs');
const outDir = join(repoRoot, 'out', 'fixtures', 'rust-opt');

export type Mangling = 'v0' | 'legacy';

function rustc(args: string[]): void {
  execFileSync(RUSTC, args, {
    stdio: 'pipe',
    env: { ...process.env, RUSTC_BOOTSTRAP: '1' },
    timeout: 300_000,
  });
}

/** `core` and `compiler_builtins` for the target, built once per rustc version. */
function sysroot(): string {
  if (!existsSync(RUSTC)) throw new Error(`${RUSTC} not found: install Debian's rustc (scripts/setup.sh)`);
  const version = /rustc (\d+\.\d+\.\d+)/.exec(execFileSync(RUSTC, ['--version'], { encoding: 'utf8' }))?.[1];
  if (!version) throw new Error(`${RUSTC} --version says no version`);
  const coreSrc = `/usr/src/rustc-${version}/library/core/src/lib.rs`;
  if (!existsSync(coreSrc))
    throw new Error(
      `${coreSrc} not found: install Debian's rust-src (scripts/setup.sh), the source of core ${version}`,
    );
  const dir = join(outDir, `lib-${version}`);
  mkdirSync(dir, { recursive: true });
  const common = [
    '--edition=2021',
    '--crate-type=rlib',
    '--target',
    TARGET,
    '-C',
    'opt-level=2',
    '-C',
    'panic=abort',
  ];
  if (!existsSync(join(dir, 'libcore.rlib')))
    rustc([
      ...common,
      '--crate-name=core',
      '-C',
      'debuginfo=1',
      '-Z',
      'force-unstable-if-unmarked',
      '--out-dir',
      dir,
      coreSrc,
    ]);
  const builtins = join(fixtureDir, 'builtins.rs');
  const lib = join(dir, 'libcompiler_builtins.rlib');
  if (!existsSync(lib) || statSync(builtins).mtimeMs > statSync(lib).mtimeMs)
    rustc([...common, '--crate-name=compiler_builtins', '-L', dir, '--out-dir', dir, builtins]);
  return dir;
}

const built = new Map<Mangling, string>();

/** The fixture ELF with symbols mangled by `mangling` (rebuilt when a source is newer). */
export function buildRustOpt(mangling: Mangling = 'v0'): string {
  const done = built.get(mangling);
  if (done) return done;
  const lib = sysroot();
  const elf = join(outDir, `rust-opt-${mangling}.elf`);
  const inputs = ['rust_opt.rs', 'rust_opt.ld', 'builtins.rs'].map((f) => join(fixtureDir, f));
  if (!existsSync(elf) || inputs.some((f) => statSync(f).mtimeMs > statSync(elf).mtimeMs)) {
    rustc([
      '-Z',
      'unstable-options',
      '--edition=2021',
      '--crate-type=bin',
      '--crate-name=rust_opt',
      '--target',
      TARGET,
      '-C',
      'opt-level=2',
      '-g',
      '-C',
      'panic=abort',
      '-C',
      'relocation-model=static',
      '-C',
      `symbol-mangling-version=${mangling}`,
      '-C',
      `linker=${CROSS}ld`,
      '-C',
      'linker-flavor=ld',
      '-C',
      `link-arg=-T${inputs[1]}`,
      '-C',
      'link-arg=--build-id=none',
      '-L',
      lib,
      '-o',
      elf,
      inputs[0],
    ]);
  }
  built.set(mangling, elf);
  return elf;
}

/** The 1-based line of rust_opt.rs holding `text`. */
export function rustLine(text: string): number {
  const i = readFileSync(rustSource, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(text));
  if (i < 0) throw new Error(`rust_opt.rs has no line containing '${text}'`);
  return i + 1;
}
