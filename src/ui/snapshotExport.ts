// "Export Snapshot…": the adapter's `snapshot` request gives the current stop as the analysis core
// recorded it (registers, every range the picture read, the program's symbols and identity), the same
// content `pvmfw-mmu snapshot -o FILE` writes; this only picks the file and writes it gzip-compressed.
// Open Snapshot reopens it post-mortem, and `pvmfw-mmu guard|walk|translate --snapshot FILE` replays it.

import * as vscode from 'vscode';
import { encodeSnapshot, type Snapshot } from '../analysis/snapshot';
import type { MmuSessions } from './mmuSession';
import { defaultExportUri, fileLabel, SAVE_FILTERS, uriArgument } from './snapshotFiles';

/** What an export wrote. */
interface ExportedSnapshot {
  uri: vscode.Uri;
  /** Bytes of guest memory the snapshot holds. */
  memoryBytes: number;
  /** Bytes of the file (gzip-compressed JSON). */
  fileBytes: number;
}

const count = (n: number): string => n.toLocaleString('en-US');

/** The buttons of the notification after an export. */
export const EXPORT_ACTION = { open: 'Open', reveal: 'Reveal in Explorer' } as const;

export async function exportSnapshot(
  sessions: MmuSessions,
  output: vscode.OutputChannel,
  target?: unknown,
  open?: (uri: vscode.Uri) => unknown,
): Promise<vscode.Uri | undefined> {
  const session = sessions.session;
  if (!session || !sessions.isStopped) {
    void vscode.window.showWarningMessage('Export Snapshot needs a stopped pvmfw-mmu debug session.');
    return undefined;
  }
  const uri =
    uriArgument(target) ??
    (await vscode.window.showSaveDialog({
      title: 'Export Snapshot',
      saveLabel: 'Export',
      defaultUri: defaultExportUri(session.name, sessions.lastChange?.stopId),
      filters: SAVE_FILTERS,
    }));
  if (!uri) return undefined;
  let written: ExportedSnapshot;
  try {
    written = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Exporting the snapshot…' },
      async () => {
        const body = await sessions.request('snapshot', {});
        // The adapter built it with makeSnapshot(): already in the file format.
        const bytes = encodeSnapshot(body.snapshot as Snapshot, { gzip: true });
        await vscode.workspace.fs.writeFile(uri, bytes);
        return { uri, memoryBytes: body.bytes, fileBytes: bytes.length };
      },
    );
  } catch (e) {
    void vscode.window.showErrorMessage(
      `Export Snapshot failed: ${e instanceof Error ? e.message : String(e)}`,
    );
    return undefined;
  }
  const where = uri.scheme === 'file' ? uri.fsPath : uri.toString();
  const memory = `${count(written.memoryBytes)} bytes of guest memory`;
  output.appendLine(`snapshot -> ${where}: ${memory}, ${count(written.fileBytes)} bytes gzip-compressed`);
  output.appendLine(`  replay: pvmfw-mmu guard --snapshot ${where}`);
  // What a person does next with the file: open it post-mortem, or find it among the files.
  const inWorkspace = vscode.workspace.getWorkspaceFolder(uri) !== undefined;
  const desktop = vscode.env.uiKind === vscode.UIKind.Desktop && uri.scheme === 'file';
  const actions = [
    ...(open ? [EXPORT_ACTION.open] : []),
    ...(inWorkspace || desktop ? [EXPORT_ACTION.reveal] : []),
  ];
  void vscode.window
    .showInformationMessage(`Snapshot saved to ${fileLabel(uri)}: it holds ${memory}.`, ...actions)
    .then((choice) => {
      if (choice === EXPORT_ACTION.open && open) void open(uri);
      else if (choice === EXPORT_ACTION.reveal)
        // The workspace's Explorer when the file is in it, else the system's file manager.
        void vscode.commands.executeCommand(inWorkspace ? 'revealInExplorer' : 'revealFileInOS', uri);
    });
  return uri;
}
