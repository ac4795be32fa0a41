// .dynsym: a shared object built with the aarch64 cross GCC, and the host's libc for volume, checked
// against `nm -D`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ElfFile, ElfImage } from '../../../src/elf';
import { ROOT } from './oracle';

/** `value name` pairs of defined dynamic symbols (version suffixes dropped), sorted. */
function nmDynamic(nm: string, path: string): string[] {
  const text = execFileSync(nm, ['-D', '--defined-only', path], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const out: string[] = [];
  for (const l of text.split('\n')) {
    const m = /^([0-9a-f]+)\s+\S\s+([^@\s]+)/.exec(l);
    if (m) out.push(`${BigInt(`0x${m[1]}`).toString(16)} ${m[2]}`);
  }
  return out.sort();
}

function mine(bytes: Uint8Array): string[] {
  return ElfFile.parse(bytes)
    .symbols()
    .filter((s) => s.table === '.dynsym' && s.shndx !== 0 && s.name)
    .map((s) => `${s.value.toString(16)} ${s.name}`)
    .sort();
}

void describe('.dynsym', () => {
  void test('an aarch64 shared object: the same defined symbols as nm -D', () => {
    const out = join(ROOT, 'out/fixtures/elf');
    mkdirSync(out, { recursive: true });
    const so = join(out, 'libutil.so');
    execFileSync('aarch64-linux-gnu-gcc', [
      '-shared',
      '-fPIC',
      '-nostdlib',
      '-g',
      '-o',
      so,
      join(ROOT, 'test/fixtures/elf/util.c'),
    ]);
    const got = mine(readFileSync(so));
    assert.ok(got.some((s) => s.endsWith(' helper_add')));
    assert.deepEqual(got, nmDynamic('aarch64-linux-gnu-nm', so));
    const image = ElfImage.parse(readFileSync(so));
    const helper = image.symbolByName('helper_add')!;
    assert.equal(image.functionAt(helper.value)?.name, 'helper_add');
  });

  const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6'].find((p) =>
    existsSync(p),
  );
  let hostNm = true;
  try {
    execFileSync('nm', ['--version'], { stdio: 'ignore' });
  } catch {
    hostNm = false;
  }
  void test(
    'the host libc: thousands of dynamic symbols, as nm -D lists them',
    { skip: libc && hostNm ? false : 'no host libc.so.6 or host nm' },
    () => {
      const got = mine(readFileSync(libc!));
      const want = nmDynamic('nm', libc!);
      assert.ok(want.length > 1000);
      assert.deepEqual(got, want);
    },
  );
});
