// A snapshot as a target: the registers and physical ranges it recorded, read-only, one vCPU, no
// monitor. Virtual reads translate through the recorded EL1&0 tables and, when HCR_EL2.VM is set,
// the recorded stage 2, as the CPU (and QEMU's `m`) would; anything
// the capture did not read is an error that says so (a snapshot holds the tables and what the
// analysis read, not the guest's RAM).
import type { PhysImage, PhysRange } from '../aarch64/reader';
import { regimeFromRegisters } from '../aarch64/regime';
import { stage2For, translateTwoStage } from '../aarch64/twoStage';
import type { TargetPort } from './port';

export class SnapshotReadError extends Error {}

const hex = (v: bigint) => `0x${v.toString(16)}`;

export class SnapshotPort implements TargetPort {
  readonly registers: { get(name: string): unknown };

  constructor(
    private readonly values: Readonly<Record<string, bigint>>,
    private readonly image: PhysImage,
    private readonly label: string,
  ) {
    const byLower = new Map(Object.keys(values).map((k) => [k.toLowerCase(), k]));
    this.registers = { get: (name: string) => byLower.get(name.toLowerCase()) };
  }

  private name(n: string): string | undefined {
    return this.registers.get(n) as string | undefined;
  }

  readRegister(name: string): Promise<bigint> {
    const k = this.name(name);
    if (k === undefined)
      return Promise.reject(new SnapshotReadError(`${name} was not recorded in ${this.label}`));
    return Promise.resolve(this.values[k]);
  }

  readRegisters(names: readonly string[]): Promise<Map<string, bigint | undefined>> {
    const out = new Map<string, bigint | undefined>();
    for (const n of names) {
      const k = this.name(n);
      out.set(n, k === undefined ? undefined : this.values[k]);
    }
    return Promise.resolve(out);
  }

  readPhysical(address: bigint, length: number): Promise<Uint8Array> {
    const b = this.image.readSync(address, length);
    if (b instanceof Error)
      return Promise.reject(
        new SnapshotReadError(`physical ${hex(address)} (${length} bytes) was not captured in ${this.label}`),
      );
    return Promise.resolve(b);
  }

  async readPhysicalBatch(ranges: readonly PhysRange[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (const r of ranges) out.push(await this.readPhysical(r.address, r.length));
    return out;
  }

  async readMemory(address: bigint, length: number): Promise<Uint8Array> {
    const regime = regimeFromRegisters('el1', this.values);
    const stage2 = stage2For(this.values);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const va = address + BigInt(done);
      const t = await translateTwoStage(regime, stage2, this.image, va);
      if (t.pa === undefined)
        throw new SnapshotReadError(
          `${hex(va)} has no translation in ${this.label}: ${t.fault?.message ?? 'unmapped'}`,
        );
      const n = Math.min(length - done, 4096 - Number(va & 0xfffn));
      out.set(await this.readPhysical(t.pa, n), done);
      done += n;
    }
    return out;
  }

  monitor(): Promise<string> {
    return Promise.reject(new SnapshotReadError(`${this.label} is a snapshot: there is no QEMU monitor`));
  }
}
