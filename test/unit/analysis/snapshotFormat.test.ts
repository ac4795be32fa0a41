// Snapshot format version 2 (docs/snapshot.md): gzip-compressed JSON written, gzip or plain JSON
// read, version 1 files still loaded, newer versions refused with a message, the program's identity
// and symbols (sizes, kinds, duplicate names) recorded so a replay names addresses as the live
// session did.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PhysImage } from '../../../src/aarch64';
import {
  encodeSnapshot,
  isGzip,
  loadSnapshot,
  makeSnapshot,
  parseSnapshotBytes,
  SNAPSHOT_VERSION,
  SnapshotError,
} from '../../../src/analysis';
import { SymbolTable } from '../../../src/elf';
import { main } from '../../../src/cli/run';
import { stopSnapshot } from './stopFixtures';
import { buildIdElf } from './programFixture';

const dir = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-snapshot-'));

function message(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof SnapshotError, `not a SnapshotError: ${String(e)}`);
    return e.message;
  }
  assert.fail('did not throw');
}

void describe('snapshot format version 2', () => {
  void test('written as gzip-compressed JSON and read back to the same inputs', () => {
    const img = new PhysImage();
    img.write64(0x4000_0000n, 0x1234_5678_9abc_def0n);
    const symbols = [
      { name: 'guard_log', address: 0x4020_0000n, size: 0x820n, isFunction: false },
      { name: 'mmio_read32', address: 0x4008_0100n, size: 0x18n, isFunction: true },
      { name: 'helper', address: 0x4008_0200n, size: 8n, isFunction: true },
      { name: 'helper', address: 0x4008_0300n, size: 8n, isFunction: true },
    ];
    const program = { name: 'demo.elf', sha256: 'ab'.repeat(32), buildId: '0123abcd' };
    const snap = makeSnapshot({ TCR_EL1: 0x1fn, pc: 0x4008_0104n, x0: undefined }, img, {
      source: 'unit',
      symbols,
      program,
    });
    assert.equal(snap.version, SNAPSHOT_VERSION);
    assert.equal(SNAPSHOT_VERSION, 2);
    const bytes = encodeSnapshot(snap);
    assert.ok(isGzip(bytes), 'starts with 1f 8b');
    const back = loadSnapshot(parseSnapshotBytes(bytes));
    assert.deepEqual(back.registers, { TCR_EL1: 0x1fn, pc: 0x4008_0104n }, 'unreadable registers left out');
    assert.deepEqual(back.program, program);
    assert.equal(back.version, 2);
    assert.deepEqual(back.symbols, symbols);
    assert.deepEqual(back.image.readSync(0x4000_0000n, 8), img.readSync(0x4000_0000n, 8));
    // What the replay asks of the symbols: the same answers as the ELF's table.
    const live = new SymbolTable(symbols);
    const replay = new SymbolTable(back.symbols);
    for (const a of [0x4008_0104n, 0x4008_0118n, 0x4008_0304n, 0x4020_0010n])
      assert.equal(replay.describe(a), live.describe(a), `describe(0x${a.toString(16)})`);
  });

  void test('plain JSON still loads (what version 1 wrote, and hand-edited files)', () => {
    const plain = encodeSnapshot(stopSnapshot(), { gzip: false });
    assert.equal(plain[0], '{'.charCodeAt(0));
    const s = loadSnapshot(parseSnapshotBytes(plain));
    assert.ok(s.symbols.some((x) => x.name === 'guard_log'));
  });

  void test('a version 1 file loads: its symbols are a name -> address object', () => {
    const v1 = {
      format: 'pvmfw-mmu-snapshot',
      version: 1,
      created: '2024-01-01T00:00:00.000Z',
      source: 'gdb 127.0.0.1:1234',
      registers: { TTBR0_EL1: '0x40241000', TCR_EL1: '0x680803519' },
      symbols: { guard_log: '0x40200000' },
      memory: [{ address: '0x40241000', data: Buffer.alloc(8).toString('base64') }],
    };
    for (const bytes of [Buffer.from(JSON.stringify(v1, null, 1)), gzipSync(JSON.stringify(v1))]) {
      const s = loadSnapshot(parseSnapshotBytes(bytes));
      assert.equal(s.version, 1);
      assert.equal(s.program, undefined);
      assert.deepEqual(s.symbols, [
        { name: 'guard_log', address: 0x4020_0000n, size: 0n, isFunction: false },
      ]);
      assert.equal(s.registers.TCR_EL1, 0x6_8080_3519n);
    }
  });

  void test('a newer version is refused with a message that says so', () => {
    const v3 = { ...stopSnapshot(), version: 3 };
    assert.equal(
      message(() => loadSnapshot(parseSnapshotBytes(encodeSnapshot(v3)))),
      'snapshot version: 3 is newer than this tool reads (up to 2): a newer pvmfw-mmu wrote it',
    );
  });

  void test('program, symbols and the container are validated', () => {
    const base = stopSnapshot();
    const load = (over: Record<string, unknown>) => () => loadSnapshot({ ...base, ...over });
    assert.equal(
      message(load({ program: { name: 'x.elf', sha256: 'AB' } })),
      'snapshot program.sha256: expected 64 lowercase hex digits, got the string "AB"',
    );
    assert.equal(
      message(load({ program: { name: '', sha256: 'a'.repeat(64) } })),
      'snapshot program.name: expected a file name, got the string ""',
    );
    assert.equal(
      message(load({ program: { name: 'x', sha256: 'a'.repeat(64), buildId: 'xyz' } })),
      'snapshot program.buildId: expected lowercase hex bytes, got the string "xyz"',
    );
    assert.equal(
      message(load({ symbols: [{ name: 'a', address: 5 }] })),
      'snapshot symbols[0].address: expected a hex string like "0x40080000", got the number 5',
    );
    assert.equal(
      message(load({ symbols: [{ name: 'a', address: '0x1', function: 'yes' }] })),
      'snapshot symbols[0].function: expected true or nothing, got the string "yes"',
    );
    assert.match(
      message(() => parseSnapshotBytes(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]))),
      /^snapshot: corrupt gzip data \(/,
    );
    assert.equal(
      message(() => parseSnapshotBytes(gzipSync(Buffer.alloc(4096, 0x20)), 1024)),
      'snapshot: decompresses to more than the 0 MiB of JSON this tool reads',
    );
    assert.match(
      message(() => parseSnapshotBytes(gzipSync('{"a":'))),
      /^snapshot: not JSON inside the gzip data: /,
    );
  });

  void test('`snapshot --elf` records the program: name, sha256, GNU build id; output is gzip', async () => {
    const elf = buildIdElf();
    const src = join(dir, 'v1.json');
    writeFileSync(src, JSON.stringify({ ...stopSnapshot(), version: 1, symbols: undefined }));
    const out = join(dir, 'with-program.snap.gz');
    let text = '';
    const code = await main(
      ['snapshot', '--snapshot', src, '--elf', elf.path, '--guard-log', '0x80300000', '-o', out],
      (s) => (text += s),
    );
    assert.equal(code, 0);
    const bytes = readFileSync(out);
    assert.ok(isGzip(bytes));
    const s = loadSnapshot(parseSnapshotBytes(bytes));
    assert.deepEqual(s.program, {
      name: 'buildid.elf',
      sha256: createHash('sha256').update(readFileSync(elf.path)).digest('hex'),
      buildId: elf.buildId,
    });
    assert.match(
      text,
      /program buildid\.elf \(sha256 [0-9a-f]{8}…[0-9a-f]{4}, build id [0-9a-f]{8}…[0-9a-f]{4}\)/,
    );
    assert.match(text, new RegExp(`-> ${out.replace(/[.]/g, '\\.')} \\(\\d+\\.\\d KiB gzip\\)`));
    // A snapshot of that snapshot keeps the program without --elf.
    const again = join(dir, 'again.snap.gz');
    assert.equal(await main(['snapshot', '--snapshot', out, '-o', again], () => undefined), 0);
    assert.deepEqual(loadSnapshot(parseSnapshotBytes(readFileSync(again))).program, s.program);
  });
});
