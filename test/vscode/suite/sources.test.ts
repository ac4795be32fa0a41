// Issue #14 item 8 inside the real extension host: the demo workspace holds the firmware's sources
// (Quick Open finds memory.c), `.S` files open as AArch64 assembly, and a breakpoint set on a line of
// el1_entry.S binds through the adapter (DWARF line table) and stops there.

import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { demoQemuArgs } from '../../../src/shared/demoLaunch';
import { ASM_LANGUAGE, DEBUG_TYPE } from '../../../src/ui/ids';
import { extensionApi, nextStop, stopAllSessions, workspaceFolder } from './helpers';

suite('issue #14: firmware sources and assembly breakpoints', () => {
  suiteTeardown(async () => {
    // Stopped first: breakpoints removed from a live session go to it as requests that race its
    // disconnect (in the runs that failed, VS Code logged 'connection closed' for them and the
    // next suite waited 15 s for a session end that never came).
    await stopAllSessions();
    vscode.debug.removeBreakpoints(vscode.debug.breakpoints);
  });

  test('the demo workspace holds the firmware sources: memory.c and el1_entry.S are found', async () => {
    const names = (vscode.workspace.workspaceFolders ?? []).map((f) => f.name);
    const found = await vscode.workspace.findFiles('**/{memory.c,el1_entry.S}');
    const paths = found.map((u) => vscode.workspace.asRelativePath(u, true)).sort();
    assert.deepEqual(
      paths.map((p) => p.split('/').pop()),
      ['el1_entry.S', 'memory.c'],
      `folders ${names.join(', ')}: ${paths.join(', ')}`,
    );
  });

  test('a breakpoint on a line of el1_entry.S binds and the session stops there', async () => {
    const api = await extensionApi();
    await stopAllSessions();
    vscode.debug.removeBreakpoints(vscode.debug.breakpoints);
    const [uri] = await vscode.workspace.findFiles('**/el1_entry.S');
    assert.ok(uri, 'el1_entry.S in the workspace');
    const doc = await vscode.workspace.openTextDocument(uri);
    assert.equal(doc.languageId, ASM_LANGUAGE.id);
    // `bl el1_main`: the firmware's EL1 entry calls into C here, once per boot.
    const line = doc
      .getText()
      .split('\n')
      .findIndex((l) => /^\s*bl\s+el1_main\b/.test(l));
    assert.ok(line > 0, 'bl el1_main in el1_entry.S');
    const bp = new vscode.SourceBreakpoint(new vscode.Location(uri, new vscode.Position(line, 0)));
    vscode.debug.addBreakpoints([bp]);

    const elf = vscode.Uri.joinPath(workspaceFolder().uri, '..', 'guest', 'build', 'demo.elf').fsPath;
    // The adapter's answer to setBreakpoints for the .S file, as VS Code receives it.
    let verified: boolean | undefined;
    const tracker = vscode.debug.registerDebugAdapterTrackerFactory(DEBUG_TYPE, {
      createDebugAdapterTracker: () => ({
        onDidSendMessage: (m: {
          type?: string;
          command?: string;
          body?: { breakpoints?: { verified: boolean; line?: number }[] };
        }) => {
          if (m.type === 'response' && m.command === 'setBreakpoints' && m.body?.breakpoints?.length)
            verified = m.body.breakpoints.every((b) => b.verified && b.line === line + 1);
        },
      }),
    });
    try {
      const entry = nextStop(api, 'the entry stop', 60_000);
      assert.ok(
        await vscode.debug.startDebugging(workspaceFolder(), {
          type: DEBUG_TYPE,
          request: 'launch',
          name: 'suite: assembly breakpoint',
          program: elf,
          qemuArgs: demoQemuArgs(elf),
          stopOnEntry: true,
        }),
      );
      const first = await entry;
      assert.equal(verified, true, 'setBreakpoints answered verified on the requested line');
      const hit = nextStop(api, 'the stop at the breakpoint in el1_entry.S', 60_000);
      await first.session.customRequest('continue', { threadId: first.change.threadId });
      const stop = await hit;
      assert.equal(stop.change.reason, 'breakpoint');
      const trace = (await stop.session.customRequest('stackTrace', {
        threadId: stop.change.threadId,
        levels: 1,
      })) as { stackFrames: { name: string; line: number; source?: { path?: string } }[] };
      const top = trace.stackFrames[0];
      assert.match(top?.source?.path ?? '', /el1_entry\.S$/);
      assert.equal(top.line, line + 1);
    } finally {
      tracker.dispose();
    }
  });
});
