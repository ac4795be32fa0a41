#!/usr/bin/env node
// Runs every test layer that exists: unit, qemu, dap, faults (node:test over the compiled tests in
// out/test), then the layer inside real VS Code (test/vscode, mocha in code-server's extension host).
// Ends with one plain line `N passed, N failed` that sums all layers, so a run that executed nothing
// shows as `0 passed, 0 failed`.
//
// Fail fast, never hang: each test file runs in its own process group with a per-test timeout
// (--test-timeout) and a per-file timeout; a file that outlives its timeout is killed with everything
// it started (the adapter, QEMU) and counted as a failure, and the runner goes on with the next file.
//
// Usage: node scripts/run-tests.mjs [layer ...]   (layers: unit qemu dap faults vscode; default all)
// Environment: PVMFW_TEST_FILE_TIMEOUT_S (default 300), PVMFW_TEST_TIMEOUT_S (per test, default 120),
//              PVMFW_TEST_VSCODE_TIMEOUT_S (the VS Code layer as a whole, default 900).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, mkdtempSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const all = ['unit', 'qemu', 'dap', 'faults', 'vscode'];
const layers = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const l of layers)
  if (!all.includes(l)) throw new Error(`unknown test layer '${l}' (expected ${all.join(', ')})`);

const seconds = (name, dflt) => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number of seconds`);
  return v;
};
const FILE_TIMEOUT_S = seconds('PVMFW_TEST_FILE_TIMEOUT_S', 300);
const TEST_TIMEOUT_S = seconds('PVMFW_TEST_TIMEOUT_S', 120);
const VSCODE_TIMEOUT_S = seconds('PVMFW_TEST_VSCODE_TIMEOUT_S', 900);

function testFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...testFiles(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

/**
 * Runs `args` in its own process group, passing its output through; kills the whole group after
 * `timeoutS` (and on this runner's own exit). Resolves with the exit status and whether it timed out.
 */
function runGroup(args, timeoutS, stdout = 'inherit') {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: root,
      detached: true,
      stdio: ['ignore', stdout, 'inherit'],
    });
    let out = '';
    if (stdout === 'pipe') {
      child.stdout.on('data', (b) => {
        process.stdout.write(b);
        out += b.toString('utf8');
      });
    }
    const killGroup = () => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    process.on('exit', killGroup);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // The file's process is gone; whatever it left in its group (an adapter, a QEMU) goes too.
      killGroup();
      process.off('exit', killGroup);
      resolve({ code, signal, timedOut, out });
    });
  });
}

let passed = 0;
let failed = 0;
let status = 0;
const problems = [];

const nodeLayers = layers.filter((l) => l !== 'vscode');
const files = nodeLayers.flatMap((l) => testFiles(join(root, 'out/test', l)));
const tapDir = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-test-'));
for (const [i, file] of files.entries()) {
  const tap = join(tapDir, `${i}.tap`);
  const name = relative(root, file);
  const r = await runGroup(
    [
      '--test',
      `--test-timeout=${TEST_TIMEOUT_S * 1000}`,
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      file,
    ],
    FILE_TIMEOUT_S,
  );
  const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
  const num = (k) => Number((text.match(new RegExp(`^# ${k} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
  passed += num('pass');
  let fileFailed = num('fail') + num('cancelled');
  if (r.timedOut) {
    problems.push(
      `${name}: killed after the per-file timeout of ${FILE_TIMEOUT_S} s (with everything it started)`,
    );
    console.log(`runner: ${problems.at(-1)}`);
    fileFailed = Math.max(fileFailed, 1);
  } else if (r.code !== 0 && fileFailed === 0) {
    problems.push(`${name}: exited with ${r.signal ?? `code ${r.code}`} without reporting a failed test`);
    fileFailed = 1;
  }
  failed += fileFailed;
  if (r.code !== 0 || r.timedOut) status = 1;
}

if (layers.includes('vscode')) {
  const runner = join(root, 'out/test/vscode/run.js');
  if (existsSync(runner)) {
    const r = await runGroup([runner], VSCODE_TIMEOUT_S, 'pipe');
    const m = /^vscode: (\d+) passed, (\d+) failed$/m.exec(r.out);
    if (m) {
      passed += Number(m[1]);
      failed += Number(m[2]);
    } else {
      failed += 1;
      problems.push(
        r.timedOut
          ? `the VS Code layer was killed after ${VSCODE_TIMEOUT_S} s`
          : `the VS Code layer ended (${r.signal ?? `code ${r.code}`}) without its summary line`,
      );
    }
    if (r.code !== 0 || r.timedOut) status = 1;
  }
}

if (problems.length) {
  console.log('\nrunner: problems outside individual tests:');
  for (const p of problems) console.log(`- ${p}`);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(status || (failed ? 1 : 0));
