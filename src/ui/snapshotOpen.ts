// "Open Snapshot…": a post-mortem debug session on a snapshot file. It is an ordinary launch of the
// pvmfw-mmu debug type with `snapshot` set (src/adapter/snapshotSession.ts): the Page Tables view, the
// MMIO Guard panel, the Fault scope and the Debug Console answer from the file, and nothing runs. No
// ELF is asked for: the snapshot carries the program's symbols.

import { basename } from 'node:path';
import * as vscode from 'vscode';
import { CONFIG_SNIPPET_LABEL, DEBUG_TYPE } from './ids';
import { pickSnapshot, uriArgument } from './snapshotFiles';

/** The launch configuration of a post-mortem session (what the "Open a snapshot" snippet writes). */
export function snapshotLaunchConfiguration(file: string): vscode.DebugConfiguration {
  return { type: DEBUG_TYPE, request: 'launch', name: `Snapshot ${basename(file)}`, snapshot: file };
}

/** Starts the session; resolves with it, or undefined when nothing was picked or it failed to start. */
export async function openSnapshot(arg?: unknown): Promise<vscode.DebugSession | undefined> {
  const uri = uriArgument(arg) ?? (await pickSnapshot(CONFIG_SNIPPET_LABEL.snapshot, 'Open Snapshot'));
  if (!uri) return undefined;
  if (uri.scheme !== 'file') {
    // The adapter reads the file itself, from the machine the extension runs on.
    void vscode.window.showErrorMessage(
      `Open Snapshot needs a file on this machine's disk, not ${uri.toString()}: save a copy locally first.`,
    );
    return undefined;
  }
  const config = snapshotLaunchConfiguration(uri.fsPath);
  let started: vscode.DebugSession | undefined;
  const sub = vscode.debug.onDidStartDebugSession((s) => {
    if (s.type === DEBUG_TYPE && s.configuration.snapshot === uri.fsPath) started ??= s;
  });
  try {
    const folder = vscode.workspace.getWorkspaceFolder(uri) ?? vscode.workspace.workspaceFolders?.[0];
    // A snapshot that does not load fails the launch; VS Code shows the adapter's message, naming the file.
    const ok = await vscode.debug.startDebugging(folder, config);
    if (!ok) return undefined;
  } finally {
    sub.dispose();
  }
  const active = vscode.debug.activeDebugSession;
  return started ?? (active?.configuration.snapshot === uri.fsPath ? active : undefined);
}
