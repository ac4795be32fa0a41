#!/usr/bin/env node
// Runs every compiled benchmark (out/bench/*.bench.js) in turn, each in its own node process, and
// prints its figures. Benchmarks print; they never fail on timing. Exit status is non-zero only if a
// benchmark crashed.
// Usage: node scripts/run-bench.mjs [name-filter ...]   e.g. node scripts/run-bench.mjs gdb
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dir = join(root, 'out', 'bench');
const filters = process.argv.slice(2);
const files = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.bench.js'))
      .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
      .sort()
  : [];
if (files.length === 0) {
  console.error(`run-bench: no benchmarks in ${dir}${filters.length ? ` matching ${filters.join(', ')}` : ''} (run tsc first)`);
  process.exit(1);
}
let crashed = 0;
for (const f of files) {
  console.log(`\n=== ${f} ===`);
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [join(dir, f)], { stdio: 'inherit', cwd: root });
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) {
    crashed++;
    console.log(`=== ${f}: FAILED (exit ${r.status ?? r.signal}) after ${secs} s ===`);
  } else console.log(`=== ${f}: done in ${secs} s ===`);
}
console.log(`\n${files.length - crashed} benchmark(s) ran, ${crashed} failed`);
process.exit(crashed ? 1 : 0);
