// Tree items cannot colour their label directly; a FileDecoration on a private URI scheme can. Entries
// changed since the previous stop carry such a URI and get the "changed" colour and a badge.

import * as vscode from 'vscode';
import { COLOR } from './ids';

const SCHEME = 'pvmfw-mmu-changed';

export function changedUri(nodeId: string): vscode.Uri {
  return vscode.Uri.from({ scheme: SCHEME, path: '/' + encodeURIComponent(nodeId) });
}

export class ChangeDecorations implements vscode.FileDecorationProvider {
  provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
    if (uri.scheme !== SCHEME) return undefined;
    return new vscode.FileDecoration(
      'Δ',
      'Changed since the previous stop',
      new vscode.ThemeColor(COLOR.changed),
    );
  }
}
