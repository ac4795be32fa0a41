// src/elf/cfi.ts against binutils: every row of `readelf -wF` (the CFA table readelf interprets from
// the same .eh_frame / .debug_frame) for the -O2 fixture (.eh_frame, GCC's and hand-written CFI in
// the vector stub) and the demo firmware (.debug_frame). readelf is the oracle.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ElfImage } from '../../../src/elf';
import type { CfaRow } from '../../../src/elf/cfi';
import { buildOpt } from '../../harness/opt';
import { ROOT } from './oracle';

interface OracleRow {
  loc: bigint;
  /** First address past this row: the next row's LOC or the FDE's end. */
  end: bigint;
  cfa: string;
  regs: Map<string, string>;
}

/** Rows of `readelf -wF`, one per LOC line, with the FDE's register columns. */
function readelfRows(path: string): OracleRow[] {
  const text = execFileSync('aarch64-linux-gnu-readelf', ['-wF', path], { encoding: 'utf8' });
  const rows: OracleRow[] = [];
  let cols: string[] = [];
  let fdeEnd = 0n;
  let inFde = false;
  for (const line of text.split('\n')) {
    const fde = /FDE cie=\S+ pc=([0-9a-f]+)\.\.([0-9a-f]+)/.exec(line);
    if (fde) {
      inFde = true;
      fdeEnd = BigInt(`0x${fde[2]}`);
      continue;
    }
    if (/ CIE /.test(line)) inFde = false;
    if (/^\s+LOC\s+CFA/.test(line)) {
      cols = line.trim().split(/\s+/).slice(2);
      continue;
    }
    const m = /^([0-9a-f]{16}) (\S+)\s*(.*)$/.exec(line);
    if (!m || !inFde) continue;
    const values = m[3].trim() ? m[3].trim().split(/\s+/) : [];
    const prev = rows[rows.length - 1];
    const loc = BigInt(`0x${m[1]}`);
    if (prev && prev.end === fdeEnd && prev.loc < loc) prev.end = loc;
    rows.push({ loc, end: fdeEnd, cfa: m[2], regs: new Map(cols.map((c, i) => [c, values[i] ?? 'u'])) });
  }
  return rows;
}

const REG = (name: string) => (name === 'ra' ? 30 : name === 'sp' ? 31 : Number(name.replace(/^[xr]/, '')));

function render(row: CfaRow, cols: Iterable<string>): { cfa: string; regs: Map<string, string> } {
  const cfa =
    row.cfa.kind === 'register'
      ? `${row.cfa.register === 31 ? 'sp' : `x${row.cfa.register}`}+${row.cfa.offset}`
      : 'exp';
  const regs = new Map<string, string>();
  for (const c of cols) {
    const r = row.registers.get(REG(c));
    regs.set(
      c,
      !r || r.kind === 'undefined'
        ? 'u'
        : r.kind === 'offset'
          ? `c${r.offset >= 0n ? '+' : ''}${r.offset}`
          : r.kind === 'same'
            ? 's'
            : r.kind === 'register'
              ? `x${r.register}`
              : r.kind === 'valOffset'
                ? `v${r.offset >= 0n ? '+' : ''}${r.offset}`
                : 'exp',
    );
  }
  return { cfa, regs };
}

const cases: [string, () => string][] = [
  ['the -O2 fixture (.eh_frame)', () => buildOpt()],
  ['the demo firmware (.debug_frame)', () => join(ROOT, 'guest/build/demo.elf')],
];

for (const [what, path] of cases) {
  void describe(`call frame information of ${what} against readelf -wF`, () => {
    void test('every CFA row, at its first and last address', (t) => {
      const elf = path();
      if (!existsSync(elf)) return t.skip(`${elf} is not built (make -C guest)`);
      const cfi = ElfImage.parse(new Uint8Array(readFileSync(elf))).callFrameInfo();
      const oracle = readelfRows(elf);
      assert.ok(oracle.length > 5, 'readelf printed CFA rows');
      assert.deepEqual(cfi.errors, []);
      for (const o of oracle) {
        for (const pc of [o.loc, o.end - 4n]) {
          if (pc < o.loc) continue;
          const row = cfi.rowAt(pc);
          assert.ok(row, `no FDE at 0x${pc.toString(16)}`);
          const got = render(row, o.regs.keys());
          assert.equal(got.cfa, o.cfa, `CFA at 0x${pc.toString(16)}`);
          assert.deepEqual(got.regs, o.regs, `registers at 0x${pc.toString(16)}`);
        }
      }
    });
  });
}
