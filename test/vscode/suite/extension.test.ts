// Inside the real extension host: the extension activates, its commands exist, a pvmfw-mmu session on
// the demo firmware (real QEMU) stops at handle_mmio_fault, the Page Tables provider returns the lazy
// entry, the MMIO Guard webview renders the guard state, and both follow the page to guard-mapped.
// Snapshots exported at the fault and after it reopen post-mortem and compare as the CLI's diff does,
// in a document and in the views (B opened with the changes since A marked).

import * as assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import * as vscode from 'vscode';
import { demoQemuArgs } from '../../../src/shared/demoLaunch';
import { formatAddress } from '../../../src/shared/format';
import { isGzip, loadSnapshot, parseSnapshotBytes } from '../../../src/analysis/snapshot';
import type { ExtensionApi } from '../../../src/extension';
import type { PteEntry, TranslateResponseBody } from '../../../src/shared/protocol';
import { ChangeDecorations } from '../../../src/ui/changeDecorations';
import {
  COMMAND,
  DEBUG_TYPE,
  DIFF_SCHEME,
  SETTING_DEFAULT,
  SETTING,
  SNAPSHOT_EXTENSION,
} from '../../../src/ui/ids';
import { extensionApi, nextEvent, nextStop, stopAllSessions, workspaceFolder } from './helpers';

interface StackFrame {
  id: number;
  name: string;
}

/** The CLI the extension ships (dist/cli.js), run by the extension host's Node. */
function runCli(args: string[]): SpawnSyncReturns<string> {
  const repo = vscode.Uri.joinPath(workspaceFolder().uri, '..').fsPath;
  return spawnSync(process.execPath, [join(repo, 'dist', 'cli.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
  });
}

suite('pvmfw-mmu in VS Code', () => {
  let api: ExtensionApi;
  let session: vscode.DebugSession;
  let threadId: number;
  let faultVa: bigint;
  const scratch = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-suite-'));
  /** Exported at handle_mmio_fault, and after stepping out of it (the page guard-mapped). */
  const snapshotAtFault = vscode.Uri.file(join(scratch, `at-fault.${SNAPSHOT_EXTENSION}`));
  const snapshotAfterMap = vscode.Uri.file(join(scratch, `after-map.${SNAPSHOT_EXTENSION}`));

  suiteSetup(async () => {
    api = await extensionApi();
  });

  suiteTeardown(async () => {
    // Stopped first: breakpoints removed from a live session go to it as requests that race its
    // disconnect (in the runs that failed, VS Code logged 'connection closed' for them and the
    // next suite waited 15 s for a session end that never came).
    await stopAllSessions();
    vscode.debug.removeBreakpoints(vscode.debug.breakpoints);
    rmSync(scratch, { recursive: true, force: true });
  });

  test('every contributed command is registered', async () => {
    const all = new Set(await vscode.commands.getCommands(true));
    for (const id of Object.values(COMMAND)) assert.ok(all.has(id), `${id} not registered`);
  });

  test('a launch session resolves its configuration and stops at handle_mmio_fault', async () => {
    vscode.debug.addBreakpoints([new vscode.FunctionBreakpoint('handle_mmio_fault')]);
    const folder = workspaceFolder();
    const elf = vscode.Uri.joinPath(folder.uri, '..', 'guest', 'build', 'demo.elf').fsPath;
    const started = nextEvent(vscode.debug.onDidStartDebugSession, 'session start', 30_000);
    const stopped = nextStop(api, 'the stop at handle_mmio_fault', 60_000);
    const ok = await vscode.debug.startDebugging(folder, {
      type: DEBUG_TYPE,
      request: 'launch',
      name: 'suite: demo firmware',
      program: elf,
      qemuArgs: demoQemuArgs(elf),
      stopOnEntry: false,
    });
    assert.ok(ok, 'startDebugging failed');
    session = await started;
    // Filled in by the extension's DebugConfigurationProvider from the settings.
    assert.equal(session.configuration.lazyFlagBit, SETTING_DEFAULT[SETTING.lazyFlagBit]);
    assert.equal(session.configuration.walkLimit, SETTING_DEFAULT[SETTING.walkLimit]);
    const stop = await stopped;
    assert.equal(stop.session.id, session.id);
    threadId = stop.change.threadId;
    const trace = (await session.customRequest('stackTrace', { threadId, startFrame: 0, levels: 1 })) as {
      stackFrames: StackFrame[];
    };
    assert.match(trace.stackFrames[0].name, /^handle_mmio_fault/);
    // pvmfw's handler takes the faulting address in x0.
    const x0 = (await session.customRequest('evaluate', {
      expression: '$x0',
      frameId: trace.stackFrames[0].id,
      context: 'watch',
    })) as {
      result: string;
    };
    faultVa = BigInt(x0.result.split(/\s/)[0]);
    assert.ok(faultVa > 0n, `x0 = ${x0.result}`);
  });

  test('the Page Tables provider lists the regimes and returns the lazy entry for the fault address', async () => {
    const roots = await api.pageTables.getChildren();
    assert.ok(
      roots.some((n) => n.kind === 'regime' && n.info.regime === 'TTBR0_EL1' && n.info.enabled),
      JSON.stringify(roots.map((n) => n.id)),
    );
    const node = await api.pageTables.findEntry(faultVa);
    assert.ok(node, `no entry for 0x${faultVa.toString(16)}`);
    assert.equal(node.entry.kind, 'lazy');
    assert.ok(BigInt(node.entry.vaStart) <= faultVa && faultVa <= BigInt(node.entry.vaEnd));
    const item = api.pageTables.getTreeItem(node);
    assert.match(String(item.description), /lazy MMIO/);
  });

  test('Reveal PTE selects the entry and Translate reports the lazy verdict', async () => {
    const id = await vscode.commands.executeCommand<string | undefined>(
      COMMAND.revealPte,
      '0x' + faultVa.toString(16),
    );
    assert.ok(id);
    assert.equal(api.pageTablesView.selection[0]?.id, id);
    // From the Variables view's context menu (Fault scope: FAR with a memory reference).
    const fromVariable = await vscode.commands.executeCommand<string | undefined>(COMMAND.revealPte, {
      container: { name: 'Fault', variablesReference: 1 },
      variable: {
        name: 'FAR_EL1',
        value: '0x' + faultVa.toString(16),
        memoryReference: 'v:0x' + faultVa.toString(16),
      },
    });
    assert.equal(fromVariable, id);
    const t = await vscode.commands.executeCommand<TranslateResponseBody>(COMMAND.translateAddress, faultVa);
    assert.equal(t.ok, false);
    assert.equal(t.leaf?.kind, 'lazy');
    assert.equal(t.verdict?.kind, 'lazyMmio');
  });

  test('the MMIO Guard webview renders the guard state of this stop', async () => {
    const rendered = nextEvent(api.guard.onDidRender, 'the webview render', 30_000);
    await vscode.commands.executeCommand(COMMAND.openGuard);
    const r = await rendered;
    assert.equal(r.stopId, api.sessions.lastChange?.stopId);
    assert.ok(r.regions > 0 && r.pages > 0, JSON.stringify(r));
    assert.match(r.summary, /untouched \(lazy\) \d+/);
  });

  test('Export Snapshot writes a gzip-compressed snapshot that loads and that the CLI replays offline', async () => {
    const written = await vscode.commands.executeCommand<vscode.Uri | undefined>(
      COMMAND.exportSnapshot,
      snapshotAtFault,
    );
    assert.equal(written?.fsPath, snapshotAtFault.fsPath);
    const bytes = readFileSync(snapshotAtFault.fsPath);
    assert.ok(isGzip(bytes), `not gzip: starts ${bytes.subarray(0, 2).toString('hex')}`);
    const loaded = loadSnapshot(parseSnapshotBytes(bytes));
    assert.ok(loaded.image.size > 0, 'no guest memory recorded');
    assert.equal(loaded.program?.name, 'demo.elf');
    assert.ok(loaded.symbols.some((x) => x.name === 'handle_mmio_fault' && x.isFunction));
    const cli = runCli(['translate', '0x' + faultVa.toString(16), '--snapshot', snapshotAtFault.fsPath]);
    // `translate` exits 4 when the address does not translate: a lazy page does not, yet.
    assert.equal(cli.status, 4, `${cli.stdout}${cli.stderr}`);
    assert.match(cli.stdout, /lazy MMIO: handle_mmio_fault will MMIO_GUARD_MAP/);
  });

  test('stepping over the MMIO_GUARD_MAP call shows the page mapped with its stage-1 entry still lazy', async () => {
    const pending = /mapped, stage 1 pending 1/;
    let steps = 0;
    for (; steps < 40 && !pending.test(api.guard.lastRendered?.summary ?? ''); steps++) {
      const stopId = api.guard.lastRendered?.stopId;
      const rendered = nextEvent(
        api.guard.onDidRender,
        'the render after a step',
        30_000,
        (r) => r.stopId !== stopId,
      );
      await session.customRequest('next', { threadId, granularity: 'instruction' });
      await rendered;
    }
    assert.match(api.guard.lastRendered?.summary ?? '', pending, `after ${steps} steps`);
    const node = await api.pageTables.findEntry(faultVa);
    assert.equal(node?.entry.kind, 'lazy');
    assert.equal(node?.entry.guard, 'guardMappedPending');
    const icon = node ? api.pageTables.getTreeItem(node).iconPath : undefined;
    assert.ok(icon instanceof vscode.ThemeIcon && icon.id === 'sync', 'pending icon');
  });

  test('stepping out of the handler turns the page guard-mapped in the tree and the webview', async () => {
    const before = api.guard.lastRendered;
    assert.ok(before);
    const stopped = nextStop(api, 'the stop after step out', 60_000);
    const rendered = nextEvent(
      api.guard.onDidRender,
      'the webview render after the step',
      60_000,
      (r) => r.stopId !== before.stopId,
    );
    await session.customRequest('stepOut', { threadId });
    const stop = await stopped;
    const page = faultVa & ~0xfffn;
    assert.ok(
      stop.change.changes.some((c) => BigInt(c.vaStart) <= page && page <= BigInt(c.vaEnd)),
      `mmuChanged did not report the page: ${JSON.stringify(stop.change.changes.map((c) => c.summary))}`,
    );
    const node = await api.pageTables.findEntry(faultVa);
    const entry: PteEntry | undefined = node?.entry;
    assert.equal(entry?.kind, 'page');
    assert.equal(entry?.guard, 'guardMapped');
    const after = await rendered;
    assert.ok(after.changedPages >= 1, JSON.stringify(after));
    const count = (s: string): number => Number(/guard-mapped (\d+)/.exec(s)?.[1] ?? 0);
    assert.equal(count(after.summary), count(before.summary) + 1, `${before.summary} -> ${after.summary}`);
    // The stop after the handler, for Compare Snapshots below.
    const written = await vscode.commands.executeCommand<vscode.Uri | undefined>(
      COMMAND.exportSnapshot,
      snapshotAfterMap,
    );
    assert.equal(written?.fsPath, snapshotAfterMap.fsPath);
  });

  test('coalesced ranges group the lazy neighbours and reveal still finds the page', async () => {
    const on = await vscode.commands.executeCommand<boolean>(COMMAND.toggleCoalesce);
    try {
      assert.equal(on, true);
      const node = await api.pageTables.findEntry(faultVa);
      assert.equal(node?.entry.kind, 'page');
      const table = node?.parent;
      assert.ok(table);
      const siblings = await api.pageTables.getChildren(table);
      const ranges = siblings.filter((n) => n.kind === 'range');
      assert.ok(ranges.length > 0, 'no range item');
      // 512 entries collapse into a handful of items; every lazy entry sits in a range or alone.
      assert.ok(siblings.length < 32, `${siblings.length} items`);
      const inRanges = ranges.reduce((n, r) => n + (r.kind === 'range' ? r.group.entries.length : 0), 0);
      assert.ok(inRanges > 400, `${inRanges} entries in ranges`);
    } finally {
      await vscode.commands.executeCommand(COMMAND.toggleCoalesce);
    }
  });

  test('ending the session clears the views', async () => {
    await stopAllSessions();
    assert.equal(api.sessions.session, undefined);
    const roots = await api.pageTables.getChildren();
    assert.equal(roots.length, 1);
    assert.equal(roots[0].kind, 'message');
  });

  test('Open Snapshot replays the stop at the fault post-mortem: tree, guard state, no run control', async () => {
    const stopped = nextStop(api, 'the post-mortem stop', 30_000);
    const post = await vscode.commands.executeCommand<vscode.DebugSession | undefined>(
      COMMAND.openSnapshot,
      snapshotAtFault,
    );
    assert.ok(post, 'no session started');
    assert.equal(post.configuration.snapshot, snapshotAtFault.fsPath);
    assert.equal(post.configuration.qemuArgs, undefined);
    const stop = await stopped;
    assert.equal(stop.session.id, post.id);
    assert.equal(api.sessions.session?.id, post.id);
    const node = await api.pageTables.findEntry(faultVa);
    assert.equal(node?.entry.kind, 'lazy', `entry for 0x${faultVa.toString(16)}`);
    const guard = await api.sessions.request('guardState', { omitLog: true });
    assert.ok(guard.available, guard.reason);
    assert.ok(guard.regions.length > 0, 'no tracked regions');
    assert.ok(
      guard.regions.some((r) => r.runs.some((run) => run.state === 'lazy')),
      'no lazy page at the fault',
    );
    await assert.rejects(
      Promise.resolve(post.customRequest('continue', { threadId: stop.change.threadId })),
      /replays a snapshot/,
    );
    await stopAllSessions();
  });

  test('Compare Snapshots opens a read-only document with the CLI diff: the page went lazy -> guardMapped', async () => {
    const doc = await vscode.commands.executeCommand<vscode.TextDocument | undefined>(
      COMMAND.compareSnapshots,
      snapshotAtFault,
      snapshotAfterMap,
    );
    assert.ok(doc, 'no document');
    assert.equal(doc.uri.scheme, DIFF_SCHEME);
    assert.equal(doc.languageId, 'plaintext');
    assert.equal(
      basename(doc.uri.path),
      `pvmfw MMU: ${basename(snapshotAtFault.fsPath)} ↔ ${basename(snapshotAfterMap.fsPath)}`,
    );
    const text = doc.getText();
    assert.match(text, /: untouched \(lazy\) → guard-mapped/);
    assert.match(text, /guard calls between A and B.*:\n\s+#\d+ MAP\(/);
    assert.match(text, /translation tables: \d+ entr/);
    // Word for word what `pvmfw-mmu diff A B` prints (the files are outside the workspace, so both
    // name them by their full path).
    const cli = runCli(['diff', snapshotAtFault.fsPath, snapshotAfterMap.fsPath]);
    assert.equal(cli.status, 0, cli.stderr);
    assert.equal(text, cli.stdout);
    assert.equal(vscode.window.activeTextEditor?.document.uri.toString(), doc.uri.toString());
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });

  test('Compare Snapshots in Page Tables opens B marked with the changes since A: Δ on the RTC page, lazy -> guardMapped in MMIO Guard', async () => {
    const since = basename(snapshotAtFault.fsPath);
    const page = faultVa & ~0xfffn;
    const rendered = nextEvent(
      api.guard.onDidRender,
      'the MMIO Guard render of the comparison',
      60_000,
      (r) => r.diffTitle?.startsWith(`Since ${since}`) === true,
    );
    const post = await vscode.commands.executeCommand<vscode.DebugSession | undefined>(
      COMMAND.compareSnapshotsInViews,
      snapshotAtFault,
      snapshotAfterMap,
    );
    assert.ok(post, 'no session started');
    assert.equal(post.configuration.snapshot, snapshotAfterMap.fsPath);
    assert.equal(api.sessions.session?.id, post.id);
    assert.equal(api.sessions.baseline?.since, since);
    // The stop's change is the diff A -> B (a post-mortem stop has no previous stop of its own).
    const changes = api.sessions.lastChange?.changes ?? [];
    assert.ok(changes.length > 0, 'no table change since A');

    // Page Tables: the page's entry (B: valid, guard-mapped) carries the Δ decoration of a changed entry.
    const node = await api.pageTables.findEntry(faultVa);
    assert.ok(node, `no entry for 0x${faultVa.toString(16)}`);
    assert.equal(BigInt(node.entry.vaStart), page);
    assert.equal(node.entry.kind, 'page');
    assert.equal(node.entry.guard, 'guardMapped');
    const item = api.pageTables.getTreeItem(node);
    assert.match(String(item.description), /^Δ/);
    assert.ok(item.resourceUri, 'no decoration URI');
    const deco = new ChangeDecorations().provideFileDecoration(item.resourceUri);
    assert.equal(deco?.badge, 'Δ');
    assert.equal(deco?.tooltip, `Changed since ${since}`);
    const tooltip = item.tooltip instanceof vscode.MarkdownString ? item.tooltip.value : String(item.tooltip);
    assert.ok(
      tooltip.includes(`Changed since ${since}: L3 4 KiB entry at ${formatAddress(page)} became valid`),
      tooltip,
    );
    // The command revealed a changed entry.
    const selected = api.pageTablesView.selection[0];
    assert.ok(
      selected?.kind === 'entry' &&
        changes.some(
          (c) => c.descriptorAddress.toLowerCase() === selected.entry.descriptorAddress.toLowerCase(),
        ),
      `selection ${selected?.id}`,
    );

    // MMIO Guard: the host sends the guard transitions A -> B and the webview lists them.
    const sent = api.guard.lastSent?.comparison;
    assert.equal(sent?.since, since);
    assert.ok(
      sent?.transitions.some(
        (t) => BigInt(t.start) === page && t.pages === 1 && t.from === 'lazy' && t.to === 'guardMapped',
      ),
      JSON.stringify(sent?.transitions),
    );
    const r = await rendered;
    assert.ok(
      r.diffLines?.some((l) =>
        new RegExp(`^0x0*${page.toString(16)} \\(1 page.*\\): untouched \\(lazy\\) → guard-mapped$`).test(l),
      ),
      JSON.stringify(r.diffLines),
    );
    assert.ok(r.changedPages >= 1, JSON.stringify(r));
    await stopAllSessions();
  });
});
