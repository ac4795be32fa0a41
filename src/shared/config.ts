// Launch and attach configuration attributes of the `pvmfw-mmu` debug type (what launch.json holds).
// The adapter validates them; package.json's `configurationAttributes` documents the same fields.

interface CommonArguments {
  /** The guest ELF, for symbols, source lines and the guard-call log symbol. */
  program?: string;
  /** Stop at the first instruction (launch) or as soon as attached (attach). Default true for launch. */
  stopOnEntry?: boolean;
  /** Symbol of the MMIO-guard stub's call log (default `guard_log`). */
  guardLogSymbol?: string;
  /** Software bit pvmfw uses as MMIO_LAZY_MAP_FLAG (default 55). */
  lazyFlagBit?: number;
  /**
   * What the software bits of each regime mean: `auto` (default: chosen per regime from the program's
   * symbols and the registers), `pvmfw`, `linux`, `pkvm`, `none`, or `el1=linux,el2=pkvm-hyp,stage2=…`.
   */
  profile?: string;
  /** Upper bound of descriptors read per walk (default 1,000,000). */
  walkLimit?: number;
  /** Print GDB remote protocol traffic to the Debug Console. */
  trace?: boolean;
}

export interface LaunchArguments extends CommonArguments {
  /** QEMU binary (path or name on PATH). Default `qemu-system-aarch64`. Nothing else is executed. */
  qemu?: string;
  /** Arguments for QEMU; the adapter appends `-gdb tcp:127.0.0.1:PORT -S` on a free port. */
  qemuArgs?: string[];
  /** Working directory for QEMU. */
  cwd?: string;
  /** Extra environment variables for QEMU. */
  env?: Record<string, string>;
  /**
   * A snapshot file (`pvmfw-mmu snapshot -o FILE`, or Export Snapshot) to open post-mortem instead of
   * launching QEMU: the views, the Fault scope and the console answer from it; run control is refused.
   */
  snapshot?: string;
}

export interface AttachArguments extends CommonArguments {
  /** gdbstub address `host:port`. Default `127.0.0.1:1234`. */
  gdb?: string;
  /** On disconnect: `continue` leaves the guest running (default), `pause` leaves it stopped. */
  onDisconnect?: 'continue' | 'pause';
}
