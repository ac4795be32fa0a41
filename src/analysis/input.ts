// What the analysis of one stop is given: every input handed in, nothing fetched by the core itself
// (no DAP, no sockets). A live adapter, the CLI (live or on a snapshot) and the tests build the same
// StopInput, so they cannot disagree about what a stop means.
import type { PhysReader } from '../aarch64/reader';
import { REGIME_REGISTERS } from '../aarch64/regime';
import type { SymbolTable } from '../elf/symbolTable';
import type { ProfileOverride } from '../profiles/choose';
import type { WalkReuse } from './walkReuse';

/** The program's symbols, as far as the analysis needs them. */
export interface ProgramSymbols {
  /** Address of a data or code symbol, by name. */
  address(name: string): bigint | undefined;
  /** `symbol+0x10` for an address, when a symbol covers it. */
  describe(address: bigint): string | undefined;
  /** How many symbols the program has (0: no program known). */
  readonly count?: number;
}

/** The symbols of a SymbolTable (an ELF's, or a snapshot's name -> address map). */
export function programSymbols(t: SymbolTable): ProgramSymbols {
  return { address: (n) => t.lookup(n)?.address, describe: (a) => t.describe(a), count: t.size };
}

export interface AnalysisOptions {
  /** pvmfw's MMIO_LAZY_MAP_FLAG (SWFLAG_0 = bit 55 at the seed change). */
  readonly lazyBit: number;
  /** Upper bound of tables read per walk (the walker's default when absent). */
  readonly maxTables?: number;
  /** Symbol of the EL2 stub's guard-call log. */
  readonly guardLogSymbol: string;
  /** RAM ranges of the guest (from QEMU's memory tree): tables outside them are not read. */
  readonly ram?: readonly { start: bigint; end: bigint }[];
  /** Profiles the user set per regime (launch configuration, setting, --profile); the rest are chosen. */
  readonly profile?: ProfileOverride;
}

export interface StopInput {
  readonly stopId: number;
  /** Why the target stopped (`entry`, `breakpoint`, `step`, `exception`, ...). */
  readonly reason: string;
  readonly threadId: number;
  /** Register values by Arm name (`TTBR0_EL1`, `SCTLR_EL1`, `pc`, `x0`); undefined when unreadable. */
  readonly registers: Readonly<Record<string, bigint | undefined>>;
  /** Guest-physical memory: the walk, the guard log, the tracker's regions. */
  readonly reader: PhysReader;
  readonly symbols?: ProgramSymbols;
  readonly options: AnalysisOptions;
  /**
   * The previous stop's walks, reused when nothing they read has changed (an adapter's, kept across
   * its stops); this stop's walks are kept in it for the next.
   */
  readonly reuse?: WalkReuse;
}

/** Every register the analysis of a stop reads: pass them all in StopInput.registers. */
export const STOP_REGISTERS: readonly string[] = [
  ...new Set([
    ...REGIME_REGISTERS.el1,
    ...REGIME_REGISTERS.el2,
    ...REGIME_REGISTERS.stage2,
    'pc',
    'x0',
    'x1',
    'VBAR_EL1',
    'ESR_EL1',
    'FAR_EL1',
    'ELR_EL1',
    'VBAR_EL2',
    'ESR_EL2',
    'FAR_EL2',
    'ELR_EL2',
    'HPFAR_EL2',
  ]),
];
