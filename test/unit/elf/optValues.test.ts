// Types, values and C expressions (src/elf/types.ts, values.ts, src/adapter/expr.ts) against
// gdb-multiarch on the -O2 fixture's ELF, no target: gdb reads initialized globals from the file, and
// so does this test (image.bytesAt). `whatis` for every global, `p EXPR` for expressions over them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { CExpression } from '../../../src/adapter/expr';
import { ElfImage } from '../../../src/elf';
import { typeName } from '../../../src/elf/types';
import { formatValue, type FormatContext } from '../../../src/elf/values';
import { buildOpt, gdbStatic } from '../../harness/opt';

for (const dwarf of [5, 4] as const)
  void describe(`types, values and C expressions against gdb (ELF only, DWARF ${dwarf})`, () => {
    const elf = buildOpt(dwarf);
    const image = ElfImage.parse(new Uint8Array(readFileSync(elf)));
    const program = image.scopes()!;
    const read = (a: bigint, n: number) => {
      const b = image.bytesAt(a, n);
      if (!b) return Promise.reject(new Error(`0x${a.toString(16)} is not in the file`));
      return Promise.resolve(b);
    };
    const fmt: FormatContext = {
      read,
      symbolFor: (a) => {
        const s = image.symbolAt(a);
        if (!s || s.symbol.type === 'notype' || (s.symbol.size === 0n && s.offset !== 0n)) return undefined;
        return s.offset === 0n ? s.name : `${s.name}+${s.offset}`;
      },
    };
    const frame = { pc: 0n, register: () => undefined, read };

    void test('whatis: the C type of every global', () => {
      const globals = program.globals();
      assert.ok(globals.length >= 7);
      const out = gdbStatic(
        elf,
        globals.map((g) => `whatis ${g.name}`),
      );
      const want = [...out.matchAll(/^type = (.*)$/gm)].map((m) => m[1]);
      assert.deepEqual(
        globals.map((g) => typeName(program.typeOf(g))),
        want,
      );
    });

    void test('p EXPR: members, pointers, arrays, unions, casts, sizeof, arithmetic print as gdb prints them', async () => {
      const exprs = [
        'regions',
        'table',
        'current_region',
        '*current_region',
        'last_word',
        '&regions[1]',
        'regions[1].name',
        'current_region->name',
        'current_region->corner.y * 2',
        'regions[0].corner',
        '&table[2]',
        '(int)table[5]',
        'table[3] + table[4]',
        'sizeof(union word)',
        'sizeof(struct region)',
        'sizeof table',
        'current_region->mode',
        'regions[1].mode',
        '-regions[1].corner.x',
        '(long)&table[1] - (long)table',
        'last_word.bytes[0]',
        '*table',
        'table[1] == 1',
      ];
      const out = gdbStatic(
        elf,
        exprs.map((e) => `p ${e}`),
      );
      const want = [...out.matchAll(/^\$\d+ = (.*)$/gm)].map((m) => m[1]);
      assert.equal(want.length, exprs.length, out);
      const got: string[] = [];
      for (const e of exprs) {
        const v = await CExpression.evaluate(e, {
          variable: async (name) => {
            const g = program.globals().find((x) => x.name === name);
            return g ? program.value(g, frame) : undefined;
          },
          register: () => Promise.resolve(undefined),
          type: (name) => program.typeByName(name),
          read,
        });
        got.push(await formatValue(v, fmt, true));
      }
      assert.deepEqual(got, want);
    });

    void test('errors say why, as gdb does', async () => {
      const scope = {
        variable: () => Promise.resolve(undefined),
        register: () => Promise.resolve(undefined),
        type: () => undefined,
        read,
      };
      await assert.rejects(CExpression.evaluate('nosuch', scope), /no symbol "nosuch" in current context/);
      await assert.rejects(CExpression.evaluate('1 +', scope), /unexpected end/);
    });
  });
