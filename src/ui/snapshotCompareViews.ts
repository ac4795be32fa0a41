// A comparison of two snapshots shown in the views ("Show in Page Tables" after Compare Snapshots, or
// "Compare Snapshots in Views…"): B opens as a post-mortem session whose stop is compared with A
// instead of a previous stop. The Page Tables tree marks the entries that changed since A with the Δ
// decoration a live stop's changes get, the MMIO Guard panel's diff section lists the guard-state
// transitions A -> B, and the first changed entry is revealed. Everything shown is the analysis
// core's diffStops(A, B): the same comparison as the text document and `pvmfw-mmu diff A B`.

import { basename } from 'node:path';
import type * as vscode from 'vscode';
import type { PteChange } from '../shared/protocol';
import type { GuardPanel } from './guardPanel';
import type { MmuSessions, StopBaseline } from './mmuSession';
import type { Comparison } from './snapshotCompare';
import { openSnapshot } from './snapshotOpen';

export interface ComparisonViews {
  sessions: MmuSessions;
  guard: GuardPanel;
  /** Selects the entry mapping a VA in Page Tables (the Reveal PTE command). */
  reveal: (va: bigint) => Promise<unknown>;
}

/** How long B's post-mortem stop may take to arrive (a kernel snapshot is analysed first). */
const STOP_TIMEOUT_MS = 60_000;

/** The entry worth showing first: a stage-1 entry that B has, in the diff's (address) order. */
function firstShown(changes: readonly PteChange[]): PteChange | undefined {
  return changes.find((c) => c.regime !== 'VTTBR_EL2' && c.after !== undefined) ?? changes[0];
}

export function baselineOf(c: Comparison): StopBaseline {
  return {
    since: basename(c.a.path),
    transitions: c.diff.guard.transitions,
    changes: c.diff.entries,
    newAnomalies: c.diff.anomalies.new,
    newGuardCalls: c.diff.guard.calls,
  };
}

/**
 * Opens B compared with A; resolves with B's session once its stop is shown (undefined when it did
 * not start: Open Snapshot has shown why).
 */
export async function showComparisonInViews(
  c: Comparison,
  views: ComparisonViews,
): Promise<vscode.DebugSession | undefined> {
  const pending = views.sessions.compareNextSession(c.b.fsPath, baselineOf(c));
  let session: vscode.DebugSession | undefined;
  try {
    session = await openSnapshot(c.b);
  } finally {
    pending.dispose();
  }
  if (!session || !(await views.sessions.stopOf(session, STOP_TIMEOUT_MS))) return session;
  const g = c.diff.guard;
  if (g.available.before || g.available.after) views.guard.show();
  const first = firstShown(c.diff.entries);
  if (first) await views.reveal(BigInt(first.vaStart));
  return session;
}
