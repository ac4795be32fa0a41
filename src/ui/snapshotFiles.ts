// Snapshot files as the extension's commands see them: where Export Snapshot proposes to write one,
// the file picker that Open Snapshot and Compare Snapshots share, and reading a file through VS Code's
// file system into a validated snapshot, with the file named in every error.

import { homedir } from 'node:os';
import * as vscode from 'vscode';
import {
  loadSnapshot,
  MAX_SNAPSHOT_TEXT,
  parseSnapshotBytes,
  SnapshotError,
  type LoadedSnapshot,
} from '../analysis/snapshot';
import { SNAPSHOT_EXTENSION } from './ids';

/** Export writes `.pvmfw-snapshot`; the CLI's `-o` files are often `.snap.gz`; version 1 files `.json`. */
const OPEN_FILTERS = {
  'pvmfw-mmu snapshots': [SNAPSHOT_EXTENSION, 'gz', 'json'],
  'All files': ['*'],
};

export const SAVE_FILTERS = { 'pvmfw-mmu snapshot': [SNAPSHOT_EXTENSION] };

/** A command argument naming a file: a Uri (Explorer, tests) or a path. */
export function uriArgument(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'string' && arg !== '') return vscode.Uri.file(arg);
  return undefined;
}

/** Where files are proposed: the workspace folder, else the home directory. */
export function defaultFolder(): vscode.Uri {
  return vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(homedir());
}

/** `demo firmware` stop 3 -> `demo-firmware-stop3.pvmfw-snapshot` in the default folder. */
export function defaultExportUri(sessionName: string, stopId: number | undefined): vscode.Uri {
  const slug = sessionName.replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'pvmfw-mmu';
  const stop = stopId !== undefined ? `-stop${stopId}` : '';
  return vscode.Uri.joinPath(defaultFolder(), `${slug}${stop}.${SNAPSHOT_EXTENSION}`);
}

export async function pickSnapshot(title: string, openLabel: string): Promise<vscode.Uri | undefined> {
  const picked = await vscode.window.showOpenDialog({
    title,
    openLabel,
    canSelectMany: false,
    canSelectFolders: false,
    defaultUri: defaultFolder(),
    filters: OPEN_FILTERS,
  });
  return picked?.[0];
}

/** How a file is named in messages: relative to the workspace when inside it. */
export function fileLabel(uri: vscode.Uri): string {
  return vscode.workspace.asRelativePath(uri, false);
}

/** Reads and validates a snapshot file; every problem is an Error naming the file. */
export async function readSnapshotFile(uri: vscode.Uri): Promise<LoadedSnapshot> {
  const name = fileLabel(uri);
  let bytes: Uint8Array;
  try {
    const { size } = await vscode.workspace.fs.stat(uri);
    if (size > MAX_SNAPSHOT_TEXT)
      throw new Error(
        `${(size / 2 ** 20).toFixed(0)} MiB, more than the ${MAX_SNAPSHOT_TEXT / 2 ** 20} MiB read`,
      );
    bytes = await vscode.workspace.fs.readFile(uri);
  } catch (e) {
    throw new Error(`cannot read the snapshot ${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return loadSnapshot(parseSnapshotBytes(bytes));
  } catch (e) {
    if (e instanceof SnapshotError) throw new Error(`${e.message} (in ${name})`);
    throw e;
  }
}
