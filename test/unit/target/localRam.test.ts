// The pure half of the local fast path: which QEMU command lines get a shared RAM backend (and with
// which size), and which ranges of QEMU's memory tree count as RAM.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isLoopback,
  localRamDisabled,
  parseRamMap,
  parseRamSize,
  SHARED_RAM_ID,
  sharedRamArgs,
} from '../../../src/target/localRam';
import { switchedOff } from '../../../src/target/switches';

void describe('local RAM: command lines and QEMU RAM map', () => {
  void test('-m sizes as QEMU reads them (bare numbers are MiB)', () => {
    assert.equal(parseRamSize('512M'), 512 * 2 ** 20);
    assert.equal(parseRamSize('1G'), 2 ** 30);
    assert.equal(parseRamSize('8192'), 8 * 2 ** 30);
    assert.equal(parseRamSize('size=2G'), 2 * 2 ** 30);
    assert.equal(parseRamSize('1.5G'), 1.5 * 2 ** 30);
    assert.equal(parseRamSize('lots'), undefined);
    assert.equal(parseRamSize('0'), undefined);
  });

  void test('a memfd backend of the -m size is added; a command line that chooses its RAM is left alone', () => {
    // On virt the backend has the name of QEMU's own (the RAM region in `info mtree` keeps its name).
    assert.deepEqual(sharedRamArgs(['-M', 'virt,virtualization=on', '-m', '512M', '-nic', 'none']), [
      '-object',
      `memory-backend-memfd,id=mach-virt.ram,size=${512 * 2 ** 20},share=on`,
      '-machine',
      `memory-backend=mach-virt.ram`,
    ]);
    assert.equal(
      sharedRamArgs(['-machine', 'type=virt-7.2', '-m', '1G'])![1],
      `memory-backend-memfd,id=mach-virt.ram,size=${2 ** 30},share=on`,
    );
    assert.deepEqual(sharedRamArgs(['-M', 'sbsa-ref', '-m', '512M']), [
      '-object',
      `memory-backend-memfd,id=${SHARED_RAM_ID},size=${512 * 2 ** 20},share=on`,
      '-machine',
      `memory-backend=${SHARED_RAM_ID}`,
    ]);
    // The last -m wins, as in QEMU.
    assert.match(sharedRamArgs(['-m', '256M', '-m=1G'])![1], new RegExp(`size=${2 ** 30},`));
    assert.equal(sharedRamArgs(['-M', 'virt']), undefined, 'no -m: the machine default is not guessed');
    assert.equal(sharedRamArgs(['-m', '1G,slots=2,maxmem=4G']), undefined);
    assert.equal(sharedRamArgs(['-m', '1G', '-machine', 'memory-backend=mine']), undefined);
    assert.equal(sharedRamArgs(['-m', '1G', '-object', 'memory-backend-file,id=m,size=1G']), undefined);
    assert.equal(sharedRamArgs(['-m', '1G', '-numa', 'node']), undefined);
    assert.equal(sharedRamArgs(['-m', '1G', '-mem-path', '/hugepages']), undefined);
  });

  void test("the RAM map is the CPU's flat view's ram ranges: no ROM, ROM device or I/O, no other view", () => {
    const mtree = [
      'FlatView #0',
      ' AS "memory", root: system',
      ' AS "cpu-memory-0", root: system',
      ' Root memory region: system',
      '  0000000000000000-0000000003ffffff (prio 0, romd): virt.flash0',
      '  0000000009000000-0000000009000fff (prio 0, i/o): pl011',
      '  0000000040000000-000000005fffffff (prio 0, ram): pvmfw-mmu-ram',
      '  0000000060000000-0000000060000fff (prio 0, rom): some.rom',
      '  0000000080000000-00000000801fffff (prio 0, ram): second.ram @0000000000200000',
      '',
      'FlatView #1',
      ' AS "cpu-secure-memory-0", root: secure',
      '  000000000e000000-000000000eff ffff (prio 0, ram): virt.secure-ram',
      '  0000000010000000-0000000010ffffff (prio 0, ram): virt.secure-ram2',
    ].join('\n');
    assert.deepEqual(parseRamMap(mtree), [
      { start: 0x4000_0000n, end: 0x6000_0000n, name: 'pvmfw-mmu-ram' },
      { start: 0x8000_0000n, end: 0x8020_0000n, name: 'second.ram' },
    ]);
    assert.deepEqual(parseRamMap('no flat views here'), []);
  });

  void test('only loopback counts as this host; the switch turns the fast path off', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) assert.ok(isLoopback(h), h);
    for (const h of ['10.0.0.1', 'lab-machine', '::2']) assert.ok(!isLoopback(h), h);
    assert.ok(localRamDisabled({ PVMFW_MMU_LOCAL_RAM: 'off' }));
    assert.ok(localRamDisabled({ PVMFW_MMU_LOCAL_RAM: '0' }));
    assert.ok(!localRamDisabled({}));
    assert.ok(!localRamDisabled({ PVMFW_MMU_LOCAL_RAM: 'on' }));
    // Read as every switch is (src/target/switches.ts): any case, spaces around.
    assert.ok(localRamDisabled({ PVMFW_MMU_LOCAL_RAM: ' No ' }));
    assert.ok(switchedOff('PVMFW_MMU_WALK_REUSE', { PVMFW_MMU_WALK_REUSE: 'FALSE' }));
    assert.ok(!switchedOff('PVMFW_MMU_WALK_REUSE', { PVMFW_MMU_WALK_REUSE: 'offline' }));
  });
});
