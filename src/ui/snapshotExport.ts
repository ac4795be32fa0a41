// "Export Snapshot…": saves the stopped target's translation state in the CLI's snapshot format, so
// `pvmfw-mmu walk --snapshot FILE` (and a bug report) can replay it without QEMU. The adapter holds
// the gdbstub connection, so it produces the file's content; the extension only picks where it goes.

import * as vscode from 'vscode';
import type { MmuSessions } from './mmuSession';

interface SnapshotBody {
  /** The snapshot file's text (JSON). */
  content: string;
  /** Suggested file name. */
  fileName?: string;
}

function isSnapshotBody(x: unknown): x is SnapshotBody {
  return typeof x === 'object' && x !== null && typeof (x as { content?: unknown }).content === 'string';
}

export async function exportSnapshot(
  sessions: MmuSessions,
  output: vscode.OutputChannel,
  target?: vscode.Uri,
): Promise<vscode.Uri | undefined> {
  const session = sessions.session;
  if (!session || !sessions.isStopped) {
    void vscode.window.showWarningMessage('Export Snapshot needs a stopped pvmfw-mmu debug session.');
    return undefined;
  }
  let body: unknown;
  try {
    body = await session.customRequest('snapshot', {});
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    output.appendLine(`snapshot: ${message}`);
    void vscode.window.showErrorMessage(`The debug adapter could not produce a snapshot: ${message}`);
    return undefined;
  }
  if (!isSnapshotBody(body)) {
    void vscode.window.showErrorMessage('The debug adapter answered the snapshot request without content.');
    return undefined;
  }
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const uri =
    target ??
    (await vscode.window.showSaveDialog({
      title: 'Export Snapshot',
      defaultUri: folder
        ? vscode.Uri.joinPath(folder, body.fileName ?? 'pvmfw-mmu.snapshot.json')
        : undefined,
      filters: { 'pvmfw-mmu snapshot': ['json'] },
    }));
  if (!uri) return undefined;
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(body.content));
  output.appendLine(`snapshot written to ${uri.fsPath}`);
  return uri;
}
