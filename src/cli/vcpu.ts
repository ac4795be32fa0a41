// Which vCPU the CLI reads: QEMU's gdbstub lists one thread per vCPU. The regimes can differ per
// vCPU (a hypervisor's idle vCPU may hold a parked VTTBR with an empty root while a guest's stage 2 is
// live on another), so the CLI reads the vCPU that stopped unless --cpu names one, says which, and
// warns when the vCPUs' translation registers differ.
import { getRegister, REGIME_REGISTERS } from '../aarch64';
import type { GdbClient, ThreadId } from '../gdb';
/** A --cpu the guest does not have, or a stub that lists no vCPU. */
export class VcpuError extends Error {}

/** The registers that decide the translation regimes, compared across vCPUs. */
export const TRANSLATION_REGISTERS: readonly string[] = [
  ...new Set([...REGIME_REGISTERS.el1, ...REGIME_REGISTERS.stage2, ...REGIME_REGISTERS.el2]),
];

export interface VcpuRegisters {
  /** 1-based vCPU number (QEMU's gdbstub thread ids, in its order). */
  readonly vcpu: number;
  readonly registers: Readonly<Record<string, bigint | undefined>>;
}

export interface VcpuChoice {
  readonly thread: ThreadId;
  readonly vcpu: number;
  readonly count: number;
  /** Every vCPU's translation registers (the chosen one's included). */
  readonly all: VcpuRegisters[];
  /** "vCPUs differ in TTBR0_EL1 (vCPU 1 0x…, vCPU 2 0x…)", one per register that differs. */
  readonly differences: string[];
}

const hex = (v: bigint | undefined): string => (v === undefined ? 'unreadable' : `0x${v.toString(16)}`);

/**
 * The vCPU to read: `cpu` (1-based) when given, else the one the stop reply names (`stopped`: the
 * thread the connection's stop reply named, when the caller has it; else `?` is asked). `names` are
 * the stub's register names to read per vCPU (QEMU spells some EL1 registers the AArch32 way: SCTLR);
 * each vCPU's translation registers are recorded under their Arm names.
 */
export async function chooseVcpu(
  gdb: GdbClient,
  cpu: number | undefined,
  names: readonly string[],
  stopped?: ThreadId,
): Promise<VcpuChoice> {
  const threads = await gdb.threads();
  if (threads.length === 0) throw new VcpuError('the gdbstub lists no threads (vCPUs)');
  let index: number;
  if (cpu !== undefined) {
    if (cpu < 1 || cpu > threads.length)
      throw new VcpuError(
        `--cpu ${cpu}: the guest has ${threads.length} vCPU${threads.length > 1 ? 's' : ''} (1..${threads.length})`,
      );
    index = cpu - 1;
  } else if (threads.length === 1) {
    index = 0;
  } else {
    if (stopped === undefined) {
      const stop = await gdb.queryStopReason();
      stopped = 'thread' in stop ? stop.thread : undefined;
    }
    index = Math.max(
      0,
      threads.findIndex((t) => stopped !== undefined && sameThread(t, stopped)),
    );
  }
  // One vCPU: nothing to compare or record beyond the registers the caller reads anyway.
  const all: VcpuRegisters[] = [];
  // Only the translation registers, in the stub's spellings (QEMU's SCTLR for SCTLR_EL1).
  const wanted = names.filter((n) => /^(v?ttbr|v?tcr|mair|sctlr|hcr)/i.test(n));
  for (let i = 0; threads.length > 1 && i < threads.length; i++) {
    const raw: Record<string, bigint | undefined> = Object.fromEntries(
      await gdb.readRegisters(wanted, threads[i]),
    );
    const registers = Object.fromEntries(TRANSLATION_REGISTERS.map((n) => [n, getRegister(raw, n)]));
    all.push({ vcpu: i + 1, registers });
  }
  return {
    thread: threads[index],
    vcpu: index + 1,
    count: threads.length,
    all,
    differences: differences(all),
  };
}

/** Whether two of the stub's thread ids name the same vCPU (no pid: process 1). */
export function sameThread(a: ThreadId, b: ThreadId): boolean {
  return a.tid === b.tid && (a.pid ?? 1) === (b.pid ?? 1);
}

/** The translation registers whose values differ between vCPUs. */
export function differences(all: readonly VcpuRegisters[]): string[] {
  if (all.length < 2) return [];
  const out: string[] = [];
  for (const name of TRANSLATION_REGISTERS) {
    const values = all.map((v) => v.registers[name]);
    if (values.every((x) => x === values[0])) continue;
    out.push(`${name} (${all.map((v, i) => `vCPU ${v.vcpu} ${hex(values[i])}`).join(', ')})`);
  }
  return out;
}

/** The warning the CLI prints on stderr when the vCPUs' regimes differ. */
export function vcpuWarning(c: { vcpu: number; differences: readonly string[] }): string | undefined {
  if (!c.differences.length) return undefined;
  return `warning: the vCPUs' translation registers differ: ${c.differences.join('; ')}; this reads vCPU ${c.vcpu} (--cpu N picks another)`;
}
