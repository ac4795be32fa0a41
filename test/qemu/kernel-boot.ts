// Boots Debian's arm64 kernel (scripts/fetch-kernel.sh) under QEMU until it panics for lack of a root
// fs, then attaches the gdb client stopped in the kernel at EL1. Shared by the kernel tests and the
// engine benchmark.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { decodeSpsr } from '../../src/aarch64';
import { connectTcp, type GdbClient } from '../../src/gdb';
import { startQemu, type QemuInstance } from '../harness/qemu';

const repoRoot = resolve(__dirname, '../../..');

/** The kernel cache: $PVMFW_MMU_KERNEL_DIR or ~/.cache/pvmfw-mmu/kernel, filled by fetch-kernel.sh. */
export function kernelImage(): string {
  const dir = process.env.PVMFW_MMU_KERNEL_DIR ?? join(homedir(), '.cache/pvmfw-mmu/kernel');
  const image = join(dir, 'Image');
  if (!existsSync(image)) {
    // The script prints one clear line and fails when it cannot fetch (not root, no network).
    execFileSync('bash', [resolve(repoRoot, 'scripts/fetch-kernel.sh'), dir], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  }
  return image;
}

export interface BootedKernel {
  readonly qemu: QemuInstance;
  readonly gdb: GdbClient;
  /** PSTATE when the client attached, before any stepping. */
  readonly firstCpsr: bigint;
  /** Instructions stepped to leave EL0 / the KPTI trampoline (0 when already in the kernel). */
  readonly stepped: number;
}

const UPPER = 0xffff_0000_0000_0000n;

/** How to boot: the plain kernel by default; pKVM with PKVM_BOOT. */
export interface KernelBootOptions {
  readonly machine?: string;
  readonly cpu?: string;
  readonly smp?: number;
  readonly memory?: string;
  readonly append?: string;
  readonly initrd?: string;
  /** Console output that must appear before the panic (else the boot fails with it named). */
  readonly expect?: RegExp;
  /** Console output to wait for instead of the root-fs panic. */
  readonly until?: RegExp;
  /**
   * Where to leave the CPU: in kernel text at EL1 (default: TTBR1 is swapper_pg_dir), or at EL0 in
   * the user process (TTBR0 is its tables: in the kernel, SW PAN parks TTBR0 on an empty table).
   */
  readonly stopIn?: 'kernel' | 'user';
}

/** Debian's kernel under pKVM: EL2 on, `kvm-arm.mode=protected` (the host runs under pKVM's stage 2). */
export const PKVM_BOOT: KernelBootOptions = {
  machine: 'virt,virtualization=on',
  cpu: 'max',
  smp: 2,
  memory: '1G',
  append: 'console=ttyAMA0 kvm-arm.mode=protected',
  expect: /Protected nVHE mode initialized successfully/,
};

export async function bootKernelToPanic(o: KernelBootOptions = {}): Promise<BootedKernel> {
  // Started halted and resumed by the client: attaching to a running QEMU makes it send an
  // unsolicited stop that races the client's first request.
  const qemu = await startQemu({
    kernel: kernelImage(),
    machine: o.machine ?? 'virt',
    cpu: o.cpu ?? 'cortex-a57',
    memory: o.memory ?? '1G',
    ...(o.smp ? { smp: o.smp } : {}),
    extraArgs: [
      '-append',
      o.append ?? 'console=ttyAMA0 rodata=full',
      ...(o.initrd ? ['-initrd', o.initrd] : []),
    ],
  });
  try {
    const gdb = await connectTcp(qemu.host, qemu.port, { timeoutMs: 5000, requestTimeoutMs: 10_000 });
    await gdb.resume('continue');
    await qemu.waitForOutput(o.until ?? /end Kernel panic - not syncing/, 120_000);
    if (o.expect && !o.expect.test(qemu.output()))
      throw new Error(
        `the kernel booted without printing ${String(o.expect)}:\n${qemu.output().slice(-2000)}`,
      );
    await gdb.interrupt(5000);
    const firstCpsr = await gdb.readRegister('cpsr');
    // With KPTI, TTBR1 holds the trampoline table while at EL0 or in the entry trampoline: step until
    // the CPU is at EL1 running kernel text (the panic loop is), so TTBR1 is swapper_pg_dir.
    let stepped = 0;
    for (;;) {
      const cpsr = await gdb.readRegister('cpsr');
      const pc = await gdb.readRegister('pc');
      const el = decodeSpsr(cpsr).el;
      if (o.stopIn === 'user' ? el === 0 && pc < UPPER : el === 1 && pc >= UPPER) break;
      if (++stepped > 100_000)
        throw new Error(
          o.stopIn === 'user' ? 'the CPU never reached EL0' : 'kernel never reached EL1 kernel text',
        );
      await gdb.step(undefined, 5000);
    }
    return { qemu, gdb, firstCpsr, stepped };
  } catch (e) {
    await qemu.kill();
    throw e;
  }
}
