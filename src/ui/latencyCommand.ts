// "pvmfw MMU: Show Stop Latency": writes where the time of the last stops went (resume → stopped,
// the adapter's MMU analysis, the extension host, the MMIO Guard webview, the Page Tables listings)
// into the pvmfw MMU output channel. The marks are taken at every stop (stopTiming.ts).

import * as vscode from 'vscode';
import { COMMAND } from './ids';
import type { MmuSessions } from './mmuSession';
import { timingLine } from './stopTiming';

export function registerLatencyCommand(
  sessions: MmuSessions,
  output: vscode.OutputChannel,
): vscode.Disposable {
  return vscode.commands.registerCommand(COMMAND.showLatency, () => {
    const stops = sessions.timings.all;
    output.appendLine(`Stop latency, last ${stops.length} stop(s), ms from the resume request (F10, F5, …):`);
    for (const t of stops) output.appendLine(`  ${timingLine(t)}`);
    output.show(true);
  });
}
