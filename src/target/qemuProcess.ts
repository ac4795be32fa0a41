// Starts the configured QEMU binary halted with its gdbstub on a free 127.0.0.1 port, forwards its
// output, and kills it by PID. Only the `qemu` binary of the configuration is ever executed.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { ExecutableNotFoundError, resolveExecutable, tiedCommand } from './tiedSpawn';
import { listeningInodes } from './localQemu';
import { localRamDisabled, sharedRamArgs } from './localRam';

export class QemuStartError extends Error {}

export interface QemuSpawnOptions {
  binary: string;
  args: readonly string[];
  cwd?: string;
  env?: Record<string, string>;
  onOutput: (text: string, stream: 'stdout' | 'stderr') => void;
  onExit: (code: number | null, signal: NodeJS.Signals | null) => void;
  startTimeoutMs?: number;
  /**
   * Back the guest's RAM with a memfd QEMU shares (localRam.ts reads it with pread): default on,
   * unless the arguments already choose a RAM backend or PVMFW_MMU_LOCAL_RAM=off.
   */
  sharedRam?: boolean;
}

/** QEMUs this process started and has not reaped yet. */
const live = new Set<number>();
let exitHooked = false;

/**
 * Last resort: the adapter process (standalone, or the extension host when inline) going away
 * must not leave a QEMU behind, even when the client vanished without a disconnect.
 */
function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.once('exit', () => {
    for (const pid of live) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** A port that was free a moment ago (QEMU binding it can still race). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Listening check without connecting: QEMU's gdbstub accepts one client, and a probe would take it. */
export function isListening(port: number): boolean {
  return listeningInodes(port).size > 0;
}

/** What to do about the start failures we know, from QEMU's own message. */
function startHint(output: string): string {
  const rom = /failed to find romfile "([^"]+)"/.exec(output);
  if (rom) {
    return ` (QEMU needs the firmware file ${rom[1]}: add "-nic", "none" to "qemuArgs" if the guest needs no network, or install it; on Debian it comes with the package ${/^(efi|pxe)-/.test(rom[1]) ? 'ipxe-qemu' : 'that provides it'})`;
  }
  return '';
}

export class QemuProcess {
  private exited = false;
  private readonly exitPromise: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly commandLine: readonly string[],
    exitPromise: Promise<void>,
  ) {
    this.exitPromise = exitPromise.then(() => {
      this.exited = true;
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get hasExited(): boolean {
    return this.exited;
  }

  /** Spawns QEMU with `-gdb tcp:127.0.0.1:PORT -S` appended and waits until the stub listens. */
  static async start(opts: QemuSpawnOptions): Promise<QemuProcess> {
    let executable: string;
    try {
      executable = resolveExecutable(opts.binary, opts.cwd, opts.env?.PATH ?? process.env.PATH);
    } catch (e) {
      if (e instanceof ExecutableNotFoundError) {
        throw new QemuStartError(
          `QEMU binary ${e.message.replace(/^'[^']*'/, `'${opts.binary}'`)} (set "qemu" in the launch configuration)`,
        );
      }
      throw e;
    }
    const port = await freePort();
    const shared = opts.sharedRam === false || localRamDisabled() ? undefined : sharedRamArgs(opts.args);
    const args = [...opts.args, ...(shared ?? []), '-gdb', `tcp:127.0.0.1:${port}`, '-S'];
    // Tied to this process: a QEMU must not outlive an adapter that is killed (SIGKILL included).
    const tied = tiedCommand(executable, args);
    const child = spawn(tied.command, tied.args, {
      cwd: opts.cwd,
      env: opts.env ? { ...process.env, ...opts.env } : process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let spawnError: NodeJS.ErrnoException | undefined;
    let exitInfo: string | undefined;
    let output = '';
    const exitPromise = new Promise<void>((resolve) => {
      child.once('error', (e) => {
        spawnError = e;
        exitInfo = e.message;
        resolve();
      });
      child.once('exit', (code, signal) => {
        exitInfo = signal ? `signal ${signal}` : `exit code ${String(code)}`;
        opts.onExit(code, signal);
        resolve();
      });
    });
    child.stdout?.on('data', (b: Buffer) => {
      const t = b.toString('utf8');
      if (output.length < 8192) output += t;
      opts.onOutput(t, 'stdout');
    });
    child.stderr?.on('data', (b: Buffer) => {
      const t = b.toString('utf8');
      if (output.length < 8192) output += t;
      opts.onOutput(t, 'stderr');
    });
    hookExit();
    const pid = child.pid;
    if (pid !== undefined) {
      live.add(pid);
      void exitPromise.then(() => live.delete(pid));
    }
    const q = new QemuProcess(child, port, [opts.binary, ...args], exitPromise);
    const deadline = Date.now() + (opts.startTimeoutMs ?? 10000);
    while (!isListening(port)) {
      if (exitInfo !== undefined) {
        const err = spawnError;
        if (err?.code === 'ENOENT') {
          throw new QemuStartError(
            `QEMU binary '${opts.binary}' not found (set "qemu" in the launch configuration)`,
          );
        }
        if (err?.code === 'EACCES')
          throw new QemuStartError(`QEMU binary '${opts.binary}' is not executable`);
        throw new QemuStartError(
          `QEMU exited before its gdbstub listened (${exitInfo}): ${output.trim()}${startHint(output)}`,
        );
      }
      if (Date.now() > deadline) {
        await q.kill();
        throw new QemuStartError(`QEMU's gdbstub did not listen on 127.0.0.1:${port} within the timeout`);
      }
      await new Promise((r) => setTimeout(r, 15));
    }
    return q;
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is reaped (no zombie). */
  async kill(graceMs = 1500): Promise<void> {
    const pid = this.child.pid;
    if (this.exited || pid === undefined) return this.exitPromise;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return this.exitPromise;
    }
    const t = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, graceMs);
    await this.exitPromise;
    clearTimeout(t);
  }

  waitExit(): Promise<void> {
    return this.exitPromise;
  }
}
