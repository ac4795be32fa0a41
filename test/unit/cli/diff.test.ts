// `pvmfw-mmu diff A B` on crafted snapshots of a pvmfw-like stop: one test per kind of difference
// (an entry's fields, a split, a merge, guard-state transitions, regions, anomalies, guard calls
// and a wrapped or restarted log), the text a firmware engineer reads, and the failures.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { encodeSnapshot, type StopDiff } from '../../../src/analysis';
import { main, UsageError } from '../../../src/cli/run';
import { DATA_PAGE, DEVICE_PAGE, LAZY_BLOCK, LAZY_PAGE, TABLE } from '../aarch64/fixtures';
import { BOOT_CALLS, stopSnapshot, type StopOptions } from '../analysis/stopFixtures';

const cli = resolve(__dirname, '../../../src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-diff-'));
let n = 0;

function file(o: StopOptions, extra: Record<string, unknown> = {}): string {
  const path = join(dir, `s${n++}.snap.gz`);
  writeFileSync(path, encodeSnapshot({ ...stopSnapshot(o), ...extra }));
  return path;
}

type DiffJson = StopDiff & {
  a: { file: string; pc: string | null };
  b: { file: string; pc: string | null };
  sameProgram: boolean | null;
  warnings: string[];
};

async function diff(a: StopOptions, b: StopOptions): Promise<{ json: DiffJson; text: string }> {
  const fa = file(a);
  const fb = file(b);
  let out = '';
  assert.equal(await main(['diff', fa, fb, '--json'], (s) => (out += s)), 0);
  const json = JSON.parse(out) as DiffJson;
  let text = '';
  assert.equal(await main(['diff', fa, fb], (s) => (text += s)), 0);
  return { json, text };
}

const MAP_RTC: StopOptions['calls'] = [...BOOT_CALLS, { fn: 'MAP', arg: 0x900_1000n }];
/** The tracked page 0x9001000 after pvmfw's fault handler: valid, MMIO_GUARD_MAPped. */
const mapped: StopOptions = {
  calls: MAP_RTC,
  mutate: (f) => f.t.set(f.l3dev, 1, DEVICE_PAGE | 0x900_1000n),
};
/** The lazy 2 MiB block at 0xa000000 split, its first page mapped. */
function split(f: Parameters<NonNullable<StopOptions['mutate']>>[0]): void {
  const l2dev = f.t.mem.readSync(f.l1, 8) as Uint8Array;
  const l2 = new DataView(l2dev.buffer, l2dev.byteOffset).getBigUint64(0, true) & ~0xfffn;
  const l3 = f.t.table();
  for (let i = 0; i < 512; i++) f.t.set(l3, i, LAZY_PAGE | (0xa00_0000n + BigInt(i) * 0x1000n));
  f.t.set(l3, 0, DEVICE_PAGE | 0xa00_0000n);
  f.t.set(l2, 80, l3 | TABLE);
}

void describe('pvmfw-mmu diff', () => {
  void test('a lazy page made valid and guard-mapped: VALID 0->1, lazy -> guardMapped, MAP between', async () => {
    const { json, text } = await diff({}, mapped);
    assert.deepEqual(
      json.entries.map((c) => [c.kind, c.regime, c.level, c.vaStart, c.changedFields?.map((x) => x.name)]),
      [['becameValid', 'TTBR0_EL1', 3, '0x9001000', ['VALID']]],
    );
    assert.deepEqual(json.entries[0].changedFields, [
      { name: 'VALID', msb: 0, lsb: 0, before: '0x0', after: '0x1' },
    ]);
    assert.deepEqual(json.guard.transitions, [
      { start: '0x9001000', pages: 1, from: 'lazy', to: 'guardMapped' },
    ]);
    assert.deepEqual(
      json.guard.calls.map((c) => [c.seq, c.fn, c.arg, c.result]),
      [[4, 'MAP', '0x9001000', '0']],
    );
    assert.equal(json.guard.callsLost, 0);
    assert.deepEqual(json.entryCounts, { becameValid: 1 });
    assert.match(text, /^A: .*s\d+\.snap\.gz, taken .* from unit test; pc 0x80200100\n/);
    assert.match(
      text,
      /translation tables: 1 entry changed \(1 becameValid\)\n {2}TTBR0_EL1 L3 4 KiB entry at 0x09001000 became valid \(0x00e0000009001402 → 0x00e0000009001403\) @ 0x80102008\n {6}VALID 0 → 1\n/,
    );
    assert.match(text, /MMIO guard pages:\n {2}0x09001000 \(1 page\): untouched \(lazy\) → guard-mapped\n/);
    assert.match(text, /guard calls between A and B \(#4\):\n {2}#4 MAP\(0x09001000\) = 0\n/);
    assert.match(text, /tracked regions: no change\nanomalies: none new, none resolved\n$/);
  });

  void test('a lazy 2 MiB block split into a table, and the table merged back', async () => {
    const after = { calls: [...BOOT_CALLS, { fn: 'MAP' as const, arg: 0xa00_0000n }], mutate: split };
    const { json, text } = await diff({}, after);
    assert.deepEqual(
      json.entries.map((c) => [c.kind, c.level, c.vaStart]),
      [
        ['split', 2, '0xa000000'],
        ['becameValid', 3, '0xa000000'],
      ],
    );
    const names = json.entries[0].changedFields?.map((x) => x.name);
    assert.deepEqual(names, ['VALID', 'TYPE', 'AF', 'OA/next-level table', 'PXN', 'UXN', 'LAZY']);
    assert.equal(json.entries[1].changedFields, undefined, 'a page of a new table has no before');
    assert.deepEqual(json.guard.transitions, [
      { start: '0xa000000', pages: 1, from: 'lazy', to: 'guardMapped', region: 'virtio-mmio' },
    ]);
    assert.match(
      text,
      /L2 2 MiB block at 0x0a000000 split into a table .*\n {6}VALID 0 → 1, TYPE 0 → 1, AF 1 → 0, OA\/next-level table 0xa000000 → 0x80105000, PXN 1 → 0, UXN 1 → 0, LAZY 1 → 0\n/,
    );
    assert.match(text, /\(entry of a table that did not exist at A\)/);
    const back = await diff(after, {});
    assert.deepEqual(
      back.json.entries.map((c) => [c.kind, c.level, c.vaStart]),
      [['merged', 2, '0xa000000']],
    );
    assert.equal(back.json.guard.logRestarted, true, "A's log is longer than B's");
    assert.match(back.text, /guard calls: B's log holds fewer calls than A's/);
  });

  void test('mmio_unmap_all: guardMapped -> unmapped with the UNMAP between', async () => {
    const unmapped: StopOptions = {
      calls: [...MAP_RTC, { fn: 'UNMAP', arg: 0x900_1000n }],
      mutate: mapped.mutate!,
    };
    const { json } = await diff(mapped, unmapped);
    assert.deepEqual(json.entries, [], 'stage 1 keeps the page valid');
    assert.deepEqual(json.guard.transitions, [
      { start: '0x9001000', pages: 1, from: 'guardMapped', to: 'unmapped' },
    ]);
    assert.deepEqual(
      json.guard.calls.map((c) => `${c.fn}(${c.arg})`),
      ['UNMAP(0x9001000)'],
    );
  });

  void test('attribute and validity changes name their fields (AP[2:1], AF, VALID)', async () => {
    const { json, text } = await diff(
      {},
      {
        mutate: (f) => {
          f.t.set(f.l3img, 3, (DATA_PAGE | 0x8020_3000n | 0x80n) & ~0x400n); // read-only, AF clear
          f.t.set(f.l3img, 4, (DATA_PAGE | 0x8020_4000n) & ~1n); // VALID cleared
          f.t.set(f.l3img, 1, DATA_PAGE | 0x8030_1000n); // code page remapped elsewhere as data
        },
      },
    );
    const byVa = Object.fromEntries(
      json.entries.map((c) => [
        c.vaStart,
        [c.kind, c.changedFields?.map((x) => `${x.name} ${x.before}->${x.after}`)],
      ]),
    );
    assert.deepEqual(byVa['0x80203000'], ['modified', ['AP[2:1] 0x0->0x2', 'AF 0x1->0x0']]);
    assert.deepEqual(byVa['0x80204000'], ['becameInvalid', ['VALID 0x1->0x0']]);
    assert.deepEqual(byVa['0x80201000'], [
      'modified',
      ['AP[2:1] 0x2->0x0', 'OA 0x80201000->0x80301000', 'PXN 0x0->0x1', 'UXN 0x0->0x1'],
    ]);
    assert.match(text, /AP\[2:1\] 0b00 → 0b10, AF 1 → 0/);
    assert.match(text, /OA 0x80201000 → 0x80301000/);
  });

  void test('tracked regions added and removed, with the transitions of their pages', async () => {
    const { json, text } = await diff(
      {},
      {
        regions: [
          [0x900_1000n, 0x900_2000n],
          [0x902_0000n, 0x902_1000n],
        ],
        mutate: (f) => f.t.set(f.l3dev, 32, LAZY_PAGE | 0x902_0000n),
      },
    );
    assert.deepEqual(
      json.guard.regionsAdded.map((r) => [r.start, r.end, r.name]),
      [['0x9020000', '0x9021000', 'fw_cfg']],
    );
    assert.deepEqual(
      json.guard.regionsRemoved.map((r) => [r.start, r.end, r.name]),
      [['0xa000000', '0xa200000', 'virtio-mmio']],
    );
    assert.deepEqual(json.guard.transitions, [
      { start: '0x9020000', pages: 1, from: 'untracked', to: 'lazy', region: 'fw_cfg' },
      { start: '0xa000000', pages: 512, from: 'lazy', to: 'untracked', region: 'virtio-mmio' },
    ]);
    assert.match(
      text,
      /tracked regions:\n {2}added fw_cfg 0x09020000–0x09020fff · 1 page\n {2}removed virtio-mmio 0x0a000000–0x0a1fffff · 512 pages\n/,
    );
  });

  void test('anomalies new at B, and resolved when diffed the other way', async () => {
    const broken: StopOptions = {
      mutate: (f) => {
        const l2 =
          new DataView((f.t.mem.readSync(f.l1, 8) as Uint8Array).slice().buffer).getBigUint64(0, true) &
          ~0xfffn;
        f.t.set(l2, 80, LAZY_BLOCK | 1n | 0xa00_0000n); // scenario a: a valid lazy block
      },
    };
    const { json, text } = await diff({}, broken);
    assert.deepEqual(
      json.anomalies.new.map((a) => [a.code, a.severity, a.va]),
      [
        ['lazyNotPage', 'error', '0xa000000'],
        ['validUnguarded', 'error', '0xa000000'],
      ],
    );
    assert.deepEqual(json.anomalies.resolved, []);
    assert.match(text, /anomalies:\n {2}new error lazyNotPage: valid lazy-flagged L2 block at 0x0a000000/);
    const back = await diff(broken, {});
    assert.deepEqual(
      back.json.anomalies.resolved.map((a) => a.code),
      ['lazyNotPage', 'validUnguarded'],
    );
    assert.match(back.text, /resolved lazyNotPage: /);
  });

  void test('guard calls by sequence number: a wrapped ring says how many were lost', async () => {
    const many = Array.from({ length: 7 }, (_, k) => ({
      fn: 'MAP' as const,
      arg: 0x1000_0000n + BigInt(k) * 0x1000n,
    }));
    const { json, text } = await diff({}, { calls: [...BOOT_CALLS, ...many], capacity: 4 });
    assert.deepEqual(
      json.guard.calls.map((c) => c.seq),
      [7, 8, 9, 10],
    );
    assert.equal(json.guard.callsLost, 3);
    assert.match(
      text,
      /guard calls between A and B \(#7\.\.#10\):\n {2}3 earlier calls lost: the log ring wrapped\n/,
    );
  });

  void test('registers that changed, PC first; the same snapshot twice is no change at all', async () => {
    const { json } = await diff({}, { pc: 0x8020_0200n });
    assert.deepEqual(json.registers, [{ name: 'pc', before: '0x80200100', after: '0x80200200' }]);
    const same = file({});
    let text = '';
    assert.equal(await main(['diff', same, same], (s) => (text += s)), 0);
    assert.match(
      text,
      /registers: no change\ntranslation tables: no change\nMMIO guard pages: no change\nguard calls between A and B: none\n/,
    );
  });

  void test('snapshots of different programs: a warning, still a diff', async () => {
    const p = (c: string) => ({ program: { name: 'demo.elf', sha256: c.repeat(64) } });
    const fa = join(dir, 'pa.snap.gz');
    const fb = join(dir, 'pb.snap.gz');
    writeFileSync(fa, encodeSnapshot({ ...stopSnapshot({}), ...p('a') }));
    writeFileSync(fb, encodeSnapshot({ ...stopSnapshot(mapped), ...p('b') }));
    let out = '';
    assert.equal(await main(['diff', fa, fb, '--json'], (s) => (out += s)), 0);
    const j = JSON.parse(out) as DiffJson;
    assert.equal(j.sameProgram, false);
    assert.match(
      j.warnings[0],
      /A and B were taken of different programs: demo\.elf \(sha256 aaaaaaaa…aaaa\)/,
    );
    assert.equal(j.entries.length, 1);
  });

  void test('usage and bad files: exit 2 and exit 1 with one clear line', async () => {
    await assert.rejects(main(['diff', 'a']), UsageError);
    await assert.rejects(main(['diff', 'a', 'b', '--snapshot', 'c']), /diff reads the two snapshots/);
    const good = file({});
    const corrupt = join(dir, 'corrupt.gz');
    writeFileSync(corrupt, Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 4]));
    const notJson = join(dir, 'text.json');
    writeFileSync(notJson, 'hello');
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [cli, 'diff', ...args], { encoding: 'utf8' });
    const missing = run(good, join(dir, 'nope.gz'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /^pvmfw-mmu: cannot read snapshot .*nope\.gz: ENOENT/);
    const bad = run(good, corrupt);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^pvmfw-mmu: snapshot: corrupt gzip data \(.*\) \(in .*corrupt\.gz\)\n$/);
    const text = run(notJson, good);
    assert.equal(text.status, 1);
    assert.match(text.stderr, /^pvmfw-mmu: snapshot: not JSON \(nor gzip\): .* \(in .*text\.json\)\n$/);
    const usage = run(good);
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /diff expects two snapshot files/);
    const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' });
    assert.match(help.stdout, /pvmfw-mmu diff A B \[--json\] \[--elf FILE\]/);
  });
});
