// On a stop inside an exception, select the Page Tables entry for FAR (the entry the fault is about),
// and optionally open the MMIO Guard panel at the first lazy-MMIO fault.

import * as vscode from 'vscode';
import { SETTING } from './ids';
import type { GuardPanel } from './guardPanel';
import type { MmuSessions } from './mmuSession';
import type { Node, PageTableTree } from './pageTableTree';

export function followFaults(
  sessions: MmuSessions,
  tree: PageTableTree,
  view: vscode.TreeView<Node>,
  guard: GuardPanel,
): vscode.Disposable {
  return sessions.onDidStop(async ({ change }) => {
    const fault = change.fault;
    if (!fault) return;
    if (
      fault.verdict.kind === 'lazyMmio' &&
      !guard.isOpen &&
      vscode.workspace.getConfiguration().get<boolean>(SETTING.openGuardOnFault)
    ) {
      guard.show();
    }
    // Only at the stop that entered the exception (not at every step through the handler), and only
    // when the user can see the tree: revealing would otherwise pull the view open.
    if (change.reason !== 'exception' || !view.visible) return;
    try {
      const node = await tree.findEntry(BigInt(fault.far));
      await tree.whenIdle();
      if (node && sessions.lastChange === change)
        await view.reveal(node, { select: true, focus: false, expand: false });
    } catch {
      // A stop that raced a newer one: the next stop reveals again.
    }
  });
}
