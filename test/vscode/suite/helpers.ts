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

/** Sessions VS Code reported ended: `activeDebugSession` can still name one for a moment after. */
const ended = new Set<string>();
vscode.debug.onDidTerminateDebugSession((s) => ended.add(s.id));

/** Stops every session still running, one at a time, each until VS Code reports that one ended. */
export async function stopAllSessions(): Promise<void> {
  for (let i = 0; i < 4; i++) {
    const s = vscode.debug.activeDebugSession;
    if (!s || ended.has(s.id)) return;
    await vscode.debug.stopDebugging(s);
    const deadline = Date.now() + 15_000;
    while (!ended.has(s.id)) {
      if (Date.now() > deadline) throw new Error(`timed out after 15000 ms waiting for the end of ${s.name}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error('sessions kept running after four stops');
}
