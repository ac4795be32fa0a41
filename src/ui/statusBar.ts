// A status bar item while a pvmfw-mmu session is stopped: the MMIO guard counts of this stop (from
// `mmuChanged`), and the fault verdict when stopped in one. Clicking it opens the MMIO Guard panel.

import * as vscode from 'vscode';
import { formatAddress, formatCount } from '../shared/format';
import type { MmuChangedEventBody } from '../shared/protocol';
import { COMMAND } from './ids';
import type { MmuSessions } from './mmuSession';

/** `since`: the snapshot the stop is compared with, when not its previous stop. */
export function statusText(change: MmuChangedEventBody, since?: string): { text: string; tooltip: string } {
  const c = change.guardCounts;
  // Pages guard-mapped outside the tracked regions (pvmfw's console) are guard-mapped too.
  const untracked = (change.untracked ?? []).reduce((n, r) => n + r.pages, 0);
  const parts = c
    ? [
        `${formatCount(c.guardMapped + untracked)} guard-mapped`,
        `${formatCount(c.lazy)} lazy`,
        ...(c.guardMappedPending ? [`${formatCount(c.guardMappedPending)} pending`] : []),
      ]
    : [];
  const anomalies = c ? c.anomaly + c.validUnguarded : 0;
  const text = `$(shield) ${parts.join(' · ') || 'MMU'}${anomalies ? ` $(warning) ${anomalies}` : ''}`;
  const tooltip = [
    `Stop ${change.stopId} (${change.reason}) at ${formatAddress(change.pc)}`,
    change.fault ? change.fault.verdict.summary : undefined,
    c
      ? `Guard-mapped: ${formatCount(c.guardMapped)} in the tracked MMIO regions, ${formatCount(untracked)} outside them` +
        (untracked ? ` (${(change.untracked ?? []).map((r) => formatAddress(r.start)).join(', ')})` : '')
      : undefined,
    `${change.changes.length} table entries changed since ${since ?? 'the previous stop'}`,
    'Click to open MMIO Guard',
  ]
    .filter(Boolean)
    .join('\n');
  return { text, tooltip };
}

export function registerStatusBar(sessions: MmuSessions): vscode.Disposable[] {
  const item = vscode.window.createStatusBarItem('pvmfwMmu.status', vscode.StatusBarAlignment.Left, 10);
  item.name = 'pvmfw MMU';
  item.command = COMMAND.openGuard;
  return [
    item,
    sessions.onDidStop(({ change }) => {
      const { text, tooltip } = statusText(change, sessions.baseline?.since);
      item.text = text;
      item.tooltip = tooltip;
      item.show();
    }),
    sessions.onDidContinue(() => {
      item.text = '$(shield) running…';
    }),
    sessions.onDidChangeSession((s) => {
      if (!s) item.hide();
    }),
  ];
}
