// The CLI's way into the analysis core: the same StopInput the adapter builds at a stop, from a live
// gdbstub or a snapshot, so `guard` (and everything that reports a stop) prints what VS Code shows.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseAddress } from '../aarch64';
import {
  analyzeStop,
  programIdentity,
  type ProgramIdentity,
  type StopInput,
  type StopPicture,
} from '../analysis';
import { haltedStopInput } from '../analysis';
// The ELF file and its symbols only: the DWARF readers (most of src/elf) stay out of the CLI's bundle.
import { ElfFile } from '../elf/elf';
import { SymbolTable } from '../elf/symbolTable';
import { GUARD_LOG_SYMBOL } from '../pvmfw';
import { chooseProfiles, type ProfileChoice, type ProfileOverride, type ProfileRegime } from '../profiles';
import { CliError, type Source } from './source';

/** What of the command line the picture depends on. */
export interface PictureOptions {
  readonly lazyBit: number;
  /** --profile: the profiles the user set per regime. */
  readonly profile?: ProfileOverride;
  readonly maxTables: number;
  readonly elf?: string;
  readonly guardLog?: string;
}

/** An ELF given with --elf: its symbols and its identity (SHA-256, GNU build id). */
export function readProgram(file: string): { table: SymbolTable; identity: ProgramIdentity } {
  try {
    const bytes = new Uint8Array(readFileSync(file));
    const elf = ElfFile.parse(bytes);
    return { table: SymbolTable.fromElf(elf), identity: programIdentity(basename(file), bytes, elf) };
  } catch (e) {
    throw new CliError(`cannot read ELF ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** The program of a stop: --elf, else what the source (a snapshot) recorded. */
export interface CliProgram {
  readonly symbols: SymbolTable;
  readonly identity?: ProgramIdentity;
}

/** The program's symbols: --elf, else the snapshot's; --guard-log overrides where the log is. */
export function cliProgram(src: Source, o: PictureOptions): CliProgram {
  let table: SymbolTable;
  let identity = src.program;
  if (o.elf) {
    ({ table, identity } = readProgram(o.elf));
  } else table = new SymbolTable(src.symbols);
  if (o.guardLog) {
    const a = parseAddress(o.guardLog);
    if (a === undefined) throw new CliError(`--guard-log expects an address, got '${o.guardLog}'`);
    table = new SymbolTable([
      ...table.entries().filter((e) => e.name !== GUARD_LOG_SYMBOL),
      { name: GUARD_LOG_SYMBOL, address: a, size: 0n, isFunction: false },
    ]);
  }
  return { symbols: table, ...(identity ? { identity } : {}) };
}

export function cliStopInput(src: Source, o: PictureOptions, symbols: SymbolTable): StopInput {
  return haltedStopInput(src.registers, src.reader, symbols, {
    lazyBit: o.lazyBit,
    maxTables: o.maxTables,
    ...(o.profile ? { profile: o.profile } : {}),
  });
}

/** The profile of one regime, chosen as the analysis core chooses it for a whole stop. */
export function cliProfile(src: Source, o: PictureOptions, regime: ProfileRegime): ProfileChoice {
  const { symbols } = cliProgram(src, o);
  const choice = chooseProfiles(
    {
      registers: src.registers,
      ...(symbols.size ? { symbol: (n: string) => symbols.lookup(n)?.address } : {}),
      guardLogSymbol: GUARD_LOG_SYMBOL,
    },
    o.profile,
  );
  return choice[regime];
}

export async function cliPicture(
  src: Source,
  o: PictureOptions,
): Promise<{ picture: StopPicture; program: CliProgram }> {
  const program = cliProgram(src, o);
  return { picture: await analyzeStop(cliStopInput(src, o, program.symbols)), program };
}
