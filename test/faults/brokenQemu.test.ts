// The suite on a machine where QEMU cannot start: with a stand-in `qemu-system-aarch64` on PATH that
// prints QEMU's own error for a missing option ROM and exits 1 (what a Debian install without
// ipxe-qemu did for any command line without -nic none), the QEMU and DAP layers must end quickly
// with their failures counted: every test that needs QEMU fails with QEMU's message, no test file is
// killed by the runner's timeout, and nothing the run started is left running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { repoRoot } from '../harness/demo';

const ROM_ERROR = 'qemu-system-aarch64: failed to find romfile "efi-virtio.rom"';
/** The nested run's own bound: far above how long failing fast takes, far below a hang. */
const NESTED_LIMIT_MS = 15 * 60_000;
/** What a file may take before the nested runner kills it: a file that needed this is a hang. */
const FILE_TIMEOUT_S = 120;

/** Processes whose environment carries `marker` (the nested run's descendants). */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${name}/stat`, 'latin1'))) continue;
      if (readFileSync(`/proc/${name}/environ`, 'latin1').includes(marker)) out.push(Number(name));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

void test(
  'a QEMU that cannot start: the qemu and dap layers end quickly with failures counted',
  { timeout: NESTED_LIMIT_MS + 60_000 },
  async () => {
    const bin = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-broken-qemu-'));
    try {
      for (const name of ['qemu-system-aarch64', 'qemu-system-arm']) {
        const p = join(bin, name);
        writeFileSync(p, `#!/bin/sh\necho '${ROM_ERROR.replace('aarch64', name.slice(12))}' >&2\nexit 1\n`);
        chmodSync(p, 0o755);
      }
      const marker = `PVMFW_BROKEN_QEMU_RUN=${randomBytes(8).toString('hex')}`;
      const [key, value] = marker.split('=');
      // node:test marks its children (NODE_TEST_CONTEXT) and a nested `node --test` then runs nothing.
      const env: NodeJS.ProcessEnv = { ...process.env };
      delete env.NODE_TEST_CONTEXT;
      const child = spawn(process.execPath, [join(repoRoot, 'scripts/run-tests.mjs'), 'qemu', 'dap'], {
        cwd: repoRoot,
        env: {
          ...env,
          PATH: `${bin}:${process.env.PATH ?? ''}`,
          QEMU_SYSTEM_AARCH64: '',
          PVMFW_TEST_FILE_TIMEOUT_S: String(FILE_TIMEOUT_S),
          [key]: value,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
      child.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
      const exit = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => child.kill('SIGKILL'), NESTED_LIMIT_MS);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
      });
      const tail = out.split('\n').slice(-40).join('\n');
      const summary = /^(\d+) passed, (\d+) failed$/m.exec(out);
      assert.ok(summary, `the nested run ended with its summary line (exit ${String(exit)}):\n${tail}`);
      assert.ok(Number(summary[2]) > 0, `failures are counted:\n${tail}`);
      assert.notEqual(exit, 0, 'the runner exits non-zero when tests failed');
      assert.match(out, /failed to find romfile "efi-virtio\.rom"/, "the failures carry QEMU's own message");
      assert.doesNotMatch(
        out,
        /killed after the per-file timeout/,
        `no test file hung until the runner killed it:\n${tail}`,
      );
      // Everything the run started (adapters, QEMUs, test processes) is gone with it.
      let left = processesWith(marker);
      for (let i = 0; i < 50 && left.length; i++) {
        await new Promise((r) => setTimeout(r, 100));
        left = processesWith(marker);
      }
      assert.deepEqual(left, [], 'processes of the nested run still running');
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  },
);
