// A post-mortem session over a snapshot file: the snapshot's registers and captured memory stand for
// the target (SnapshotPort), one stop that never changes; the views, the Fault scope and the Debug
// Console answer from the same analysis as a live stop. Run control is refused in words, breakpoints
// are acknowledged unverified (VS Code sends them at every session start).
import type { DebugProtocol } from '@vscode/debugprotocol';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { loadSnapshot, parseSnapshotBytes, type LoadedSnapshot } from '../analysis/snapshot';
import { SymbolTable } from '../elf/symbolTable';
import { SessionSetupError, type LoadedProgram } from '../target/connect';
import { SnapshotPort } from '../target/snapshotPort';
import { errorResponse } from './requestArgs';

/** Requests that move or change the target: refused on a snapshot, where nothing runs. */
const RUN_CONTROL = new Set([
  'continue',
  'next',
  'stepIn',
  'stepOut',
  'pause',
  'restart',
  'setVariable',
  'writeMemory',
]);

/**
 * Breakpoint requests on a snapshot: VS Code sends the user's breakpoints at every session start, so
 * they are answered (unverified, saying why) rather than failed.
 */
function breakpointAnswer(command: string, args: unknown): object | undefined {
  const why = 'a snapshot does not run: breakpoints never hit';
  const list = (n: number) => ({
    breakpoints: Array.from({ length: n }, () => ({ verified: false, message: why })),
  });
  const a = args as { breakpoints?: unknown[]; filters?: unknown[] };
  switch (command) {
    case 'setBreakpoints':
    case 'setFunctionBreakpoints':
    case 'setInstructionBreakpoints':
    case 'setDataBreakpoints':
      return list(a.breakpoints?.length ?? 0);
    case 'setExceptionBreakpoints':
      return {};
    case 'dataBreakpointInfo':
      return { dataId: null, description: why };
    default:
      return undefined;
  }
}

/**
 * How a snapshot session answers `command` without the handlers: run control refused in words,
 * breakpoints acknowledged unverified. Undefined: the request is handled as in a live session.
 */
export function snapshotAnswer(
  command: string,
  args: unknown,
  file: string,
): { error: string } | { body: object } | undefined {
  if (RUN_CONTROL.has(command))
    return {
      error: `${command}: this session replays a snapshot (${file}): nothing runs, so there is no ${command}`,
    };
  const body = breakpointAnswer(command, args);
  return body ? { body } : undefined;
}

export function answerResponse(
  request: DebugProtocol.Request,
  answer: { error: string } | { body: object },
): DebugProtocol.Response {
  if ('error' in answer) return errorResponse(request, answer.error);
  return {
    seq: 0,
    type: 'response',
    request_seq: request.seq,
    command: request.command,
    success: true,
    body: answer.body,
  };
}

/** Reads, decompresses and validates a snapshot file, with the file named in every error. */
function loadSnapshotFile(file: string): LoadedSnapshot {
  try {
    return loadSnapshot(parseSnapshotBytes(new Uint8Array(readFileSync(file))));
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new SessionSetupError(`cannot open the snapshot '${file}': ${why}`);
  }
}

/** The target a snapshot stands for: its port (registers, captured memory), symbols, and a greeting. */
export function openSnapshotTarget(
  file: string,
  program: LoadedProgram | undefined,
): { port: SnapshotPort; symbols: SymbolTable; intro: string } {
  const snap = loadSnapshotFile(file);
  const p = snap.program;
  return {
    port: new SnapshotPort(snap.registers, snap.image, `snapshot ${basename(file)}`),
    symbols: program?.symbols ?? new SymbolTable(snap.symbols),
    intro:
      `Snapshot ${file}: captured ${snap.snapshot.created}` +
      `${snap.snapshot.source ? ` from ${snap.snapshot.source}` : ''}` +
      `${p ? `, program ${p.name} (sha256 ${p.sha256.slice(0, 12)}…)` : ''}.` +
      ' Post-mortem: the views and the Debug Console answer from it; nothing runs.',
  };
}

/** Where an exported snapshot came from, and the program's path (its identity is recorded). */
export function snapshotOrigin(
  mode: 'launch' | 'attach' | 'snapshot',
  config: { snapshot?: string; gdb?: string; program?: string },
  qemuPid: number | undefined,
): { source: string; program?: string } {
  const source =
    mode === 'snapshot'
      ? `snapshot ${config.snapshot ?? ''}`
      : mode === 'launch'
        ? `QEMU pid ${String(qemuPid)}`
        : `gdb ${config.gdb ?? ''}`;
  return { source, ...(config.program ? { program: config.program } : {}) };
}
