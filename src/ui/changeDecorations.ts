// Tree items cannot colour their label directly; a FileDecoration on a private URI scheme can. Entries
// changed since the previous stop (or since the snapshot the stop is compared with) carry such a URI
// and get the "changed" colour and a badge; the URI's query names what they changed since.

import * as vscode from 'vscode';
import { COLOR } from './ids';

const SCHEME = 'pvmfw-mmu-changed';

/** `since`: the earlier snapshot's name when the stop is compared with one; else the previous stop. */
export function changedUri(nodeId: string, since?: string): vscode.Uri {
  return vscode.Uri.from({
    scheme: SCHEME,
    path: '/' + encodeURIComponent(nodeId),
    ...(since !== undefined ? { query: since } : {}),
  });
}

export class ChangeDecorations implements vscode.FileDecorationProvider {
  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== SCHEME) return undefined;
    return new vscode.FileDecoration(
      'Δ',
      `Changed since ${uri.query || 'the previous stop'}`,
      new vscode.ThemeColor(COLOR.changed),
    );
  }
}
