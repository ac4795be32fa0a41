// Rust types and values (src/elf/types.ts, values.ts) against gdb-multiarch on the Rust fixture's ELF
// (`set language rust`, no target: gdb reads initialized statics from the file, and so does this test):
// `whatis` and `p` of every static: structs, a C-like enum, an enum with data variants
// (DW_TAG_variant_part), arrays, `&str`.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ElfImage } from '../../../src/elf';
import { typeName } from '../../../src/elf/types';
import { activeVariant, formatValue, type FormatContext } from '../../../src/elf/values';
import { gdbStatic } from '../../harness/opt';
import { buildRustOpt } from '../../harness/rustOpt';

for (const mangling of ['v0', 'legacy'] as const)
  void describe(`Rust types and values against gdb (ELF only, ${mangling} symbols)`, () => {
    const elf = buildRustOpt(mangling);
    const image = ElfImage.parse(new Uint8Array(readFileSync(elf)));
    const program = image.scopes()!;
    const read = (a: bigint, n: number) => {
      const b = image.bytesAt(a, n);
      if (!b) return Promise.reject(new Error(`0x${a.toString(16)} is not in the file`));
      return Promise.resolve(b);
    };
    const fmt: FormatContext = { read, symbolFor: () => undefined };
    const frame = { pc: 0n, register: () => undefined, read };
    const statics = () => program.globals().filter((g) => g.name.startsWith('rust_opt::'));

    void test('the statics are named with their module, as gdb names them', () => {
      const names = statics().map((g) => g.name);
      for (const n of ['TABLE', 'REGIONS', 'GREETING', 'SINK', 'SHAPE'])
        assert.ok(names.includes(`rust_opt::${n}`), `rust_opt::${n} in ${names.join(', ')}`);
    });

    void test('whatis: the Rust type of every static', () => {
      const gs = statics();
      const out = gdbStatic(elf, ['set language rust', ...gs.map((g) => `whatis ${g.name}`)]);
      const want = [...out.matchAll(/^type = (.*)$/gm)].map((m) => m[1]);
      assert.deepEqual(
        gs.map((g) => typeName(program.typeOf(g))),
        want,
      );
    });

    void test('p: every static prints as gdb prints it (structs, enums with data, arrays, &str)', async () => {
      // SINK is in .bss: the file has no bytes for it (gdb prints zeros without a target).
      const gs = statics().filter((g) => g.name !== 'rust_opt::SINK');
      assert.ok(gs.length >= 4);
      const out = gdbStatic(elf, ['set language rust', ...gs.map((g) => `p ${g.name}`)]);
      const want = [...out.matchAll(/^\$\d+ = (.*)$/gm)].map((m) => m[1]);
      const mine: string[] = [];
      for (const g of gs) mine.push(await formatValue(await program.value(g, frame), fmt));
      assert.deepEqual(mine, want);
      // The enum with data is really read through its discriminant: the Rect variant, w = 3, h = 4.
      const shape = gs.find((g) => g.name === 'rust_opt::SHAPE')!;
      const v = activeVariant(await program.value(shape, frame));
      assert.equal(v && typeName(v.type), 'rust_opt::Shape::Rect');
    });
  });
