// node:test glue for the QEMU harness: boot once per suite, kill in `after`, print QEMU's output only
// for failing tests.
import { after, afterEach, before, type TestContext } from 'node:test';
import { startQemu, type QemuInstance, type QemuOptions } from './qemu';

export interface QemuSuite {
  /** The running QEMU (throws if used outside the suite's tests). */
  readonly qemu: QemuInstance;
}

function printOutput(title: string, q: QemuInstance | undefined): void {
  if (!q) return;
  process.stderr.write(
    `\n----- QEMU output (${title}) -----\n$ ${q.commandLine.join(' ')}\n${q.output()}\n----- end of QEMU output -----\n`,
  );
}

/**
 * Call inside a `describe` body: starts QEMU in `before` (options may be computed lazily, e.g. after
 * building a kernel), kills it in `after`, and prints its output after each failing test.
 */
export function useQemu(options: QemuOptions | (() => QemuOptions | Promise<QemuOptions>)): QemuSuite {
  let instance: QemuInstance | undefined;
  before(async () => {
    const opts = typeof options === 'function' ? await options() : options;
    instance = await startQemu(opts);
  });
  afterEach((t) => {
    // `passed` exists on node 20's TestContext but not yet in its typings.
    const ctx = t as unknown as { passed?: boolean; name: string };
    if (ctx.passed === false) printOutput(`after failing test '${ctx.name}'`, instance);
  });
  after(async () => {
    await instance?.kill();
  });
  return {
    get qemu(): QemuInstance {
      if (!instance) throw new Error('QEMU is not running (useQemu must be called inside describe)');
      return instance;
    },
  };
}

/** Per-test QEMU: runs `fn`, prints the output if it throws, always kills QEMU. */
export async function withQemu<T>(
  t: TestContext,
  options: QemuOptions,
  fn: (qemu: QemuInstance) => Promise<T>,
): Promise<T> {
  const q = await startQemu(options);
  try {
    return await fn(q);
  } catch (e) {
    printOutput(`test '${t.name}' failed`, q);
    throw e;
  } finally {
    await q.kill();
  }
}
