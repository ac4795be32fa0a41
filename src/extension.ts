import type * as vscode from 'vscode';

export function activate(_context: vscode.ExtensionContext): void {
  // Registrations are added by src/ui.
}

export function deactivate(): void {}
