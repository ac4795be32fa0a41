// A child process that dies with the process that started it, however that process dies (SIGKILL
// included): a QEMU launched by the adapter, or by a test, must never outlive it.
//
// Measured on Debian 12's kernel and this project's machines (test/dap/session.test.ts, "an adapter
// killed with SIGKILL takes its QEMU with it"): an `exit` handler cannot run on SIGKILL, and QEMU 7.2
// has no option to follow its parent (`-run-with exit-with-parent=on` arrived in QEMU 9). Linux's
// parent-death signal does it: util-linux's `setpriv --pdeathsig SIGKILL` sets PR_SET_PDEATHSIG and
// then execs QEMU in the same process (same pid), and the kernel sends SIGKILL to QEMU the moment the
// thread that spawned it exits. Node spawns children from its main thread, so that is the adapter's
// own death. Where setpriv does not exist (not Linux), the child is spawned as is and only the
// adapter's `exit` handler protects against orphans.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';

const SETPRIV =
  process.platform === 'linux' ? ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) : undefined;

export class ExecutableNotFoundError extends Error {}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The absolute path `binary` names, searched on `PATH` when it has no slash, as execvp would. Resolved
 * here (not by setpriv) so that a missing or non-executable binary is reported as such, with the name
 * the user wrote.
 */
export function resolveExecutable(binary: string, cwd?: string, pathVar = process.env.PATH ?? ''): string {
  if (binary.includes('/')) {
    const p = isAbsolute(binary) ? binary : resolve(cwd ?? process.cwd(), binary);
    if (!existsSync(p)) throw new ExecutableNotFoundError(`'${binary}' not found`);
    if (!isExecutableFile(p)) throw new ExecutableNotFoundError(`'${binary}' is not an executable file`);
    return p;
  }
  for (const dir of pathVar.split(delimiter)) {
    if (!dir) continue;
    const p = join(isAbsolute(dir) ? dir : resolve(cwd ?? process.cwd(), dir), binary);
    if (isExecutableFile(p)) return p;
  }
  throw new ExecutableNotFoundError(`'${binary}' not found on PATH`);
}

/** The command and arguments that run `binary args` as a child tied to this process's life. */
export function tiedCommand(binary: string, args: readonly string[]): { command: string; args: string[] } {
  if (!SETPRIV) return { command: binary, args: [...args] };
  return { command: SETPRIV, args: ['--pdeathsig', 'SIGKILL', '--', binary, ...args] };
}

/** Whether children are tied to this process by a parent-death signal here (for logs and tests). */
export function tiedSpawnAvailable(): boolean {
  return SETPRIV !== undefined;
}
