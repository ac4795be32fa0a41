// The lazy scope index (#13): a unit's DIEs are read when first needed, and a DIE with DW_AT_sibling
// keeps its subtree unread until asked for. Checked against binutils (`readelf --debug-dump=info`,
// the oracle for what the file holds): every DIE readelf lists is found by its offset, with readelf's
// tag and nesting depth, whichever order the lookups come in; a stop's frames read a fraction of the
// unit; and the functions and globals are those of a fully read tree.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ElfImage } from '../../../src/elf';
import { DW_TAG, type Die } from '../../../src/elf/dies';
import { buildGuest, demoElf } from '../../dap/support';
import { buildOpt } from '../../harness/opt';
import { buildRustOpt } from '../../harness/rustOpt';

const CROSS = process.env.CROSS_COMPILE ?? 'aarch64-linux-gnu-';
const TAGS = new Map(Object.entries(DW_TAG).map(([k, v]) => [`DW_TAG_${k}`, v as number]));

/** readelf's DIEs: offset, depth and tag name, in file order. */
function readelfDies(elf: string): { offset: number; depth: number; tag: string }[] {
  const out = execFileSync(`${CROSS}readelf`, ['--debug-dump=info', elf], {
    encoding: 'utf8',
    maxBuffer: 1 << 28,
  });
  return [...out.matchAll(/^ <(\d+)><([0-9a-f]+)>: Abbrev Number: \d+ \((DW_TAG_\w+)\)/gm)].map((m) => ({
    depth: Number(m[1]),
    offset: parseInt(m[2], 16),
    tag: m[3],
  }));
}

const depthOf = (d: Die) => {
  let n = 0;
  for (let p = d.parent; p; p = p.parent) n++;
  return n;
};

for (const [label, elf] of [
  ['the -O2 fixture', () => buildOpt(5)],
  ['the demo firmware', () => (buildGuest(), demoElf)],
  ['the Rust fixture (no DW_AT_sibling: subtrees skipped by their forms)', () => buildRustOpt('v0')],
] as const)
  void describe(`lazy DIE index on ${label}, against readelf`, () => {
    const file = elf();
    const bytes = new Uint8Array(readFileSync(file));
    const dies = readelfDies(file);

    void test('every DIE readelf lists is found by offset with its tag and depth, in any lookup order', () => {
      assert.ok(dies.length > 50, `${dies.length} DIEs`);
      // Backwards, so most lookups land in subtrees not read yet.
      const index = ElfImage.parse(bytes).scopes()!.index;
      let checked = 0;
      for (const want of [...dies].reverse()) {
        const d = index.die(want.offset);
        assert.ok(d, `no DIE at 0x${want.offset.toString(16)} (${want.tag})`);
        assert.equal(depthOf(d), want.depth, `depth at 0x${want.offset.toString(16)}`);
        const tag = TAGS.get(want.tag);
        if (tag !== undefined) {
          assert.equal(d.tag, tag, `${want.tag} at 0x${want.offset.toString(16)}`);
          checked++;
        }
      }
      assert.ok(checked > dies.length / 2, `${checked} tags compared`);
    });

    void test('a stop reads a part of its unit; frames, variables and globals match a fully read tree', () => {
      const lazy = ElfImage.parse(bytes);
      const full = ElfImage.parse(bytes);
      const fullProgram = full.scopes()!;
      // Read everything first in `full`: every subtree expanded before any question.
      for (const d of dies) fullProgram.index.die(d.offset);
      const program = lazy.scopes()!;
      const fns = lazy.dwarfFunctions();
      const pc = fns[Math.floor(fns.length / 2)].low + 4n;
      const frames = program.framesAt(pc);
      assert.ok(frames.length > 0);
      program.variables(frames[0]);
      assert.ok(program.index.diesRead < dies.length, `${program.index.diesRead} of ${dies.length} read`);
      const show = (p: typeof program, at: bigint) =>
        p.framesAt(at).map((f) => ({
          name: f.name,
          die: f.die.offset,
          blocks: f.blocks.map((b) => b.offset),
          vars: p.variables(f).map((v) => `${v.name}@${v.die.offset}`),
        }));
      for (const fn of fns)
        for (const at of [fn.low, fn.low + 8n]) assert.deepEqual(show(program, at), show(fullProgram, at));
      assert.deepEqual(
        program.globals().map((g) => `${g.name}@${g.die.offset}`),
        fullProgram.globals().map((g) => `${g.name}@${g.die.offset}`),
      );
    });
  });

void describe('the fast load keeps functions nested in functions (GNU C)', () => {
  void test('a nested function is found as gdb and nm know it, though the load jumps over function bodies', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nested-'));
    try {
      const c = join(dir, 'nest.c');
      const elf = join(dir, 'nest.elf');
      writeFileSync(
        c,
        'int outer(int a) { int inner(int b) { return a + b; } return inner(3) * inner(a); }\n',
      );
      execFileSync(`${CROSS}gcc`, [
        '-O0',
        '-g',
        '-ffreestanding',
        '-nostdlib',
        '-static',
        '-Wl,-e,outer',
        '-Wl,--build-id=none',
        '-o',
        elf,
        c,
      ]);
      const nm = execFileSync(`${CROSS}nm`, [elf], { encoding: 'utf8' });
      const at = /^([0-9a-f]+) t inner\.\d+$/m.exec(nm)?.[1];
      assert.ok(at, nm);
      const image = ElfImage.parse(new Uint8Array(readFileSync(elf)));
      const fn = image.functionAt(BigInt(`0x${at}`));
      assert.deepEqual([fn?.name, fn?.source], ['inner', 'dwarf']);
      // gdb names the function at that address the same.
      const gdb = execFileSync(
        'gdb-multiarch',
        ['-batch', '-nx', elf, '-ex', `info symbol 0x${at}`, '-ex', `info scope *0x${at}`],
        {
          encoding: 'utf8',
        },
      );
      assert.match(gdb, /Symbol b is/, gdb);
      assert.deepEqual(
        image
          .dwarfFunctions()
          .map((f) => f.name)
          .sort(),
        ['inner', 'outer'],
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

void describe('every function has its frame (Rust methods live in their type’s DIE)', () => {
  void test('framesAt(entry) of every DWARF function ends in that function, C and Rust', () => {
    for (const file of [buildOpt(5), buildRustOpt('v0')]) {
      const image = ElfImage.parse(new Uint8Array(readFileSync(file)));
      const program = image.scopes()!;
      const fns = image.dwarfFunctions();
      // Functions of this image (the linker's discarded ones keep DIEs at address 0).
      const live = fns.filter((fn) => image.functionAt(fn.low)?.name === fn.name);
      assert.ok(live.length >= 5, `${live.length} of ${fns.length}`);
      if (file.includes('rust')) assert.ok(live.some((f) => f.name === 'rust_opt::Tracker::first_base'));
      for (const fn of live) {
        const frames = program.framesAt(fn.low);
        assert.equal(frames[frames.length - 1]?.name, fn.name, `${file}: ${fn.name}`);
      }
    }
  });
});
