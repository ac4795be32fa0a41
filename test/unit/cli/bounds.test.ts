// The CLI on crafted snapshots (issue #10): bounded memory under a small heap, capped diagnostics
// with a summary, and every failure one line on stderr with exit 1 (never a stack trace).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PhysImage } from '../../../src/aarch64';
import { makeSnapshot } from '../../../src/analysis';
import { main } from '../../../src/cli/run';
import type { JsonReport } from '../../../src/pvmfw';
import { cycle48, fanOut39, fanOut48 } from '../aarch64/boundsFixtures';

const cli = resolve(__dirname, '../../../src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-bounds-'));

function save(name: string, f: { mem: PhysImage; regs: Record<string, bigint> }): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(makeSnapshot(f.regs, f.mem, { source: 'bounds test' })));
  return file;
}

function saveJson(name: string, json: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof json === 'string' ? json : JSON.stringify(json));
  return file;
}

/** The CLI as a child with a 512 MB heap (the fan-out snapshot used to need 4.3 GB and abort). */
function child(args: string[]): {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
} {
  const r = spawnSync(process.execPath, ['--max-old-space-size=512', cli, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 64 * 2 ** 20,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

void describe('CLI bounds on crafted table graphs', () => {
  void test('walk of a 512-way fan-out at every level: exit 0 under 512 MB, a capped list and a summary', () => {
    const r = child(['walk', '--snapshot', save('fanout.json', fanOut48())]);
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trimEnd().split('\n');
    assert.ok(lines.length < 200, `${lines.length} lines`);
    assert.match(r.stdout, /^diagnostics \([\d,]{9,}, 100 listed\):$/m);
    assert.equal(lines.filter((l) => l.startsWith('  tableCap ')).length, 100);
    assert.match(
      r.stdout,
      /^ {2}… and [\d,]+ more diagnostics of kind tableCap \(the first at TTBR0_EL1 level \d 0x/m,
    );
    assert.match(lines[lines.length - 1], /raise --max-tables/);
  });

  void test('walk --json and guard on cyclic tables: anomalies capped, the summary among them', async () => {
    const file = save('cycle.json', cycle48());
    let out = '';
    assert.equal(await main(['walk', '--snapshot', file, '--json'], (s) => (out += s)), 0);
    const j = JSON.parse(out) as JsonReport;
    assert.equal(j.anomalies.length, 101);
    assert.match(j.anomalies[100].message, /^… and 262,044 more diagnostics of kind cycle/);
    out = '';
    assert.equal(await main(['guard', '--snapshot', file], (s) => (out += s)), 3);
    assert.equal(out.match(/^ {2}anomaly walkError: /gm)?.length, 101);
    assert.match(out, /anomaly walkError: … and 262,044 more diagnostics of kind cycle/);
  });

  void test('walk --json streams a large leaf list as valid JSON', async () => {
    const file = save('fanout39.json', fanOut39());
    let out = '';
    const chunks: number[] = [];
    const code = await main(['walk', '--snapshot', file, '--json', '--max-tables', '600'], (s) => {
      chunks.push(s.length);
      out += s;
    });
    assert.equal(code, 0);
    const j = JSON.parse(out) as JsonReport;
    // Root + 512 level-2 tables, then 87 level-3 tables of 512 pages before the cap.
    assert.equal(j.leaves.length, 87 * 512);
    assert.equal(j.stats.leaves, 87 * 512);
    assert.ok(chunks.length > 10, 'written in pieces');
    assert.ok(
      chunks.every((n) => n < out.length / 4),
      'no piece holds the whole report',
    );
  });
});

void describe('CLI failures are one line on stderr', () => {
  const oneLine = (r: { status: number | null; stderr: string }, message: string): void => {
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `pvmfw-mmu: ${message}\n`);
  };
  const snap = (over: Record<string, unknown>) => ({
    format: 'pvmfw-mmu-snapshot',
    version: 1,
    created: '2024-01-01T00:00:00.000Z',
    registers: {},
    memory: [],
    ...over,
  });

  void test('invalid snapshots name the field, the problem and the file', () => {
    let f = saveJson('null-run.json', snap({ memory: [null] }));
    oneLine(
      child(['walk', '--snapshot', f]),
      `snapshot memory[0]: expected an object with address and data, got null (in ${f})`,
    );
    const ok = { address: '0x1000', data: 'AAAAAAAAAAA=' };
    f = saveJson('b64.json', snap({ memory: [ok, ok, ok, { address: '0x9000', data: 'not base64!' }] }));
    oneLine(
      child(['walk', '--snapshot', f]),
      `snapshot memory[3].data: not valid base64 (length 11 is not a multiple of 4) (in ${f})`,
    );
    f = saveJson('version.json', snap({ version: '1' }));
    oneLine(
      child(['walk', '--snapshot', f]),
      `snapshot version: expected a number, got the string "1" (in ${f})`,
    );
    f = saveJson('truncated.json', '{"format": "pvmfw-mmu-snapshot", "memory": [');
    const r = child(['walk', '--snapshot', f]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`^pvmfw-mmu: snapshot: not JSON \\(nor gzip\\): .+ \\(in ${f}\\)\n$`));
  });

  void test('an unwritable snapshot output: one line, exit 1', () => {
    const f = save('for-copy.json', cycle48());
    const out = join(dir, 'no-such-dir', 'x.json');
    const r = child(['snapshot', '--snapshot', f, '-o', out]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`^pvmfw-mmu: cannot write snapshot ${out}: ENOENT[^\n]*\n$`));
  });

  void test('a reader that closes the pipe early (| head) ends the run quietly', () => {
    const f = save('leaves.json', fanOut39());
    const r = spawnSync(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${cli}" walk --leaves --max-tables 600 --snapshot "${f}" | head -1; echo "\${PIPESTATUS[0]}" >&2`,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.match(r.stdout, /^regime el1 /);
    assert.equal(r.stderr, '0\n', 'no stack trace, exit 0');
  });
});
