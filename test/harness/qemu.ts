// Starts qemu-system-aarch64 halted (-S) with its gdbstub on a free 127.0.0.1 port, keeps its output in
// memory, and guarantees the process is killed by PID (teardown, or process exit as a last resort).
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, isListening } from '../../src/target/qemuProcess';
import { resolveExecutable, tiedCommand } from '../../src/target/tiedSpawn';
import { sharedRamArgs } from '../../src/target/localRam';

export interface QemuOptions {
  /** ELF (or raw image) passed to -kernel. */
  readonly kernel: string;
  /** -M value (default `virt`). E.g. `virt,virtualization=on`. */
  readonly machine?: string;
  /** -cpu value (default `max`). */
  readonly cpu?: string;
  /** -smp value (default 1). */
  readonly smp?: number;
  /** -m value (default `128M`). */
  readonly memory?: string;
  /** Appended after the defaults (`-append`, `-device`, ...). */
  readonly extraArgs?: readonly string[];
  /**
   * Replaces the machine part of the command line (-M/-cpu/-smp/-m/-kernel are then not added);
   * the harness still adds -S, -gdb, -nic none, -display none, -monitor none, -serial stdio.
   */
  readonly args?: readonly string[];
  /** Start the guest running instead of halted (default false: -S). */
  readonly running?: boolean;
  /** How long to wait for the gdbstub to listen (default 10000 ms). */
  readonly startTimeoutMs?: number;
  /** Binary to run (default `qemu-system-aarch64`, or $QEMU_SYSTEM_AARCH64). */
  readonly binary?: string;
  /**
   * Back RAM with a shared memfd as the adapter's launch does (src/target/localRam.ts), so the local
   * fast path reads it with pread (default true; false: QEMU's own private RAM).
   */
  readonly sharedRam?: boolean;
}

export interface QemuInstance {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly pid: number;
  /** The full command line (for logs). */
  readonly commandLine: readonly string[];
  /** QEMU's stdout (the guest UART, via -serial stdio) and stderr, interleaved as received. */
  output(): string;
  /** Resolves with the output so far once it matches `pattern`; rejects on timeout or QEMU exit. */
  waitForOutput(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Exit code/signal once QEMU has exited, else undefined. */
  exitStatus(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** Kills QEMU by PID (SIGTERM, then SIGKILL after 2 s) and waits for it. Safe to call twice. */
  kill(): Promise<void>;
}

const live = new Map<number, ChildProcess>();
let exitHooked = false;

function hookProcessExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  // Last resort: never leave a QEMU behind, whatever way this process ends.
  process.on('exit', () => {
    for (const pid of live.keys()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

export { freePort };

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startQemu(opts: QemuOptions): Promise<QemuInstance> {
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts, await freePort());
    } catch (e) {
      lastError = e as Error;
      // Only a lost race for the port is worth retrying.
      if (!/bind|Address already in use/i.test(lastError.message)) throw lastError;
    }
  }
  throw lastError ?? new Error('startQemu failed');
}

async function startOnce(opts: QemuOptions, port: number): Promise<QemuInstance> {
  hookProcessExit();
  const binary = opts.binary ?? process.env.QEMU_SYSTEM_AARCH64 ?? 'qemu-system-aarch64';
  const machineArgs = opts.args
    ? [...opts.args]
    : [
        '-M',
        opts.machine ?? 'virt',
        '-cpu',
        opts.cpu ?? 'max',
        '-smp',
        String(opts.smp ?? 1),
        '-m',
        opts.memory ?? '128M',
        '-kernel',
        opts.kernel,
      ];
  const args = [
    ...machineArgs,
    ...(opts.running ? [] : ['-S']),
    '-gdb',
    `tcp:127.0.0.1:${port}`,
    '-nic',
    'none',
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    ...(opts.extraArgs ?? []),
  ];
  if (opts.sharedRam !== false) args.push(...(sharedRamArgs(args) ?? []));
  // Tied to the test process: a runner that kills a hung test file (SIGKILL) takes its QEMU with it.
  const tied = tiedCommand(resolveExecutable(binary), args);
  const child = spawn(tied.command, tied.args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: string[] = [];
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout?.on('data', (b: Buffer) => {
    chunks.push(b.toString('latin1'));
    notify();
  });
  child.stderr?.on('data', (b: Buffer) => {
    chunks.push(b.toString('latin1'));
    notify();
  });
  let spawnError: Error | undefined;
  child.once('error', (e) => {
    spawnError = e;
    exit = { code: null, signal: null };
    notify();
  });
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      if (child.pid !== undefined) live.delete(child.pid);
      notify();
      resolve();
    });
  });
  const pid = child.pid;
  if (pid !== undefined) live.set(pid, child);
  const output = () => chunks.join('');

  let killing: Promise<void> | undefined;
  const kill = (): Promise<void> => {
    if (killing) return killing;
    killing = (async () => {
      if (exit || pid === undefined) return;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }, 2000);
      await exited;
      clearTimeout(timer);
    })();
    return killing;
  };

  const waitForOutput = (pattern: string | RegExp, timeoutMs = 10000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = () => {
        const text = output();
        if (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)) {
          done();
          resolve(text);
        } else if (exit) {
          done();
          reject(
            new Error(`QEMU exited (${describeExit(exit)}) before printing ${String(pattern)}:\n${text}`),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(`QEMU did not print ${String(pattern)} within ${timeoutMs} ms; output:\n${output()}`),
        );
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const deadline = Date.now() + (opts.startTimeoutMs ?? 10000);
  while (!isListening(port)) {
    if (exit) {
      const why = spawnError ? spawnError.message : describeExit(exit);
      throw new Error(`QEMU failed to start (${why}): ${[binary, ...args].join(' ')}\n${output()}`);
    }
    if (Date.now() > deadline) {
      await kill();
      throw new Error(`QEMU gdbstub did not listen on 127.0.0.1:${port} in time\n${output()}`);
    }
    await sleep(20);
  }
  if (pid === undefined) throw new Error('QEMU has no pid');
  return {
    host: '127.0.0.1',
    port,
    pid,
    commandLine: [binary, ...args],
    output,
    waitForOutput,
    exitStatus: () => exit,
    kill,
  };
}

function describeExit(e: { code: number | null; signal: NodeJS.Signals | null }): string {
  return e.signal ? `signal ${e.signal}` : `exit code ${String(e.code)}`;
}
