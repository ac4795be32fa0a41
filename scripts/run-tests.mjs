#!/usr/bin/env node
// Runs every test layer that exists: unit, qemu, dap (node:test over the compiled tests in out/test),
// then the layer inside real VS Code (test/vscode, mocha in code-server's extension host) when present.
// Ends with one plain line `N passed, N failed` that sums all layers, so a run that executed nothing
// shows as `0 passed, 0 failed`.
// Usage: node scripts/run-tests.mjs [layer ...]   (layers: unit qemu dap vscode; default all)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, mkdtempSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const all = ['unit', 'qemu', 'dap', 'vscode'];
const layers = process.argv.slice(2).length ? process.argv.slice(2) : all;
for (const l of layers) if (!all.includes(l)) throw new Error(`unknown test layer '${l}' (expected ${all.join(', ')})`);

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

let passed = 0;
let failed = 0;
let status = 0;

const nodeLayers = layers.filter((l) => l !== 'vscode');
const files = nodeLayers.flatMap((l) => testFiles(join(root, 'out/test', l)));
if (files.length) {
  const tap = join(mkdtempSync(join(tmpdir(), 'pvmfw-mmu-test-')), 'results.tap');
  const r = spawnSync(
    process.execPath,
    [
      '--test',
      '--test-concurrency=1',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...files,
    ],
    { stdio: 'inherit', cwd: root },
  );
  const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
  const num = (k) => Number((text.match(new RegExp(`^# ${k} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
  passed += num('pass');
  failed += num('fail') + num('cancelled');
  if (r.status !== 0) status = 1;
}

if (layers.includes('vscode')) {
  const runner = join(root, 'out/test/vscode/run.js');
  if (existsSync(runner)) {
    const r = spawnSync(process.execPath, [runner], { stdio: ['ignore', 'pipe', 'inherit'], cwd: root, encoding: 'utf8' });
    process.stdout.write(r.stdout ?? '');
    const m = /^vscode: (\d+) passed, (\d+) failed$/m.exec(r.stdout ?? '');
    if (m) {
      passed += Number(m[1]);
      failed += Number(m[2]);
    } else failed += 1;
    if (r.status !== 0) status = 1;
  }
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(status || (failed ? 1 : 0));
