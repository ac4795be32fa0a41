// What the DAP session's helpers (Exceptions, Inspect, SourceSupport, StackView) may use of it. Each
// helper declares the Pick it needs, so none of them imports session.ts (no import circles), and a
// helper's dependencies are written at the top of its file. The session answers the target's picks
// (gdb, port, run, bps, lastStop, need, requireStopped, refreshContext) from its Target.
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { SymbolTable } from '../elf/symbolTable';
import type { GdbClient } from '../gdb';
import type { BreakpointStore } from '../target/breakpoints';
import type { TargetPort } from '../target/port';
import type { RunControl, Stop } from '../target/runControl';
import type { StopContext } from '../target/stopContext';
import type { MmuModel } from './mmu';
import type { VariableStore } from './variables';

export type OutputCategory = 'console' | 'stderr' | 'stdout' | 'important';

export interface AdapterHost {
  /** The live gdbstub (undefined in a snapshot session: nothing runs there). */
  readonly gdb: GdbClient | undefined;
  /** Registers and memory of the stopped target: the gdb client, or the snapshot. */
  readonly port: TargetPort | undefined;
  readonly run: RunControl | undefined;
  readonly bps: BreakpointStore;
  readonly symbols: SymbolTable;
  readonly lastStop: Stop | undefined;
  readonly mmu: MmuModel;
  readonly vars: VariableStore;
  /** The value, or an error saying no target is connected. */
  need<T>(v: T | undefined): T;
  /** The current stop's context, or an error saying the target is running. */
  requireStopped(): StopContext;
  log(text: string, category?: OutputCategory): void;
  /** Drops the stop's cached registers and memory (after a write). */
  refreshContext(): void;
  /** Source breakpoints at `pc`: conditions, hit counts, logpoints (undefined: do not stop). */
  sourceHit(pc: bigint, threadId: number): Promise<Stop | undefined>;
  /** The source line of `pc`, when the program has line information. */
  sourceLocation(pc: bigint): { source: DebugProtocol.Source; line: number; column: number } | undefined;
}
