// Registrations only: each piece lives in src/ui/.
import * as vscode from 'vscode';
import { registerCommands } from './ui/commands';
import { ChangeDecorations } from './ui/changeDecorations';
import { AdapterFactory, ConfigurationProvider, StopTracker } from './ui/debugSetup';
import { followFaults } from './ui/faultFollow';
import { GuardPanel } from './ui/guardPanel';
import { registerLatencyCommand } from './ui/latencyCommand';
import { MemoryView } from './ui/memoryView';
import { registerMemoryView } from './ui/memoryViewCommands';
import { DEBUG_TYPE, VIEW, WEBVIEW } from './ui/ids';
import { MmuSessions } from './ui/mmuSession';
import { PageTableTree, type Node } from './ui/pageTableTree';
import { registerStatusBar } from './ui/statusBar';

/** What `activate` returns: the live views, for tests running in the extension host. */
export interface ExtensionApi {
  sessions: MmuSessions;
  pageTables: PageTableTree;
  pageTablesView: vscode.TreeView<Node>;
  guard: GuardPanel;
}

export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const output = vscode.window.createOutputChannel('pvmfw MMU');
  const sessions = new MmuSessions();
  const pageTables = new PageTableTree(sessions);
  const pageTablesView = vscode.window.createTreeView(VIEW.pageTables, {
    treeDataProvider: pageTables,
    showCollapseAll: true,
  });
  pageTables.view = pageTablesView;
  const guard = new GuardPanel(context.extensionUri, sessions);
  const memory = new MemoryView(context.extensionUri, sessions);

  context.subscriptions.push(
    output,
    sessions,
    pageTables,
    pageTablesView,
    guard,
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, new ConfigurationProvider()),
    vscode.debug.registerDebugConfigurationProvider(
      DEBUG_TYPE,
      new ConfigurationProvider(),
      vscode.DebugConfigurationProviderTriggerKind.Dynamic,
    ),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, new AdapterFactory(sessions)),
    vscode.debug.registerDebugAdapterTrackerFactory(DEBUG_TYPE, new StopTracker(sessions)),
    vscode.window.registerWebviewPanelSerializer(WEBVIEW.guardState, guard),
    vscode.window.registerFileDecorationProvider(new ChangeDecorations()),
    followFaults(sessions, pageTables, pageTablesView, guard),
    ...registerCommands(sessions, pageTables, pageTablesView, guard, output),
    ...registerStatusBar(sessions),
    registerLatencyCommand(sessions, output),
    memory,
    ...registerMemoryView(memory, pageTablesView),
  );
  return { sessions, pageTables, pageTablesView, guard };
}

export function deactivate(): void {}
