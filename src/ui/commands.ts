// The extension's commands. Each returns what it found, so tests (and other extensions) can call them
// through `executeCommand` and check the result without reading the screen.

import * as vscode from 'vscode';
import { ownershipLines } from '../analysis/ownership';
import type { OwnershipResponseBody, TranslateResponseBody } from '../shared/protocol';
import { formatDescriptor } from '../shared/format';
import { copiedText, parseAddress, shortHex, toHex } from './format';
import { COMMAND, DIFF_SCHEME, SETTING } from './ids';
import type { GuardPanel } from './guardPanel';
import type { MmuSessions } from './mmuSession';
import type { EntryNode, MoreNode, Node, PageTableTree } from './pageTableTree';
import { buildComparison, compareSnapshots, SnapshotDiffDocuments, type Comparison } from './snapshotCompare';
import { showComparisonInViews } from './snapshotCompareViews';
import { exportSnapshot } from './snapshotExport';
import { openSnapshot } from './snapshotOpen';

/** What the Variables view passes to `debug/variables/context` commands. */
interface VariableContext {
  variable: { name?: string; value?: string; memoryReference?: string; evaluateName?: string };
}

function isVariableContext(x: unknown): x is VariableContext {
  return typeof x === 'object' && x !== null && typeof (x as { variable?: unknown }).variable === 'object';
}

function isEntryNode(x: unknown): x is EntryNode {
  return typeof x === 'object' && x !== null && (x as { kind?: unknown }).kind === 'entry';
}

/** An address from a command argument: a tree entry, a variable, a number, or text. */
function addressFromArgument(arg: unknown): bigint | undefined {
  if (typeof arg === 'bigint') return arg;
  if (typeof arg === 'number' && Number.isSafeInteger(arg) && arg >= 0) return BigInt(arg);
  if (typeof arg === 'string') return parseAddress(arg.replace(/^[vp]:/, ''));
  if (isEntryNode(arg)) return BigInt(arg.entry.vaStart);
  if (isVariableContext(arg)) {
    const v = arg.variable;
    const ref = v.memoryReference ? parseAddress(v.memoryReference.replace(/^[vp]:/, '')) : undefined;
    return ref ?? parseAddress((v.value ?? '').split(/\s/)[0] ?? '');
  }
  return undefined;
}

async function askAddress(title: string): Promise<bigint | undefined> {
  const text = await vscode.window.showInputBox({
    title,
    prompt: 'Virtual address (hex like 0x0901_0000, or decimal)',
    validateInput: (t) => (parseAddress(t) === undefined ? 'Not an address' : undefined),
  });
  return text === undefined ? undefined : parseAddress(text);
}

export function registerCommands(
  sessions: MmuSessions,
  tree: PageTableTree,
  view: vscode.TreeView<Node>,
  guard: GuardPanel,
  output: vscode.OutputChannel,
): vscode.Disposable[] {
  const diffs = new SnapshotDiffDocuments();
  const reveal = async (arg?: unknown): Promise<string | undefined> => {
    const va = addressFromArgument(arg) ?? (await askAddress('Reveal PTE for Address'));
    if (va === undefined) return undefined;
    const node = await tree.findEntry(va);
    await tree.whenIdle();
    if (!node) {
      void vscode.window.showWarningMessage(`No translation table entry maps ${toHex(va)}.`);
      return undefined;
    }
    await view.reveal(node, { select: true, focus: true, expand: false });
    guard.focusPage(toHex(va));
    return node.id;
  };

  const translate = async (arg?: unknown): Promise<TranslateResponseBody | undefined> => {
    const va = addressFromArgument(arg) ?? (await askAddress('Translate Address'));
    if (va === undefined) return undefined;
    const r = await sessions.request('translate', { address: toHex(va) });
    output.appendLine(`translate ${r.address} (${r.regime})`);
    for (const s of r.walk) {
      output.appendLine(
        `  L${s.level} table ${shortHex(s.table)}[${s.index}] @ ${shortHex(s.descriptorAddress)} = ${s.descriptor ? formatDescriptor(s.descriptor) : '?'} ${s.kind ?? ''}${s.stop ? ` — ${s.stop}` : ''}`,
      );
    }
    const result = r.ok ? `→ ${r.outputAddress ?? '?'}` : `fault: ${r.fault ?? 'no translation'}`;
    output.appendLine(`  ${result}${r.verdict ? ` — ${r.verdict.summary}` : ''}`);
    if (r.stage2)
      output.appendLine(
        `  stage 2: ${r.stage2.ok ? `→ ${r.stage2.outputAddress ?? '?'}` : (r.stage2.fault ?? 'fault')}`,
      );
    void vscode.window
      .showInformationMessage(
        `${r.address} ${result}${r.verdict ? ` (${r.verdict.summary})` : ''}`,
        'Reveal PTE',
        'Show Walk',
      )
      .then((choice) => {
        if (choice === 'Reveal PTE') void reveal(va);
        else if (choice === 'Show Walk') output.show(true);
      });
    return r;
  };

  const inViews = (c: Comparison): Promise<vscode.DebugSession | undefined> =>
    showComparisonInViews(c, { sessions, guard, reveal });

  return [
    vscode.commands.registerCommand(COMMAND.refresh, () => {
      tree.reset();
      void guard.update();
    }),
    vscode.commands.registerCommand(COMMAND.revealPte, reveal),
    vscode.commands.registerCommand(COMMAND.translateAddress, translate),
    vscode.commands.registerCommand(COMMAND.openGuard, () => guard.show()),
    vscode.commands.registerCommand(COMMAND.copyDescriptor, async (node?: unknown) => {
      const target = isEntryNode(node) ? node : view.selection.find(isEntryNode);
      if (!target) return undefined;
      const e = target.entry;
      // 16 digits, as every view writes a descriptor.
      const text = formatDescriptor(e.descriptor);
      await vscode.env.clipboard.writeText(text);
      // Copying is silent otherwise: say what went to the clipboard, where a glance finds it.
      vscode.window.setStatusBarMessage(`$(copy) ${copiedText(e, tree.addressBits(e.regime))}`, 5000);
      return text;
    }),
    // "Who writes this PTE?": the console's watch-pte on the entry's own level (a table entry too).
    // From the Fault scope's walk of FAR (a row named L3[16]): that entry of the fault's walk.
    vscode.commands.registerCommand(COMMAND.watchPte, async (node?: unknown) => {
      const session = sessions.session;
      const faultLevel = isVariableContext(node) ? /^L([0-3])\[\d+\]$/.exec(node.variable.name ?? '') : null;
      const target = isEntryNode(node) ? node : view.selection.find(isEntryNode);
      if ((!target && !faultLevel) || !session) return undefined;
      const expression = faultLevel
        ? `watch-pte fault --level ${faultLevel[1]}`
        : `watch-pte ${target!.entry.vaStart} --level ${target!.entry.level}`;
      try {
        const r = (await session.customRequest('evaluate', { expression, context: 'repl' })) as {
          result: string;
        };
        void vscode.window.showInformationMessage(r.result);
        return r.result;
      } catch (err) {
        void vscode.window.showWarningMessage(
          `Cannot watch the entry: ${err instanceof Error ? err.message : String(err)}`,
        );
        return undefined;
      }
    }),
    // pKVM's page ownership at this stop, as the console's `ownership` and the CLI's `guard` say it.
    vscode.commands.registerCommand(COMMAND.showOwnership, async () => {
      const session = sessions.session;
      if (!session) {
        void vscode.window.showInformationMessage('Start a pvmfw-mmu debug session first.');
        return undefined;
      }
      const o = (await session.customRequest('ownership', {})) as OwnershipResponseBody;
      const lines = ownershipLines(o);
      if (!lines.length) {
        void vscode.window.showInformationMessage(
          'No pKVM profile applies at this stop (the regimes’ profiles are on the Page Tables regimes).',
        );
        return undefined;
      }
      const uri = diffs.add('pKVM page ownership', `${lines.join('\n')}\n`);
      await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri), { preview: true });
      return lines;
    }),
    vscode.commands.registerCommand(COMMAND.toggleFinalPa, async () => {
      const config = vscode.workspace.getConfiguration();
      const next = !config.get<boolean>(SETTING.finalPa, false);
      await config.update(SETTING.finalPa, next, vscode.ConfigurationTarget.Global);
      return next;
    }),
    vscode.commands.registerCommand(COMMAND.toggleCoalesce, async () => {
      const config = vscode.workspace.getConfiguration();
      const next = !config.get<boolean>(SETTING.coalesce, false);
      await config.update(SETTING.coalesce, next, vscode.ConfigurationTarget.Global);
      return next;
    }),
    // Snapshots: each takes its file(s) as arguments too (Explorer's context menu, tests), else asks.
    vscode.commands.registerCommand(COMMAND.exportSnapshot, (target?: unknown) =>
      exportSnapshot(sessions, output, target, openSnapshot),
    ),
    vscode.commands.registerCommand(COMMAND.openSnapshot, openSnapshot),
    vscode.commands.registerCommand(COMMAND.compareSnapshots, (a?: unknown, b?: unknown) =>
      compareSnapshots(diffs, a, b, inViews),
    ),
    vscode.commands.registerCommand(COMMAND.compareSnapshotsInViews, async (a?: unknown, b?: unknown) => {
      const c = await buildComparison('Compare Snapshots in Views', a, b);
      return c ? inViews(c) : undefined;
    }),
    diffs,
    vscode.workspace.registerTextDocumentContentProvider(DIFF_SCHEME, diffs),
    // Internal: the "Load more…" tree item.
    vscode.commands.registerCommand('pvmfwMmu.internal.loadMore', (node: MoreNode) => tree.loadMore(node)),
  ];
}
