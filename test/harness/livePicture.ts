// The analysis core's picture of a live stop over a gdb client, as the adapter builds it: every
// register the analysis reads (looked up by Arm name through QEMU's spellings), guest memory read
// physically through the gdbstub in batches. Shared by the QEMU tests that check the picture against
// the machine.
import { batchReader, getRegister } from '../../src/aarch64';
import { analyzeStop, type ProgramSymbols, STOP_REGISTERS, type StopPicture } from '../../src/analysis';
import { ALL_REGISTERS } from '../../src/cli/source';
import type { GdbClient } from '../../src/gdb';

/** The registers of the stop by Arm name (undefined where the stub has none). */
export async function stopRegisters(gdb: GdbClient): Promise<Record<string, bigint | undefined>> {
  const raw: Record<string, bigint | undefined> = Object.fromEntries(
    await gdb.readRegisters([...new Set([...ALL_REGISTERS, ...STOP_REGISTERS])]),
  );
  const registers: Record<string, bigint | undefined> = {};
  for (const n of STOP_REGISTERS) registers[n] = getRegister(raw, n);
  return registers;
}

export async function livePicture(
  gdb: GdbClient,
  o: { reason?: string; symbols?: ProgramSymbols; registers?: Record<string, bigint | undefined> } = {},
): Promise<StopPicture> {
  return analyzeStop({
    stopId: 1,
    reason: o.reason ?? 'pause',
    threadId: 1,
    registers: o.registers ?? (await stopRegisters(gdb)),
    reader: batchReader(
      (r) => gdb.readPhysicalBatch(r),
      (a, l) => gdb.readPhysical(a, l),
    ),
    ...(o.symbols ? { symbols: o.symbols } : {}),
    options: { lazyBit: 55, guardLogSymbol: 'guard_log' },
  });
}
