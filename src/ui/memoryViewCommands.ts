// The ways into the Memory view: the Command Palette (an address), a variable with a memory reference
// (the Variables view's context menu), a page-table entry (the page it maps, the table it lives in) and
// the Debug Console's `mem ADDRESS` (the adapter's `openMemoryView` event).

import * as vscode from 'vscode';
import {
  OPEN_MEMORY_EVENT,
  parseGotoText,
  parseMemoryReferenceText,
  parseOpenMemoryEvent,
  type AddressSpace,
} from '../shared/memoryViewMessages';
import { COMMAND, DEBUG_TYPE } from './ids';
import type { MemoryTarget, MemoryView } from './memoryView';
import { entryTableTarget, mappedPageTarget } from './memoryViewTargets';
import type { EntryNode, Node } from './pageTableTree';

/** What the Variables view passes to `debug/variables/context` commands. */
interface VariableContext {
  variable: { name?: string; value?: string; memoryReference?: string };
}

function isVariableContext(x: unknown): x is VariableContext {
  return typeof x === 'object' && x !== null && typeof (x as { variable?: unknown }).variable === 'object';
}

function isEntryNode(x: unknown): x is EntryNode {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'entry';
}

async function askTarget(): Promise<MemoryTarget | undefined> {
  let parsed: { space: AddressSpace; address: bigint } | undefined;
  const text = await vscode.window.showInputBox({
    title: 'Open Memory View',
    prompt: 'Address: 0x4020_0000 (virtual, through the stopped vCPU) or p:0x4020_0000 (physical)',
    validateInput: (t) => {
      const g = parseGotoText(t, 'virtual');
      if ('error' in g) return g.error;
      return 'address' in g ? undefined : 'Type an address here; the view’s address box also takes symbols';
    },
  });
  if (text === undefined) return undefined;
  const g = parseGotoText(text, 'virtual');
  if ('address' in g) parsed = g;
  return parsed ? { ...parsed, origin: 'the Command Palette' } : undefined;
}

export function registerMemoryView(view: MemoryView, tree: vscode.TreeView<Node>): vscode.Disposable[] {
  const entry = (arg: unknown): EntryNode | undefined =>
    isEntryNode(arg) ? arg : tree.selection.find(isEntryNode);
  return [
    vscode.commands.registerCommand(COMMAND.openMemory, async (arg?: unknown) => {
      // A variable (the Variables view's menu), a memory reference, or nothing: ask.
      let target: MemoryTarget | undefined;
      if (isVariableContext(arg)) {
        const ref = parseMemoryReferenceText(arg.variable.memoryReference);
        if (!ref) {
          void vscode.window.showInformationMessage(
            `${arg.variable.name ?? 'This variable'} has no memory reference to open.`,
          );
          return undefined;
        }
        target = {
          ...ref,
          origin: `variable ${arg.variable.name ?? ''} = ${arg.variable.value ?? ''}`.trim(),
        };
      } else if (typeof arg === 'string') {
        const ref = parseMemoryReferenceText(arg);
        target = ref ? { ...ref, origin: arg } : undefined;
      } else target = await askTarget();
      if (target) view.show(target);
      return target;
    }),
    vscode.commands.registerCommand(COMMAND.openMappedPage, (arg?: unknown) => {
      const node = entry(arg);
      if (!node) return undefined;
      const t = mappedPageTarget(node.entry);
      if ('error' in t) {
        void vscode.window.showInformationMessage(t.error);
        return undefined;
      }
      view.show(t);
      return t;
    }),
    vscode.commands.registerCommand(COMMAND.openEntryTable, (arg?: unknown) => {
      const node = entry(arg);
      if (!node) return undefined;
      const t = entryTableTarget(node.entry);
      if ('error' in t) {
        void vscode.window.showInformationMessage(t.error);
        return undefined;
      }
      view.show(t);
      return t;
    }),
    // The console's `mem ADDRESS`: the adapter asks, the view opens.
    vscode.debug.onDidReceiveDebugSessionCustomEvent((e) => {
      if (e.session.type !== DEBUG_TYPE || e.event !== OPEN_MEMORY_EVENT) return;
      const t = parseOpenMemoryEvent(e.body);
      if (t) view.show(t);
    }),
  ];
}
