// Post-mortem debugging: a snapshot exported from a live session (the adapter's `snapshot` request)
// opens as a session without QEMU ({"snapshot": FILE}) and answers what the live session answered at
// that stop — Page Tables, regimes, translate, guard state, the Fault scope, the top frame — while
// run control is refused in words. The CLI reads the same file and agrees.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeSnapshot, type Snapshot } from '../../src/analysis/snapshot';
import type {
  GuardStateResponseBody,
  PageTableResponseBody,
  RegimesResponseBody,
  SnapshotResponseBody,
  TranslateResponseBody,
} from '../../src/shared/protocol';
import { startQemu, type QemuInstance } from '../harness/qemu';
import { demoQemu } from '../qemu/firmware-support';
import { attachTo, buildGuest, Dap, demoElf, repoRoot } from './support';

interface View {
  guard: Omit<GuardStateResponseBody, 'stopId'>;
  regimes: RegimesResponseBody;
  root: PageTableResponseBody;
  translate: TranslateResponseBody;
  fault: Record<string, string>;
  frame: string;
}

async function view(dap: Dap): Promise<View> {
  const { stopId: _s, ...guard } = await dap.custom<GuardStateResponseBody>('guardState', {});
  const root = await dap.custom<PageTableResponseBody>('pageTable', { regime: 'TTBR0_EL1' });
  const fault = Object.fromEntries((await dap.scope('Fault')).map((v) => [v.name, v.value]));
  return {
    guard,
    regimes: await dap.custom<RegimesResponseBody>('regimes', {}),
    root: { ...root, entries: root.entries.map((e) => ({ ...e, changed: undefined })) },
    translate: await dap.custom<TranslateResponseBody>('translate', { address: '0x9010000' }),
    fault,
    frame: (await dap.topFrame()).name,
  };
}

void describe('post-mortem: a snapshot opens as a session without QEMU', () => {
  let qemu: QemuInstance | undefined;
  let dir = '';
  let file = '';
  let live: View | undefined;

  before(async () => {
    buildGuest();
    dir = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-snap-'));
    file = join(dir, 'fault.pvmfw-snapshot');
    qemu = await startQemu(demoQemu('normal'));
    const dap = new Dap();
    await dap.start();
    try {
      await attachTo(dap, qemu.port, {}, () =>
        dap.dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'handle_mmio_fault' }] }),
      );
      const k = dap.mark();
      await dap.dc.continueRequest({ threadId: 1 });
      await dap.nextStop(k, 30_000);
      live = await view(dap);
      const snap = await dap.custom<SnapshotResponseBody>('snapshot', {});
      assert.ok(snap.bytes > 0);
      writeFileSync(file, encodeSnapshot(snap.snapshot as Snapshot, { gzip: true }));
      await dap.dc.disconnectRequest({ terminateDebuggee: false });
    } finally {
      await dap.stop();
    }
  });
  after(async () => {
    await qemu?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A snapshot session at its (only) stop. */
  async function openSnapshot(dap: Dap, extra: Record<string, unknown> = {}) {
    const m = dap.mark();
    await dap.dc.initializeRequest({ adapterID: 'pvmfw-mmu', pathFormat: 'path' });
    await dap.dc.launchRequest({ snapshot: file, program: demoElf, ...extra } as never);
    await dap.next('initialized', m);
    const bps = await dap.dc.setBreakpointsRequest({
      source: { path: resolve(repoRoot, 'guest/src/memory.c') },
      breakpoints: [{ line: 10 }],
    });
    assert.equal(bps.body.breakpoints[0].verified, false, 'breakpoints are acknowledged, never verified');
    await dap.dc.configurationDoneRequest();
    return dap.nextStopWithMmu(m);
  }

  void test('the snapshot session answers as the live session did at that stop', async () => {
    assert.ok(live);
    const dap = new Dap();
    await dap.start();
    try {
      const { stop, mmu } = await openSnapshot(dap);
      assert.equal(stop.reason, 'entry');
      assert.ok(mmu.regimes.length >= 2, 'mmuChanged arrives with the regimes');
      assert.match(dap.transcript(), /Snapshot .*captured .*program demo\.elf \(sha256 [0-9a-f]{12}…\)/);
      const post = await view(dap);
      assert.equal(post.frame, live.frame);
      assert.match(post.frame, /^handle_mmio_fault/);
      assert.deepEqual(post.guard, live.guard);
      assert.deepEqual(post.regimes, live.regimes);
      assert.deepEqual(post.root, live.root);
      assert.deepEqual(post.translate, live.translate);
      assert.deepEqual(post.fault, live.fault);
      assert.match(post.fault.verdict ?? '', /handle_mmio_fault will MMIO_GUARD_MAP 0x09010000/);
      // The Debug Console: the table-walk commands work on the captured tables.
      assert.match(
        await dap.evaluate('pte 0x9010000'),
        /^0x0009010000: L3 lazy 4K 0x00e0000009010402 @ 0x[0-9a-f]+\n[\s\S]*guard: untouched \(lazy\)/,
      );
    } finally {
      await dap.stop();
    }
  });

  void test('run control, writes and the monitor are refused in words; nothing hangs', async () => {
    const dap = new Dap();
    await dap.start();
    try {
      await openSnapshot(dap);
      for (const [name, req] of [
        ['continue', () => dap.dc.continueRequest({ threadId: 1 })],
        ['next', () => dap.dc.nextRequest({ threadId: 1 })],
        ['stepIn', () => dap.dc.stepInRequest({ threadId: 1 })],
        ['pause', () => dap.dc.pauseRequest({ threadId: 1 })],
      ] as const) {
        await assert.rejects(req(), new RegExp(`${name}: this session replays a snapshot`));
      }
      await assert.rejects(
        dap.dc.evaluateRequest({ expression: 'monitor info mtree', context: 'repl' }),
        /no QEMU monitor/,
      );
      const threads = (await dap.dc.threadsRequest()).body.threads;
      assert.equal(threads.length, 1);
      // Memory outside what was captured is unreadable, and says so.
      await assert.rejects(
        dap.dc.customRequest('readMemory', { memoryReference: 'p:0x50000000', count: 16 }),
        /physical 0x50000000: nothing backs this address/,
      );
      // A captured table page reads back (the root table of TTBR0_EL1).
      const root = (await dap.custom<RegimesResponseBody>('regimes', {})).regimes[0].rootTable;
      const r = await dap.custom<{ data?: string }>('readMemory', { memoryReference: `p:${root}`, count: 8 });
      assert.equal(Buffer.from(r.data ?? '', 'base64').length, 8);
    } finally {
      await dap.stop();
    }
  });

  void test('the CLI reads the same file and agrees with the snapshot session', () => {
    assert.ok(live);
    const r = spawnSync(
      process.execPath,
      [resolve(repoRoot, 'out/src/cli/main.js'), 'guard', '--snapshot', file, '--json'],
      { encoding: 'utf8' },
    );
    assert.ok(r.status === 0 || r.status === 3, r.stderr);
    const cli = JSON.parse(r.stdout) as { guard: unknown };
    const { fault: _f, ...guard } = live.guard;
    assert.deepEqual(cli.guard, guard);
  });

  void test('a file that is not a snapshot is refused at launch, naming it', async () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"format":"something else"}');
    const dap = new Dap();
    await dap.start();
    try {
      await dap.dc.initializeRequest({ adapterID: 'pvmfw-mmu', pathFormat: 'path' });
      await assert.rejects(
        dap.dc.launchRequest({ snapshot: bad } as never),
        /cannot open the snapshot '.*bad\.json': snapshot format: expected "pvmfw-mmu-snapshot"/,
      );
    } finally {
      await dap.stop();
    }
  });
});
