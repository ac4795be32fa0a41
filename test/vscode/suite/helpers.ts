// Shared by the suites that run inside the extension host.

import * as vscode from 'vscode';
import type { ExtensionApi } from '../../../src/extension';
import type { MmuStop } from '../../../src/ui/mmuSession';

export const EXTENSION_ID = 'pvmfw-mmu.pvmfw-mmu';

export async function extensionApi(): Promise<ExtensionApi> {
  const ext = vscode.extensions.getExtension<ExtensionApi>(EXTENSION_ID);
  if (!ext) throw new Error(`${EXTENSION_ID} is not loaded`);
  return ext.isActive ? ext.exports : await ext.activate();
}

export function nextEvent<T>(
  event: vscode.Event<T>,
  what: string,
  ms: number,
  accept: (v: T) => boolean = () => true,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sub.dispose();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    const sub = event((v) => {
      if (!accept(v)) return;
      clearTimeout(timer);
      sub.dispose();
      resolve(v);
    });
  });
}

export async function nextStop(api: ExtensionApi, what: string, ms = 30_000): Promise<MmuStop> {
  return nextEvent(api.sessions.onDidStop, what, ms);
}

export function workspaceFolder(): vscode.WorkspaceFolder {
  const f = vscode.workspace.workspaceFolders?.[0];
  if (!f) throw new Error('the tests need the demo/ workspace folder open');
  return f;
}

export async function stopAllSessions(): Promise<void> {
  if (!vscode.debug.activeDebugSession) return;
  const ended = nextEvent(vscode.debug.onDidTerminateDebugSession, 'session end', 15_000);
  await vscode.debug.stopDebugging();
  await ended;
}
