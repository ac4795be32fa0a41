// The demo firmware build: reproducible from any directory, full symbols, the seed's functions real.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { buildGuest, demoElf, demoElfFor, repoRoot } from './firmware-support';
import { DEMO_VARIANTS } from '../../src/shared/demoLaunch';

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
    for (const variant of DEMO_VARIANTS) {
      const a = readFileSync(demoElfFor(variant));
      const b = readFileSync(join(copy, 'build', basename(demoElfFor(variant))));
      assert.ok(a.equals(b), `${variant}: same bytes`);
      for (const hostPath of [repoRoot, scratch])
        assert.equal(
          a.indexOf(Buffer.from(hostPath)),
          -1,
          `${variant}: ${hostPath} does not leak into the ELF`,
        );
    }
  });

  void test('the variants are built from the same sources: every symbol of demo.elf, the seed functions global', () => {
    const names = (elf: string) =>
      new Set(
        execFileSync('aarch64-linux-gnu-nm', [elf], { encoding: 'utf8' })
          .split('\n')
          .map((l) => l.trim().split(' ')[2])
          .filter(Boolean),
      );
    const seed = names(demoElf);
    for (const variant of DEMO_VARIANTS) {
      const mine = names(demoElfFor(variant));
      assert.deepEqual(
        [...seed].filter((n) => !mine.has(n)),
        [],
        `${variant} lacks symbols of demo.elf`,
      );
      const nm = execFileSync('aarch64-linux-gnu-nm', ['-S', demoElfFor(variant)], { encoding: 'utf8' });
      for (const name of SEED_FUNCTIONS)
        assert.match(nm, new RegExp(`^[0-9a-f]{16} [0-9a-f]{16} T ${name}$`, 'm'), `${variant}: ${name}`);
    }
  });

  void test('the build is warning-free and the variants add no work to an up-to-date tree', () => {
    const copy = join(scratch, 'quiet', 'guest');
    for (const part of ['Makefile', 'linker.ld', 'src', 'include'])
      cpSync(resolve(repoRoot, 'guest', part), join(copy, part), { recursive: true });
    const first = spawnSync('make', ['-s', '-C', copy], { encoding: 'utf8' });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(`${first.stdout}${first.stderr}`, '', 'no compiler or linker output at all');
    const again = execFileSync('make', ['-C', copy], { encoding: 'utf8' });
    assert.match(again, /Nothing to be done|is up to date/);
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
