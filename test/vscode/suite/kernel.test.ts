// A snapshot of Debian's arm64 kernel at its root-fs panic (taken by the runner before code-server
// started: test/vscode/kernelSnapshot.ts) opens as a post-mortem session: the Page Tables tree lists
// TTBR1_EL1's root entries (the kernel's upper half), pageTable answers for it, guardState says there
// is no guard log (a kernel is not pvmfw), and nothing runs.

import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../../src/extension';
import type { RegimeNode } from '../../../src/ui/pageTableTree';
import { COMMAND } from '../../../src/ui/ids';
import { KERNEL_SNAPSHOT_ENV, KERNEL_SNAPSHOT_ERROR_ENV } from '../suiteEnv';
import { extensionApi, nextStop, stopAllSessions } from './helpers';

/** TTBR1_EL1 translates the top of the address space: 0xffff… with 48-bit VAs. */
const UPPER_HALF = 0xffff_0000_0000_0000n;

suite("a snapshot of Debian's arm64 kernel, post-mortem", () => {
  let api: ExtensionApi;
  let session: vscode.DebugSession;
  let threadId: number;

  suiteSetup(async () => {
    const why = process.env[KERNEL_SNAPSHOT_ERROR_ENV];
    if (why) assert.fail(why);
    const file = process.env[KERNEL_SNAPSHOT_ENV];
    assert.ok(file, `${KERNEL_SNAPSHOT_ENV} is not set: run the suite through out/test/vscode/run.js`);
    api = await extensionApi();
    await stopAllSessions();
    const stopped = nextStop(api, 'the kernel snapshot stop', 60_000);
    const s = await vscode.commands.executeCommand<vscode.DebugSession | undefined>(
      COMMAND.openSnapshot,
      vscode.Uri.file(file),
    );
    assert.ok(s, 'Open Snapshot started no session');
    session = s;
    const stop = await stopped;
    assert.equal(stop.session.id, session.id);
    threadId = stop.change.threadId;
  });

  suiteTeardown(async () => {
    await stopAllSessions();
  });

  test('the Page Tables tree lists TTBR1_EL1 with its root entries in the upper half', async () => {
    const roots = await api.pageTables.getChildren();
    const t1 = roots.find((n): n is RegimeNode => n.kind === 'regime' && n.info.regime === 'TTBR1_EL1');
    assert.ok(t1, JSON.stringify(roots.map((n) => n.id)));
    assert.equal(t1.info.enabled, true, t1.info.reason);
    assert.deepEqual([t1.info.granule, t1.info.inputBits, t1.info.startLevel], [4096, 48, 0]);
    assert.match(String(api.pageTables.getTreeItem(t1).description), /L0 start · 48-bit VA/);
    const entries = (await api.pageTables.getChildren(t1)).filter((n) => n.kind === 'entry');
    assert.ok(entries.length > 0, 'no root entries');
    for (const n of entries) {
      assert.equal(n.entry.regime, 'TTBR1_EL1');
      assert.equal(n.entry.level, 0);
      assert.ok(BigInt(n.entry.vaStart) >= UPPER_HALF, `${n.entry.vaStart} below the upper half`);
    }
    // The linear map and the kernel image hang off level-0 table entries.
    assert.ok(
      entries.some((n) => n.entry.kind === 'table' && n.entry.child),
      'no next-level table under TTBR1_EL1',
    );
  });

  test('a pageTable request on TTBR1_EL1 returns entries, and their next-level tables answer too', async () => {
    const root = await api.sessions.request('pageTable', { regime: 'TTBR1_EL1' });
    assert.equal(root.error, undefined);
    assert.ok(root.entries.length > 0, 'no entries');
    const table = root.entries.find((e) => e.child);
    assert.ok(table?.child, 'no table entry');
    const next = await api.sessions.request('pageTable', {
      regime: 'TTBR1_EL1',
      table: table.child,
      count: 16,
    });
    assert.equal(next.error, undefined);
    assert.ok(next.entries.length > 0, `no entries in ${table.child.table}`);
    assert.ok(next.entries.every((e) => e.level === 1));
  });

  test('guardState answers: no guard log in a kernel, so unavailable with a reason and no pvmfw anomalies', async () => {
    const guard = await api.sessions.request('guardState', {});
    assert.equal(guard.available, false);
    assert.ok(guard.reason && guard.reason.length > 0, 'no reason given');
    assert.deepEqual(guard.anomalies, []);
    assert.deepEqual(guard.regions, []);
  });

  test('the regimes carry their profiles: linux, the hypervisor’s EL2 (pkvm-hyp), the host stage 2 (pkvm-host-s2)', async () => {
    const roots = await api.pageTables.getChildren();
    const regimes = roots.filter((n): n is RegimeNode => n.kind === 'regime');
    const of = (r: string) => regimes.find((n) => n.info.regime === r);
    assert.equal(of('TTBR1_EL1')?.info.profile, 'linux');
    const el2 = of('TTBR0_EL2');
    assert.ok(el2, `no TTBR0_EL2 regime in ${JSON.stringify(regimes.map((n) => n.info.regime))}`);
    assert.equal(el2.info.profile, 'pkvm-hyp');
    assert.match(String(api.pageTables.getTreeItem(el2).description), /pkvm-hyp/);
    assert.equal(of('VTTBR_EL2')?.info.profile, 'pkvm-host-s2');
  });

  test('Show pKVM Page Ownership opens the ownership the CLI and the console give', async () => {
    const lines = await vscode.commands.executeCommand<string[] | undefined>(COMMAND.showOwnership);
    assert.ok(lines, 'the command found no ownership');
    assert.match(lines.join('\n'), /hyp \(invalid in the host's stage 2\): \d+ pages/);
    const doc = vscode.window.activeTextEditor?.document;
    assert.ok(doc, 'no document shown');
    assert.match(doc.getText(), /pKVM ownership, host stage 2/);
  });

  test('the session refuses to continue', async () => {
    await assert.rejects(
      Promise.resolve(session.customRequest('continue', { threadId })),
      /replays a snapshot/,
    );
  });
});
