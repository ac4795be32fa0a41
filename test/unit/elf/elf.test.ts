// src/elf against binutils on real aarch64 ELFs built from test/fixtures/elf (DWARF 4 and 5, -O0 and
// -O2). objdump/nm are the oracle: nothing here hard-codes an address.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ElfFormatError, ElfImage, EM_AARCH64 } from '../../../src/elf';
import { decodedLine, fixture, nmSymbols, ROOT, type OracleRow } from './oracle';

const base = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const mainSource = readFileSync(join(ROOT, 'test/fixtures/elf/main.c'), 'utf8').split('\n');
/** 1-based line number of the first source line containing `text`. */
const lineOf = (text: string) => mainSource.findIndex((l) => l.includes(text)) + 1;

/**
 * The row that covers each address: the last row at an address before the next address, or, when
 * that one is not a statement, the last statement row at the same address (gdb's find_pc_line).
 */
function coveringRows(rows: OracleRow[], preferStatement = true): OracleRow[] {
  const out: OracleRow[] = [];
  for (let i = 0; i + 1 < rows.length; i++) {
    let r = rows[i];
    const next = rows[i + 1];
    if (r.line === undefined || next.address <= r.address) continue;
    for (
      let j = i - 1;
      preferStatement && !r.isStmt && j >= 0 && rows[j].address === r.address && rows[j].line !== undefined;
      j--
    )
      if (rows[j].isStmt) r = rows[j];
    out.push(r);
  }
  return out;
}

const variants = [
  [4, '-O0'],
  [4, '-O2'],
  [5, '-O0'],
  [5, '-O2'],
] as const;

for (const [dwarf, opt] of variants) {
  void describe(`ElfImage on an aarch64 fixture, DWARF ${dwarf} ${opt}`, () => {
    const fx = fixture(dwarf, opt);
    const image = ElfImage.parse(fx.bytes);
    const oracle = decodedLine(fx.path);
    const nm = nmSymbols(fx.path);

    void test('header: EM_AARCH64 and the entry point is _start', () => {
      assert.equal(image.machine, EM_AARCH64);
      assert.equal(image.entry, nm.find((s) => s.name === '_start')?.value);
    });

    void test('every nm symbol is found by name with its value and size', () => {
      const named = nm.filter((s) => !s.name.startsWith('$'));
      assert.ok(named.length >= 6);
      for (const s of named) {
        const e = image.symbolByName(s.name);
        assert.ok(e, `symbol ${s.name}`);
        assert.equal(e.value, s.value, s.name);
        if (s.size !== undefined) assert.equal(e.size, s.size, s.name);
      }
    });

    void test('symbolAt names an address inside each sized text symbol, with the offset', () => {
      for (const s of nm.filter((x) => /[Tt]/.test(x.kind) && x.size && x.size > 4n)) {
        const hit = image.symbolAt(s.value + 4n);
        assert.equal(hit?.symbol.value, s.value, s.name);
        assert.equal(hit.offset, 4n);
      }
      const label = nm.find((s) => s.name === 'asm_label_only')!;
      assert.equal(image.symbolAt(label.value + 4n)?.name, 'asm_label_only', 'unsized assembly label');
    });

    void test('line table rows equal objdump --dwarf=decodedline, row by row', () => {
      const mine = image.lineTables().flatMap((t) =>
        t.rows.map((r) => ({
          file: base(t.files[r.file]?.path ?? ''),
          line: r.endSequence ? undefined : r.line,
          address: r.address,
          isStmt: r.endSequence ? false : r.isStmt,
        })),
      );
      const expected = oracle.map((r) => ({ ...r, isStmt: r.line === undefined ? false : r.isStmt }));
      assert.ok(expected.length > 20);
      assert.deepEqual(mine, expected);
    });

    void test(`line programs are DWARF version ${dwarf}, with absolute paths`, () => {
      for (const t of image.lineTables()) {
        assert.equal(t.version, dwarf);
        for (const f of t.files.slice(1)) assert.ok(f.path.startsWith('/'), f.path);
      }
      assert.ok(image.sourceFiles().includes(join(ROOT, 'test/fixtures/elf/main.c')));
      assert.ok(image.sourceFiles().includes(join(ROOT, 'test/fixtures/elf/asm.S')));
    });

    void test('lineForAddress matches the covering row for every address in the table', () => {
      const rows = coveringRows(oracle);
      for (const r of rows) {
        const loc = image.lineForAddress(r.address);
        assert.equal(loc?.line, r.line, `0x${r.address.toString(16)}`);
        assert.equal(base(loc?.file ?? ''), r.file);
        // One byte further is still the same row.
        assert.equal(image.lineForAddress(r.address + 1n)?.line, r.line);
      }
      assert.equal(image.lineForAddress(0n), undefined);
    });

    void test('isStatement is true exactly at is_stmt row addresses', () => {
      const stmt = new Set(oracle.filter((r) => r.line !== undefined && r.isStmt).map((r) => r.address));
      for (const r of oracle.filter((x) => x.line !== undefined)) {
        assert.equal(image.isStatement(r.address), stmt.has(r.address), `0x${r.address.toString(16)}`);
      }
    });

    void test('lineRangeAt spans the contiguous rows of one line', () => {
      for (const r of coveringRows(oracle, false)) {
        const range = image.lineRangeAt(r.address)!;
        assert.ok(range.start <= r.address && r.address < range.end);
        assert.equal(range.line, r.line);
        // Oracle: the range ends at the first following row of another line or the sequence end.
        const i = oracle.indexOf(r);
        let j = i + 1;
        while (oracle[j].line === r.line && oracle[j].file === r.file) j++;
        assert.equal(range.end, oracle[j].address, `end of line ${r.line} at 0x${r.address.toString(16)}`);
      }
    });

    void test('functionAt uses DWARF subprograms (incl. abstract_origin at -O2)', () => {
      for (const name of ['accumulate', 'helper_add', 'c_main']) {
        const s = nm.find((x) => x.name === name)!;
        const fn = image.functionAt(s.value + 4n);
        assert.equal(fn?.name, name);
        assert.equal(fn.low, s.value);
        assert.equal(fn.high, s.value + s.size!);
        assert.equal(fn.source, 'dwarf');
      }
      const asm = nm.find((x) => x.name === 'asm_double')!;
      assert.equal(image.functionAt(asm.value)?.name, 'asm_double');
    });

    void test('isAssembly: gas CUs are DW_LANG_Mips_Assembler, C ones are not', () => {
      assert.equal(image.isAssembly(nm.find((x) => x.name === 'asm_double')!.value), true);
      assert.equal(image.isAssembly(nm.find((x) => x.name === 'helper_add')!.value), false);
    });

    void test('isAssembly: gas CUs are DW_LANG_Mips_Assembler, C ones are not', () => {
      assert.equal(image.isAssembly(nm.find((x) => x.name === 'asm_double')!.value), true);
      assert.equal(image.isAssembly(nm.find((x) => x.name === 'helper_add')!.value), false);
    });

    void test('compileUnitAt finds the CU of each C function', () => {
      const s = nm.find((x) => x.name === 'helper_add')!;
      assert.equal(base(image.compileUnitAt(s.value)?.name ?? ''), 'util.c');
      const m = nm.find((x) => x.name === 'c_main')!;
      assert.equal(base(image.compileUnitAt(m.value)?.name ?? ''), 'main.c');
    });

    void test('addressesForLine: exact line, moved to the next line with code, path suffix match', () => {
      const mainC = join(ROOT, 'test/fixtures/elf/main.c');
      const firstStmt = (line: number) =>
        oracle.find((r) => r.file === 'main.c' && r.line === line && r.isStmt)?.address;
      const call = lineOf('sink += helper_add');
      const got = image.addressesForLine(mainC, call);
      assert.deepEqual(got, [{ address: firstStmt(call)!, line: call }]);
      // A blank line inside c_main moves to the next line with code.
      const blank = lineOf('sink += helper_add') + 1;
      assert.equal(mainSource[blank - 1].trim(), '');
      const moved = image.addressesForLine(mainC, blank);
      assert.equal(moved[0]?.line, lineOf('sink += asm_double'));
      assert.equal(moved[0]?.address, firstStmt(lineOf('sink += asm_double')));
      // Another checkout of the same tree still matches by the path suffix.
      assert.deepEqual(image.addressesForLine('/elsewhere/test/fixtures/elf/main.c', call), got);
      assert.deepEqual(image.addressesForLine('/elsewhere/nothing.c', call), []);
      // Assembly sources have line rows too.
      const asmRows = oracle.filter((r) => r.file === 'asm.S' && r.line !== undefined);
      const hvcLine = asmRows.find(
        (r) => r.address === nm.find((s) => s.name === 'asm_label_only')!.value,
      )!.line!;
      assert.deepEqual(image.addressesForLine(join(ROOT, 'test/fixtures/elf/asm.S'), hvcLine), [
        { address: nm.find((s) => s.name === 'asm_label_only')!.value, line: hvcLine },
      ]);
    });
  });
}

void describe('DWARF 5 file entries with MD5', () => {
  void test('DW_LNCT_MD5 (data16) per file, as readelf prints the file name table', () => {
    const out = join(ROOT, 'out/fixtures/elf');
    mkdirSync(out, { recursive: true });
    const obj = join(out, 'md5.o');
    const elf = join(out, 'md5.elf');
    execFileSync('aarch64-linux-gnu-as', ['--gdwarf-5', '-o', obj, join(ROOT, 'test/fixtures/elf/md5.s')]);
    execFileSync('aarch64-linux-gnu-ld', ['-e', 'f', '-Ttext=0x40080000', '-o', elf, obj]);
    const text = execFileSync('aarch64-linux-gnu-readelf', ['--debug-dump=line', elf], { encoding: 'utf8' });
    const want = new Map<string, string>();
    for (const m of text.matchAll(/^\s+\d+\s+\d+\s+0x([0-9a-f]+)\s.*:\s(\S+)$/gm)) want.set(m[2], m[1]);
    assert.equal(want.size, 2);
    const table = ElfImage.parse(new Uint8Array(readFileSync(elf))).lineTables()[0];
    for (const f of table.files) {
      // readelf prints the data16 value as a little-endian 128-bit number.
      const hex = Buffer.from(f.md5 ?? [])
        .reverse()
        .toString('hex')
        .replace(/^0+/, '');
      assert.equal(hex, want.get(f.path.slice(f.path.lastIndexOf('/') + 1)), f.path);
    }
    assert.deepEqual(
      table.files.map((f) => f.path),
      ['/src/tree/md5.c', '/src/tree/md5.c', '/src/tree/include/hdr.h'],
    );
  });
});

void describe('ElfImage keeps what it can read', () => {
  void test('one unreadable compile unit costs only its own functions and lines', () => {
    const fx = fixture(5, '-O0');
    const good = ElfImage.parse(fx.bytes);
    const util = good.compileUnits().find((u) => u.name.endsWith('util.c'))!;
    const info = good.elf.section('.debug_info')!;
    const bytes = fx.bytes.slice();
    // The unit's first DIE follows its 12-byte DWARF 5 header: give it an abbreviation code that
    // .debug_abbrev does not define.
    bytes[info.offset + util.offset + 12] = 0x7f;
    const bad = ElfImage.parse(bytes);
    assert.equal(bad.debugErrors.length, 1);
    assert.match(bad.debugErrors[0] ?? '', /unknown abbreviation 127/);
    assert.equal(bad.compileUnits().length, good.compileUnits().length - 1);
    const nm = nmSymbols(fx.path);
    const acc = nm.find((x) => x.name === 'accumulate')!.value;
    assert.equal(bad.functionAt(acc)?.source, 'dwarf');
    assert.equal(bad.lineForAddress(acc)?.line, good.lineForAddress(acc)?.line);
    const helper = nm.find((x) => x.name === 'helper_add')!.value;
    assert.equal(bad.functionAt(helper)?.source, 'symtab');
    assert.equal(good.debugErrors.length, 0);
  });
});

void describe('ElfImage rejects what it cannot read', () => {
  void test('not an ELF, a 32-bit ELF, a truncated one', () => {
    assert.throws(() => ElfImage.parse(new TextEncoder().encode('#!/bin/sh\n'.repeat(10))), ElfFormatError);
    const fx = fixture(5, '-O0');
    const elf32 = fx.bytes.slice();
    elf32[4] = 1;
    assert.throws(() => ElfImage.parse(elf32), /64-bit/);
    assert.throws(() => ElfImage.parse(fx.bytes.subarray(0, 200)), ElfFormatError);
  });
});
