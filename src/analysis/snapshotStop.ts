// The StopInput of a halted target known only by its registers and physical memory: a snapshot file,
// or the CLI on a live gdbstub. Both front ends that open a snapshot (the CLI's `guard`/`diff` and the
// extension's Compare Snapshots) build the stop here, so they analyse it the same way.
import type { ProfileOverride } from '../profiles/choose';
import type { PhysReader } from '../aarch64/reader';
import { getRegister, type Registers } from '../aarch64/regime';
import { DEFAULT_MAX_TABLES } from '../aarch64/walk';
import { SymbolTable } from '../elf/symbolTable';
import { DEFAULT_LAZY_BIT } from '../pvmfw/flags';
import { GUARD_LOG_SYMBOL } from '../pvmfw/guardlog';
import { programSymbols, STOP_REGISTERS, type StopInput } from './input';
import { analyzeStop, type StopPicture } from './picture';
import type { LoadedSnapshot } from './snapshot';

export interface HaltedStopOptions {
  /** pvmfw's MMIO_LAZY_MAP_FLAG bit (55 when absent). */
  readonly lazyBit?: number;
  readonly profile?: ProfileOverride;
  /** Tables read per walk at most (the walker's default, as the CLI's, when absent). */
  readonly maxTables?: number;
}

/**
 * A halted stop seen without knowing why it stopped: a pause, unless PC sits in the vector table
 * (then the picture is about the fault the registers record). Registers are looked up by their Arm
 * names, falling back to QEMU's spellings (`SCTLR` for `SCTLR_EL1`).
 */
export function haltedStopInput(
  registers: Registers,
  reader: PhysReader,
  symbols: SymbolTable | undefined,
  o: HaltedStopOptions = {},
): StopInput {
  const regs: Record<string, bigint | undefined> = {};
  for (const name of STOP_REGISTERS) regs[name] = getRegister(registers, name);
  return {
    stopId: 1,
    reason: 'pause',
    threadId: 1,
    registers: regs,
    reader,
    ...(symbols ? { symbols: programSymbols(symbols) } : {}),
    options: {
      lazyBit: o.lazyBit ?? DEFAULT_LAZY_BIT,
      maxTables: o.maxTables ?? DEFAULT_MAX_TABLES,
      guardLogSymbol: GUARD_LOG_SYMBOL,
      ...(o.profile ? { profile: o.profile } : {}),
    },
  };
}

/** The stop a loaded snapshot records, with the symbols it carries. */
export function snapshotStopInput(s: LoadedSnapshot, o: HaltedStopOptions = {}): StopInput {
  return haltedStopInput(s.registers, s.image, new SymbolTable(s.symbols), o);
}

/** The picture of the stop a loaded snapshot records. */
export function snapshotPicture(s: LoadedSnapshot, o: HaltedStopOptions = {}): Promise<StopPicture> {
  return analyzeStop(snapshotStopInput(s, o));
}
