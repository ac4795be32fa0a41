// The Linux profile on a live user process: Debian 6.1 with KPTI forced on (kpti=1), a static /init
// (test/fixtures/init/init.c) that maps four pages at 0x10000000 and leaves each in a known state
// (written; written then mprotect(PROT_NONE); written then mprotect(PROT_READ); untouched), stopped
// while it spins at EL0. What the process did is the truth the decode is checked against, and QEMU's
// MMU (gva2gpa, a virtual read) says which pages the CPU can reach.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hex } from '../../src/aarch64';
import { translateQuery, type StopPicture } from '../../src/analysis';
import type { GdbClient } from '../../src/gdb';
import type { QemuInstance } from '../harness/qemu';
import { buildInitramfs } from '../harness/initramfs';
import { livePicture } from '../harness/livePicture';
import { bootKernelToPanic } from './kernel-boot';

const BASE = 0x1000_0000n;
const PAGE = 0x1000n;

void describe('linux profile: a user process under a KPTI kernel', { timeout: 240_000 }, () => {
  let qemu: QemuInstance | undefined;
  let gdb: GdbClient;
  let picture: StopPicture;

  before(async () => {
    const k = await bootKernelToPanic({
      cpu: 'cortex-a57',
      append: 'console=ttyAMA0 kpti=1 rdinit=/init',
      initrd: buildInitramfs(),
      until: /pvmfw-mmu-init: (ready at 0x10000000|mmap failed|mprotect failed)\r?\n/,
      expect: /pvmfw-mmu-init: ready at 0x10000000/,
      stopIn: 'user',
    });
    qemu = k.qemu;
    gdb = k.gdb;
    assert.match(qemu.output(), /Kernel page table isolation \(KPTI\)/);
    picture = await livePicture(gdb);
  });
  after(async () => {
    await gdb?.close().catch(() => undefined);
    await qemu?.kill();
  });

  void test('the linux profile is chosen; no pvmfw anomaly on a kernel full of PTE_DIRTY', () => {
    assert.equal(picture.profiles.el1.profile, 'linux');
    assert.equal(picture.guard.available, false);
    assert.deepEqual(picture.guard.anomalies, []);
    // Bit 55 is everywhere in a kernel's valid entries: it is PTE_DIRTY, never a lazy entry.
    const store = picture.el1.result.store;
    let dirty = 0;
    for (let i = 0; i < store.length; i++) if (store.leaf(i).bit(55)) dirty++;
    assert.ok(dirty > 0);
  });

  void test('each page reads as the process left it, and QEMU agrees on which the CPU reaches', async () => {
    const want = [
      { off: 0n, meaning: /^writable, dirty$/, reachable: true },
      { off: 1n, meaning: /^PROT_NONE \(present, no access/, reachable: false },
      { off: 2n, meaning: /^read-only, dirty$/, reachable: true },
    ];
    for (const w of want) {
      const va = BASE + w.off * PAGE;
      const t = await translateQuery(picture, { address: hex(va) });
      assert.match(t.leaf?.meaning ?? '', w.meaning, `${hex(va)}: ${t.leaf?.meaning}`);
      assert.equal(t.leaf?.kind === 'lazy', false, 'never a pvmfw lazy entry');
      assert.equal(t.verdict, undefined, 'no pvmfw verdict on a Linux page');
      const gpa = (await gdb.monitor(`gva2gpa ${hex(va)}`)).trim();
      if (w.reachable) {
        assert.equal(t.ok, true);
        assert.equal(gpa, `gpa: ${t.outputAddress}`);
        // The page holds what the process wrote: 0x5a5a0000 + page index.
        const [bytes] = await gdb.readPhysicalBatch([{ address: BigInt(t.outputAddress!), length: 8 }]);
        assert.ok(!(bytes instanceof Error));
        assert.equal(Buffer.from(bytes).readBigUInt64LE(0), 0x5a5a_0000n + w.off);
      } else {
        assert.equal(t.ok, false);
        assert.equal(gpa, 'Unmapped');
        // PROT_NONE keeps the page: its bits still name the frame, which holds what was written.
        const [bytes] = await gdb.readPhysicalBatch([{ address: BigInt(t.outputAddress!), length: 8 }]);
        assert.ok(!(bytes instanceof Error));
        assert.equal(Buffer.from(bytes).readBigUInt64LE(0), 0x5a5a_0000n + w.off);
      }
    }
    const untouched = await translateQuery(picture, { address: hex(BASE + 3n * PAGE) });
    assert.equal(untouched.ok, false);
    assert.equal(untouched.leaf?.meaning, undefined, 'an untouched page has no PTE, so no meaning');
  });
});
