// What the adapter knows about one stop: register values read once and cached until the target
// runs again. A register the stub cannot read is `undefined` (shown as unavailable), never an error.
import type { TargetPort } from './port';
import { stubName } from './registers';

export class StopContext {
  private readonly cache = new Map<string, Promise<bigint | undefined>>();

  constructor(
    readonly gdb: TargetPort,
    readonly threadId: number,
    readonly stopId: number,
  ) {}

  has(name: string): boolean {
    return stubName(name, (n) => this.gdb.registers.get(n) !== undefined) !== undefined;
  }

  /** Reads a register by Arm or stub name; undefined when absent or unreadable. */
  reg(name: string): Promise<bigint | undefined> {
    const key = name.toLowerCase();
    let p = this.cache.get(key);
    if (!p) {
      const real = stubName(name, (n) => this.gdb.registers.get(n) !== undefined);
      p =
        real === undefined
          ? Promise.resolve(undefined)
          : this.gdb.readRegister(real, this.threadId).catch(() => undefined);
      this.cache.set(key, p);
    }
    return p;
  }

  /** Several registers in one batch (one round trip per register, but issued together). */
  async regs(names: readonly string[]): Promise<Map<string, bigint | undefined>> {
    const missing = names.filter((n) => !this.cache.has(n.toLowerCase()));
    if (missing.length > 1) {
      const real = missing.map(
        (n) => [n, stubName(n, (x) => this.gdb.registers.get(x) !== undefined)] as const,
      );
      const present = real.filter(([, r]) => r !== undefined).map(([, r]) => r as string);
      const batch = present.length
        ? this.gdb.readRegisters(present, this.threadId).catch(() => new Map<string, bigint | undefined>())
        : Promise.resolve(new Map<string, bigint | undefined>());
      for (const [n, r] of real) {
        this.cache.set(
          n.toLowerCase(),
          r === undefined ? Promise.resolve(undefined) : batch.then((m) => (m.has(r) ? m.get(r) : undefined)),
        );
      }
    }
    const out = new Map<string, bigint | undefined>();
    for (const n of names) out.set(n, await this.reg(n));
    return out;
  }
}
