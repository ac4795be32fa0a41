// The demo firmware build: reproducible from any directory, full symbols, the seed's functions real.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildGuest, demoElf, repoRoot } from './firmware-support';

const SEED_FUNCTIONS = [
  'map_device_lazy',
  'handle_mmio_fault',
  'verify_lazy_mapped_block',
  'mmio_guard_map',
  'mmio_guard_unmap',
  'mmio_guard_unmap_page',
  'mmio_unmap_all',
  'sync_exception_current',
  'scenario_done',
  'panic_park',
];

void describe('guest build', () => {
  let scratch: string;
  before(() => {
    buildGuest();
    scratch = mkdtempSync(join(tmpdir(), 'pvmfw-guest-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  void test('building in another directory gives a byte-identical ELF with no host paths', () => {
    const copy = join(scratch, 'elsewhere', 'guest');
    for (const part of ['Makefile', 'linker.ld', 'src', 'include'])
      cpSync(resolve(repoRoot, 'guest', part), join(copy, part), { recursive: true });
    execFileSync('make', ['-s', '-C', copy], { stdio: ['ignore', 'ignore', 'inherit'] });
    const a = readFileSync(demoElf);
    const b = readFileSync(join(copy, 'build/demo.elf'));
    assert.ok(a.equals(b), 'same bytes');
    for (const hostPath of [repoRoot, scratch])
      assert.equal(a.indexOf(Buffer.from(hostPath)), -1, `${hostPath} does not leak into the ELF`);
  });

  void test('the seed functions are real, sized, global functions with DWARF line info', () => {
    const nm = execFileSync('aarch64-linux-gnu-nm', ['-S', demoElf], { encoding: 'utf8' });
    for (const name of SEED_FUNCTIONS)
      assert.match(nm, new RegExp(`^[0-9a-f]{16} [0-9a-f]{16} T ${name}$`, 'm'), name);
    const lines = execFileSync('aarch64-linux-gnu-objdump', ['--dwarf=decodedline', demoElf], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    assert.match(lines, /memory\.c/);
    assert.match(lines, /el1_entry\.S/, 'the assembly has line info too');
    const info = execFileSync('aarch64-linux-gnu-objdump', ['--dwarf=info', demoElf], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    assert.match(info, /DW_AT_comp_dir\s*:.*: guest$/m);
  });
});
