// A snapshot of Debian's arm64 kernel stopped after its root-fs panic, for the extension-host suite:
// a post-mortem session on a kernel nobody here wrote (TTBR1_EL1's upper half, no pvmfw guard log),
// booted under pKVM (kvm-arm.mode=protected) so the hypervisor's EL2 tables and the host's stage 2
// are in it too: the views' profiles and pKVM's page ownership are checked on it.
// Taken before code-server starts, as a user would: boot the kernel under QEMU (test/qemu/kernel-boot),
// then `pvmfw-mmu snapshot --gdb` (the CLI, run in this process) on the halted gdbstub.
// The suite finds the file (or why there is none) through the environment, which code-server passes
// on to its extension host.

import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { main as cli } from '../../src/cli/run';
import { bootKernelToPanic, PKVM_BOOT } from '../qemu/kernel-boot';
import { KERNEL_SNAPSHOT_ENV, KERNEL_SNAPSHOT_ERROR_ENV } from './suiteEnv';

/** Where scripts/fetch-kernel.sh caches the kernel (the same rule as test/qemu/kernel-boot.ts). */
function kernelDir(): string {
  return process.env.PVMFW_MMU_KERNEL_DIR ?? join(homedir(), '.cache/pvmfw-mmu/kernel');
}

/**
 * Writes `dir/debian-kernel.pvmfw-snapshot` and returns the environment the suite reads. Never
 * throws: a missing kernel cache or a failed boot becomes KERNEL_SNAPSHOT_ERROR_ENV, so only the
 * kernel test fails (fast, saying what to do) and the rest of the suite still runs.
 */
export async function prepareKernelSnapshot(
  dir: string,
  log: (s: string) => void,
): Promise<Record<string, string>> {
  const image = join(kernelDir(), 'Image');
  if (!existsSync(image)) {
    // Not fetched here: the first fetch needs root and the network (apt), which a test must not assume.
    const why = `Debian's arm64 kernel is not cached (${image}): run bash scripts/fetch-kernel.sh (scripts/setup.sh does)`;
    log(why);
    return { [KERNEL_SNAPSHOT_ERROR_ENV]: why };
  }
  const file = join(dir, 'debian-kernel.pvmfw-snapshot');
  const t0 = Date.now();
  let k: Awaited<ReturnType<typeof bootKernelToPanic>> | undefined;
  try {
    k = await bootKernelToPanic(PKVM_BOOT);
    // The gdbstub takes one client: the boot's lets go so the CLI's can attach (QEMU stays halted).
    await k.gdb.close();
    let out = '';
    const code = await cli(
      ['snapshot', '--gdb', `${k.qemu.host}:${k.qemu.port}`, '--no-progress', '-o', file],
      (s) => (out += s),
    );
    if (code !== 0 || !existsSync(file)) throw new Error(`pvmfw-mmu snapshot exited ${code}: ${out.trim()}`);
    log(`kernel snapshot ${file} taken in ${Date.now() - t0} ms`);
    return { [KERNEL_SNAPSHOT_ENV]: file };
  } catch (e) {
    const why = `could not snapshot Debian's arm64 kernel: ${e instanceof Error ? e.message : String(e)}`;
    log(why);
    return { [KERNEL_SNAPSHOT_ERROR_ENV]: why };
  } finally {
    await k?.qemu.kill();
  }
}
