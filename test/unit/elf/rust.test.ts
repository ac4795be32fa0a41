// src/elf on a Rust binary: rustc's DWARF 4 (namespaces, linkage names, dozens of std line programs
// with garbage-collected sequences). Built for the host target (only x86_64 is installed; DWARF line
// tables and DIEs do not depend on the ISA) and checked against the host's objdump.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ElfImage } from '../../../src/elf';
import { ROOT } from './oracle';

const SRC = join(ROOT, 'test/fixtures/elf/rust/main.rs');

function hasTool(name: string): boolean {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Row {
  file: string;
  line: number | undefined;
  address: bigint;
}

const normalize = (p: string) => {
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '..' && out.length && out[out.length - 1] !== '..') out.pop();
    else if (part !== '.' && part !== '') out.push(part);
  }
  return out.join('/');
};

/**
 * Rows of sequences that describe live code. The linker leaves garbage-collected functions' line
 * sequences at address 0, and objdump's decoded view leaves out some of their rows: compare the rest.
 */
function liveRows(rows: Row[]): Row[] {
  const out: Row[] = [];
  let seq: Row[] = [];
  for (const r of rows) {
    seq.push(r);
    if (r.line !== undefined) continue;
    if (!seq.some((x) => x.address < 0x1000n)) out.push(...seq);
    seq = [];
  }
  return out;
}

const tools = hasTool('rustc') && hasTool('objdump');

void describe(
  'ElfImage on a Rust binary (rustc -g, DWARF 4)',
  { skip: tools ? false : 'rustc or host objdump not installed' },
  () => {
    const out = join(ROOT, 'out/fixtures/elf/rust');
    const bin = join(out, 'main');
    let image: ElfImage;

    void test('builds and parses', () => {
      mkdirSync(out, { recursive: true });
      execFileSync('rustc', ['-g', '-C', 'opt-level=0', '-o', bin, SRC], { stdio: 'pipe' });
      image = ElfImage.parse(readFileSync(bin));
      assert.ok(image.compileUnits().length > 1);
    });

    void test('live line-table rows equal objdump --dwarf=decodedline', () => {
      const mine = [...image.lineTables()]
        .sort((a, b) => a.offset - b.offset)
        .flatMap((t) =>
          t.rows.map((r) => ({
            file: t.files[r.file]?.path ?? '',
            line: r.endSequence ? undefined : r.line,
            address: r.address,
          })),
        );
      const text = execFileSync('objdump', ['--wide', '--dwarf=decodedline', bin], {
        encoding: 'utf8',
        maxBuffer: 1 << 30,
      });
      const oracle: Row[] = [];
      for (const l of text.split('\n')) {
        const m = /^(\S+)\s+(\d+|-)\s+(0x[0-9a-f]+)(?:\s+\d+)?(?:\s+x)?\s*$/.exec(l);
        if (m)
          oracle.push({
            file: normalize(m[1]),
            line: m[2] === '-' ? undefined : Number(m[2]),
            address: BigInt(m[3]),
          });
      }
      const a = liveRows(mine);
      const b = liveRows(oracle);
      assert.ok(b.length > 1000, `${b.length} live rows`);
      assert.equal(a.length, b.length);
      for (let i = 0; i < a.length; i++) {
        const x = a[i];
        const y = b[i];
        const same =
          (x.file === y.file || x.file.endsWith(`/${y.file}`)) &&
          x.line === y.line &&
          x.address === y.address;
        if (!same)
          assert.fail(
            `row ${i}: ${x.file}:${x.line} @0x${x.address.toString(16)} vs ${y.file}:${y.line} @0x${y.address.toString(16)}`,
          );
      }
    });

    void test('a method in a module: name, linkage name, lines of its body', () => {
      // Named with its module and impl namespaces, as gdb names it.
      const fn = image.dwarfFunctions().find((f) => f.name === 'main::mmu::Pte::is_valid');
      assert.ok(fn, 'is_valid subprogram');
      assert.match(fn.linkageName ?? '', /3mmu3Pte8is_valid/);
      const nm = execFileSync('nm', [bin], { encoding: 'utf8' });
      const sym = new RegExp(`^([0-9a-f]+) t (${fn.linkageName ?? ''})$`, 'm').exec(nm);
      assert.equal(fn.low, BigInt(`0x${sym?.[1] ?? '0'}`));
      const body =
        readFileSync(SRC, 'utf8')
          .split('\n')
          .findIndex((l) => l.includes('self.0 & 1 != 0')) + 1;
      const at = image.addressesForLine(SRC, body);
      assert.equal(at.length, 1);
      assert.equal(at[0]?.line, body);
      assert.equal(image.functionAt(at[0].address)?.name, 'main::mmu::Pte::is_valid');
      // The symbol's name demangled, as nm -C prints it.
      const demangled = execFileSync('nm', ['-C', bin], { encoding: 'utf8' });
      const sym2 = new RegExp(`^${sym?.[1] ?? 'x'} t (.*)$`, 'm').exec(demangled);
      assert.equal(image.symbolAt(at[0].address)?.name, sym2?.[1]);
      // rustc gives its CUs DW_AT_ranges (.debug_ranges): the CU of the method is found by them.
      assert.equal(image.compileUnitAt(fn.low)?.name.includes('rust/main.rs'), true);
      const cu = image.compileUnits().find((u) => u.name.includes('rust/main.rs'));
      assert.ok(cu && cu.ranges.length > 1, `${cu?.ranges.length} ranges`);
      assert.ok(cu.ranges.some((r) => fn.low >= r.low && fn.low < r.high));
    });

    void test('functions and sequences the linker discarded (left at address 0) are not code of the image', () => {
      const gone = image.dwarfFunctions().filter((f) => f.low === 0n);
      assert.ok(gone.length > 0, 'rustc leaves DIEs of discarded functions');
      for (const f of gone.slice(0, 50)) {
        assert.equal(image.functionAt(f.low + 1n), undefined, f.name);
        assert.equal(image.lineForAddress(f.low + 1n), undefined, f.name);
      }
    });
  },
);
