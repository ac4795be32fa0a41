// "Export Snapshot…": writes the stopped target's translation state in the CLI's snapshot format
// (src/aarch64/snapshot.ts), so `pvmfw-mmu walk|translate|guard --snapshot FILE` replays it without
// QEMU. QEMU's gdbstub takes one client, the debug adapter, so everything is read through DAP:
// registers and symbols with `evaluate`, table memory with physical `readMemory` (`p:` references),
// walked with the same walker the CLI uses and recorded as it goes.

import * as vscode from 'vscode';
import { REGIME_REGISTERS, regimeFromRegisters, walk, type PhysRange, type PhysReader } from '../aarch64';
import { makeSnapshot, RecordingReader, type Snapshot } from '../analysis';
import { GUARD_LOG_HEADER, GUARD_LOG_SYMBOL, guardLogSize } from '../pvmfw/guardlog';
import type { MmuSessions } from './mmuSession';

/** Registers a replay needs: every regime's controls, plus the fault context for `guard`'s verdict. */
const REGISTERS = [
  ...new Set([
    ...REGIME_REGISTERS.el1,
    ...REGIME_REGISTERS.el2,
    ...REGIME_REGISTERS.stage2,
    'pc',
    'VBAR_EL1',
    'ESR_EL1',
    'FAR_EL1',
    'ELR_EL1',
    'SPSR_EL1',
  ]),
];

/** Tables walked per regime at most (the CLI's default). */
const MAX_TABLES = 100_000;

interface EvaluateBody {
  result: string;
}
interface ReadMemoryBody {
  address: string;
  data?: string;
  unreadableBytes?: number;
}

/** Physical reads through the adapter's `readMemory` on `p:` memory references. */
function dapReader(session: vscode.DebugSession): PhysReader {
  const readOne = async (r: PhysRange): Promise<Uint8Array | Error> => {
    try {
      const body = (await session.customRequest('readMemory', {
        memoryReference: `p:0x${r.address.toString(16)}`,
        count: r.length,
      })) as ReadMemoryBody;
      const bytes = Buffer.from(body.data ?? '', 'base64');
      if (bytes.length < r.length) return new Error(`${r.length - bytes.length} bytes unreadable`);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, r.length);
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  };
  return { maxBatch: 64, read: (ranges) => Promise.all(ranges.map(readOne)) };
}

async function evaluateHex(session: vscode.DebugSession, frameId: number | undefined, expression: string) {
  try {
    const body = (await session.customRequest('evaluate', {
      expression,
      frameId,
      context: 'watch',
    })) as EvaluateBody;
    const m = /^(0x[0-9a-f]+|\d+)/i.exec(body.result.trim());
    return m ? BigInt(m[1]) : undefined;
  } catch {
    return undefined; // a register QEMU does not expose, or a symbol the ELF lacks
  }
}

/** Captures the snapshot of the session's current stop. */
export async function captureSnapshot(session: vscode.DebugSession, threadId: number): Promise<Snapshot> {
  const trace = (await session.customRequest('stackTrace', { threadId, startFrame: 0, levels: 1 })) as {
    stackFrames: { id: number }[];
  };
  const frameId = trace.stackFrames[0]?.id;
  const registers: Record<string, bigint | undefined> = {};
  for (const name of REGISTERS) registers[name] = await evaluateHex(session, frameId, `$${name}`);

  const reader = new RecordingReader(dapReader(session));
  for (const kind of ['el1', 'el2', 'stage2'] as const) {
    const regime = regimeFromRegisters(kind, registers);
    if (regime.roots.some((r) => r.enabled)) await walk(regime, reader, { maxTables: MAX_TABLES });
  }
  // The EL2 stub's guard-call log, so `guard --snapshot` can replay the hypercalls too.
  const symbols: Record<string, bigint> = {};
  const log = await evaluateHex(session, frameId, GUARD_LOG_SYMBOL);
  if (log !== undefined) {
    symbols[GUARD_LOG_SYMBOL] = log;
    const [head] = await reader.read([{ address: log, length: GUARD_LOG_HEADER }]);
    if (!(head instanceof Error)) {
      const capacity = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(8, true);
      if (capacity <= 1 << 16) await reader.read([{ address: log, length: guardLogSize(capacity) }]);
    }
  }
  return makeSnapshot(registers, reader.image, { source: `VS Code session "${session.name}"`, symbols });
}

export async function exportSnapshot(
  sessions: MmuSessions,
  output: vscode.OutputChannel,
  target?: vscode.Uri,
): Promise<vscode.Uri | undefined> {
  const session = sessions.session;
  const threadId = sessions.lastChange?.threadId;
  if (!session || !sessions.isStopped || threadId === undefined) {
    void vscode.window.showWarningMessage('Export Snapshot needs a stopped pvmfw-mmu debug session.');
    return undefined;
  }
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const uri =
    target ??
    (await vscode.window.showSaveDialog({
      title: 'Export Snapshot',
      defaultUri: folder ? vscode.Uri.joinPath(folder, 'pvmfw-mmu.snapshot.json') : undefined,
      filters: { 'pvmfw-mmu snapshot': ['json'] },
    }));
  if (!uri) return undefined;
  const snapshot = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Reading translation tables…' },
    () => captureSnapshot(session, threadId),
  );
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(JSON.stringify(snapshot, null, 1)));
  const bytes = snapshot.memory.reduce((n, m) => n + (m.data.length * 3) / 4, 0);
  output.appendLine(
    `snapshot: ${Object.keys(snapshot.registers).length} registers, ${snapshot.memory.length} memory ranges (${Math.round(bytes / 1024)} KiB) -> ${uri.fsPath}`,
  );
  output.appendLine(`  replay: pvmfw-mmu guard --snapshot ${uri.fsPath}`);
  return uri;
}
