// How the `pvmfw-mmu` command as shipped (dist/cli.js, from cli.ts) starts: it runs the CLI's bundle
// (dist/cli-main.js, built from main.ts) through V8's code cache. A run after the first skips
// compiling the bundle and every function the last run of the same command compiled lazily: about
// 10 ms of a ~120 ms process on this project's machine (docs/performance.md).
//
// The cache is one file per command, bundle build (size and mtime), V8 version and architecture under $XDG_CACHE_HOME/pvmfw-mmu (else ~/.cache/pvmfw-mmu), written once
// (atomically: a rename) when it was missing or V8 rejected it; files of older builds are removed then.
// Reading or writing it never fails the command: without it the bundle is compiled as usual.
// PVMFW_MMU_CODE_CACHE=off turns it off.
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { switchedOff } from '../target/switches';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

const COMMANDS = new Set(['walk', 'translate', 'guard', 'snapshot', 'diff']);

/** The cache directory and this build's file for `command`, or undefined when caching is off. */
function cachePaths(
  main: string,
  command: string,
): { dir: string; file: string; prefix: string } | undefined {
  if (switchedOff('PVMFW_MMU_CODE_CACHE')) return undefined;
  const base = process.env.XDG_CACHE_HOME || (homedir() ? join(homedir(), '.cache') : '');
  if (!base) return undefined;
  const s = statSync(main);
  const dir = join(base, 'pvmfw-mmu');
  const prefix = `cli-${command}-`;
  // node:v8's cachedDataVersionTag would cost loading node:v8 (3 ms): V8's version names the file, and
  // V8 itself rejects a cache made under other flags (then rewritten).
  const v8 = process.versions.v8.replace(/[^0-9a-z]+/gi, '_');
  const build = `${s.size.toString(36)}-${Math.trunc(s.mtimeMs).toString(36)}-${v8}-${process.arch}`;
  return { dir, file: join(dir, `${prefix}${build}.v8cache`), prefix };
}

function writeCache(paths: { dir: string; file: string; prefix: string }, data: Buffer): void {
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const tmp = `${paths.file}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, paths.file);
  for (const f of readdirSync(paths.dir))
    if (f.startsWith(paths.prefix) && f.endsWith('.v8cache') && join(paths.dir, f) !== paths.file)
      unlinkSync(join(paths.dir, f));
}

/** Runs the bundle at `main` as a CommonJS module, through the code cache when it can. */
export function boot(main: string, argv: readonly string[]): void {
  const command = COMMANDS.has(argv[0] ?? '') ? argv[0] : 'other';
  let paths: ReturnType<typeof cachePaths>;
  let cached: Buffer | undefined;
  try {
    paths = cachePaths(main, command);
    if (paths) cached = readFileSync(paths.file);
  } catch {
    cached = undefined; // no cache yet (or unreadable): compiled as usual, written at exit
  }
  let source = readFileSync(main, 'utf8');
  if (source.startsWith('#!')) source = `//${source.slice(2)}`;
  const wrapper = `(function (exports, require, module, __filename, __dirname) { ${source}\n})`;
  const script = new Script(wrapper, { filename: main, ...(cached ? { cachedData: cached } : {}) });
  if (paths && (!cached || script.cachedDataRejected)) {
    const p = paths;
    // At exit: the functions this run compiled lazily are in the cache too.
    process.once('exit', () => {
      try {
        writeCache(p, script.createCachedData());
      } catch {
        // a read-only or full cache directory: next time compiles again
      }
    });
  }
  const fn = script.runInThisContext() as (
    exports: object,
    require: NodeJS.Require,
    module: { exports: object },
    filename: string,
    dirname: string,
  ) => void;
  const module = { exports: {} };
  fn(module.exports, createRequire(main), module, main, dirname(main));
}
