// The CLI's way into the analysis core: the same StopInput the adapter builds at a stop, from a live
// gdbstub or a snapshot, so `guard` (and everything that reports a stop) prints what VS Code shows.
import { readFileSync } from 'node:fs';
import { getRegister, parseAddress } from '../aarch64';
import { analyzeStop, programSymbols, STOP_REGISTERS, type StopInput, type StopPicture } from '../analysis';
import { ElfImage, SymbolTable } from '../elf';
import { GUARD_LOG_SYMBOL } from '../pvmfw';
import { CliError, type Source } from './source';

/** What of the command line the picture depends on. */
export interface PictureOptions {
  readonly lazyBit: number;
  readonly maxTables: number;
  readonly elf?: string;
  readonly guardLog?: string;
}

/** The program's symbols: --elf, else the snapshot's; --guard-log overrides where the log is. */
export function cliSymbols(src: Source, o: PictureOptions): SymbolTable {
  let table: SymbolTable;
  if (o.elf) {
    try {
      table = SymbolTable.fromElf(ElfImage.parse(new Uint8Array(readFileSync(o.elf))).elf);
    } catch (e) {
      throw new CliError(`cannot read ELF ${o.elf}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!table.lookup(GUARD_LOG_SYMBOL) && !o.guardLog)
      throw new CliError(`${o.elf} has no '${GUARD_LOG_SYMBOL}' symbol`);
  } else table = SymbolTable.fromAddresses(src.symbols);
  if (o.guardLog) {
    const a = parseAddress(o.guardLog);
    if (a === undefined) throw new CliError(`--guard-log expects an address, got '${o.guardLog}'`);
    table = SymbolTable.fromAddresses([
      ...table.entries().map((e) => [e.name, e.address] as [string, bigint]),
      [GUARD_LOG_SYMBOL, a],
    ]);
  }
  return table;
}

export function cliStopInput(src: Source, o: PictureOptions, symbols: SymbolTable): StopInput {
  const registers: Record<string, bigint | undefined> = {};
  for (const name of STOP_REGISTERS) registers[name] = getRegister(src.registers, name);
  return {
    stopId: 1,
    // The CLI sees a halted target without knowing why it stopped: a pause, unless PC sits in the
    // vector table (then the picture is about the fault the registers record).
    reason: 'pause',
    threadId: 1,
    registers,
    reader: src.reader,
    symbols: programSymbols(symbols),
    options: { lazyBit: o.lazyBit, maxTables: o.maxTables, guardLogSymbol: GUARD_LOG_SYMBOL },
  };
}

export async function cliPicture(
  src: Source,
  o: PictureOptions,
): Promise<{ picture: StopPicture; symbols: SymbolTable }> {
  const symbols = cliSymbols(src, o);
  return { picture: await analyzeStop(cliStopInput(src, o, symbols)), symbols };
}
