// Rust symbol demangling (src/elf/demangle.ts) against binutils' `nm -C` on the Rust fixture, built with
// v0 and with legacy mangling: every symbol of the ELF (the fixture's and core's), demangled by both.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { demangleRust } from '../../../src/elf/demangle';
import { buildRustOpt } from '../../harness/rustOpt';

const NM = `${process.env.CROSS_COMPILE ?? 'aarch64-linux-gnu-'}nm`;

function nm(elf: string, demangle: boolean): string[] {
  const out = execFileSync(NM, [...(demangle ? ['-C'] : []), elf], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(l.indexOf(' ', 17) + 1));
}

for (const mangling of ['v0', 'legacy'] as const)
  void describe(`Rust demangling, ${mangling} symbols, against nm -C`, () => {
    void test('every symbol of the fixture demangles as nm -C prints it', () => {
      const elf = buildRustOpt(mangling);
      const raw = nm(elf, false);
      const want = nm(elf, true);
      assert.equal(raw.length, want.length);
      let rust = 0;
      for (let i = 0; i < raw.length; i++) {
        const mine = demangleRust(raw[i]);
        if (mine !== undefined) rust++;
        assert.equal(mine ?? raw[i], want[i], raw[i]);
      }
      // The fixture's functions and statics and core's: a test that demangled nothing proves nothing.
      assert.ok(rust >= 15, `only ${rust} Rust symbols`);
      if (mangling === 'v0')
        assert.ok(
          raw.some((s) => s.startsWith('_RINv')),
          'a generic instance in v0',
        );
    });
  });

void describe('Rust demangling from the published schemes (examples the fixture does not produce)', () => {
  void test('v0: impls, closures, references, arrays, tuples, fn pointers, dyn, constants, Punycode', () => {
    // RFC 2603's examples and hand-built names, as symbols of an object file for nm -C to read.
    const names = [
      '_RNvNtCs1234_7mycrate3foo3bar',
      '_RNvMs_Cs4Cv8Wi1oAIB_7mycrateNtB4_7Example3foo',
      '_RNCNvCsgStHSCytQ6I_7mycrate4main0B3_',
      '_RINvCs1234_7mycrate3fooRShEB2_',
      '_RINvCs1234_7mycrate3fooAmj4_EB2_',
      '_RINvCs1234_7mycrate3fooThmEEB2_',
      '_RINvCs1234_7mycrate3fooFKCmEuEB2_',
      '_RINvCs1234_7mycrate3fooDNtNtCs5678_4core3fmt5DebugEL_EB2_',
      '_RINvCs1234_7mycrate3fooKj2a_EB2_',
      '_RNvCs1234_7mycrateu8gdel_5qa',
      '_RNvXs_Cs1234_7mycrateNtB4_1SNtNtCs5678_4core5clone5Clone5clone',
    ];
    const dir = mkdtempSync(join(tmpdir(), 'demangle-'));
    const obj = join(dir, 'names.o');
    execFileSync(NM.replace(/nm$/, 'as'), ['-o', obj], {
      input: names.map((n) => `.globl ${n}\n${n}:\n`).join(''),
    });
    const syms = new Map(nm(obj, false).map((raw, i) => [raw, nm(obj, true)[i]] as const));
    rmSync(dir, { recursive: true });
    const want = names.map((n) => syms.get(n));
    assert.deepEqual(
      names.map((n) => demangleRust(n) ?? n),
      want,
    );
  });

  void test('not Rust, or malformed: undefined, never a wrong name', () => {
    for (const n of ['main', '_Z3foov', '_RNvC', '_ZN3fooE_x', '_RB_', '_RINvC3fooE'])
      assert.equal(demangleRust(n), undefined, n);
  });
});
