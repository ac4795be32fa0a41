// src/elf's line queries on the -O2 fixture (test/fixtures/opt) against gdb-multiarch on the same ELF:
// the breakpoint locations gdb binds for every source line, and where gdb's `break FUNCTION` puts a
// function's first line (the end of its prologue). gdb is the oracle: nothing here hard-codes an address.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ElfImage } from '../../../src/elf';
import { buildOpt, gdbStatic, optSource } from '../../harness/opt';

const hex = (a: bigint) => `0x${a.toString(16)}`;

interface GdbLocation {
  address: bigint;
  line: number;
}

/** `break opt.c:N` for every line, then `info breakpoints`: the locations per requested line. */
function gdbLocations(elf: string, lines: number[]): Map<number, GdbLocation[]> {
  const out = gdbStatic(elf, [...lines.map((l) => `break opt.c:${l}`), 'info breakpoints']);
  const byNumber = new Map<number, GdbLocation[]>();
  for (const l of out.split('\n')) {
    const m = /^(\d+)(?:\.\d+)?\s.*?\b(0x[0-9a-f]+) in \S+ at \S+:(\d+)\s*$/.exec(l);
    if (!m) continue;
    const n = Number(m[1]);
    const list = byNumber.get(n) ?? [];
    list.push({ address: BigInt(m[2]), line: Number(m[3]) });
    byNumber.set(n, list);
  }
  // Breakpoint numbers follow the `break` commands that succeeded, in order.
  const created: number[] = [];
  for (const l of out.split('\n')) {
    const m = /^Breakpoint (\d+) at /.exec(l);
    if (m) created.push(Number(m[1]));
  }
  const ok = lines.filter((l) => !new RegExp(`No line ${l} in file`).test(out));
  const result = new Map<number, GdbLocation[]>();
  ok.forEach((line, i) => result.set(line, byNumber.get(created[i]) ?? []));
  return result;
}

for (const dwarf of [5, 4] as const)
  void describe(`line tables at -O2 against gdb (test/fixtures/opt, DWARF ${dwarf})`, () => {
    const elf = buildOpt(dwarf);
    const image = ElfImage.parse(new Uint8Array(readFileSync(elf)));
    const lineCount = readFileSync(optSource, 'utf8').split('\n').length;
    const lines = Array.from({ length: lineCount }, (_, i) => i + 1);

    void test('every source line binds where gdb binds it (moved to the next line with code, every location)', () => {
      const oracle = gdbLocations(elf, lines);
      assert.ok(oracle.size > 40, `gdb bound only ${oracle.size} lines`);
      const wrong: string[] = [];
      for (const line of lines) {
        const want = oracle.get(line);
        const got = image.addressesForLine(optSource, line);
        const w = (want ?? []).map((x) => `${x.line}@${hex(x.address)}`).sort();
        const g = got.map((x) => `${x.line}@${hex(x.address)}`).sort();
        if (JSON.stringify(w) !== JSON.stringify(g))
          wrong.push(`line ${line}: gdb [${w.join(' ')}], ours [${g.join(' ')}]`);
      }
      assert.deepEqual(wrong, []);
    });

    void test("a function's first line is where gdb's `break FUNCTION` stops (prologue end from the line table)", () => {
      const names = [
        'leaf',
        'scale',
        'handle_page',
        'sum_points',
        'sync_handler',
        'syscall',
        'run_loop',
        'opt_main',
      ];
      const out = gdbStatic(
        elf,
        names.map((n) => `break ${n}`),
      );
      const found = [...out.matchAll(/^Breakpoint \d+ at (0x[0-9a-f]+): file \S+, line (\d+)\./gm)];
      assert.equal(found.length, names.length, out);
      names.forEach((name, i) => {
        const fn = image.dwarfFunctions().find((f) => f.name === name);
        assert.ok(fn, name);
        const end = image.prologueEnd(fn.low);
        assert.equal(end && hex(end.address), found[i][1], `${name}: prologue end`);
        assert.equal(end?.line, Number(found[i][2]), `${name}: first line`);
      });
    });
  });
