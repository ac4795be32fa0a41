// The engine on a kernel nobody here wrote: Debian's arm64 6.1 kernel booted to its "no root fs"
// panic, walked live. The assertions are the invariants a kernel engineer checks after rodata=full.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  batchReader,
  coalesce,
  decodeSpsr,
  P_W1,
  P_X0,
  P_X1,
  regimeFromRegisters,
  translate,
  walk,
  type WalkResult,
  type Registers,
  REGIME_REGISTERS,
} from '../../src/aarch64';
import { analyzeStop, haltedStopInput, pageTable, rootPicture, STOP_REGISTERS } from '../../src/analysis';
import { SymbolTable } from '../../src/elf/symbolTable';
import { bootKernelToPanic, type BootedKernel } from './kernel-boot';

const LINEAR_END = 0xffff_8000_0000_0000n; // 48-bit VA: the linear map is the lower half of TTBR1's range

void describe('Debian arm64 kernel at its root-fs panic, walked live', () => {
  let k: BootedKernel | undefined;
  let regs: Registers;
  let w: WalkResult;
  let pc: bigint;

  before(async () => {
    k = await bootKernelToPanic();
    const m = await k.gdb.readRegisters([...REGIME_REGISTERS.el1, 'SCTLR']);
    regs = Object.fromEntries(m);
    pc = await k.gdb.readRegister('pc');
    const reader = batchReader(
      (r) => k!.gdb.readPhysicalBatch(r),
      (a, l) => k!.gdb.readPhysical(a, l),
      512,
    );
    w = await walk(regimeFromRegisters('el1', regs), reader);
  });
  after(async () => {
    await k?.gdb.close();
    await k?.qemu.kill();
  });

  void test('stopped at EL1 in kernel text (CPSR checked first)', async () => {
    const cpsr = await k!.gdb.readRegister('cpsr');
    assert.equal(decodeSpsr(cpsr).el, 1);
    assert.ok(pc >= 0xffff_8000_0000_0000n, `pc 0x${pc.toString(16)} in the kernel image range`);
    assert.ok(k!.stepped < 100_000);
  });

  void test('TTBR1 is a 48-bit, 4 KiB, level-0 walk and nothing is reported broken', () => {
    const t1 = w.roots.find((r) => r.base === 'TTBR1_EL1')!;
    assert.equal(t1.enabled, true);
    assert.deepEqual([t1.granule, t1.inputBits, t1.startLevel], [4, 48, 0]);
    assert.deepEqual(w.diagnostics, []);
  });

  void test('about 259k valid 4 KiB pages under TTBR1 (rodata=full forces page granularity)', () => {
    const pages = w.leaves.filter((l) => l.base === 'TTBR1_EL1' && l.valid && l.size === 4096).length;
    assert.ok(pages > 250_000 && pages < 263_000, `${pages} pages`);
  });

  void test('kernel text is read-only and executable at EL1, never at EL0', async () => {
    const reader = batchReader(
      (r) => k!.gdb.readPhysicalBatch(r),
      (a, l) => k!.gdb.readPhysical(a, l),
    );
    const x = await translate(regimeFromRegisters('el1', regs), reader, pc, { exec: true });
    assert.equal(x.fault, undefined, x.fault?.message);
    assert.ok(
      x.perms !== undefined && (x.perms & P_X1) !== 0 && (x.perms & P_W1) === 0 && (x.perms & P_X0) === 0,
    );
    assert.equal(x.memType?.name, 'Normal WB RA WA');
    // The region holding the PC: every page in it R-X at EL1.
    const region = coalesce(w.leaves).find((g) => g.va <= pc && pc < g.va + g.size)!;
    assert.ok(region.count >= 1);
    assert.equal(region.first.perms & (P_W1 | P_X1), P_X1);
  });

  void test('the linear map is RW + XN, page by page', () => {
    const linear = w.leaves.filter((l) => l.base === 'TTBR1_EL1' && l.valid && l.va < LINEAR_END);
    assert.ok(linear.length > 250_000, `${linear.length} linear-map leaves`);
    const exec = linear.filter((l) => (l.perms & (P_X1 | P_X0)) !== 0);
    assert.equal(exec.length, 0, 'no executable linear-map page');
    const rw = linear.filter((l) => (l.perms & P_W1) !== 0).length;
    // rodata=full also makes the linear alias of the kernel's rodata/text read-only: a few percent.
    assert.ok(rw / linear.length > 0.9, `${rw} of ${linear.length} RW`);
    assert.ok(linear.every((l) => l.memType.kind === 'normal'));
    // rodata=full forces pages for RAM the kernel may change attributes of; a few early regions
    // (mapped before that decision, e.g. around the DTB) keep 2 MiB blocks.
    const big = linear.filter((l) => l.size !== 4096);
    assert.ok(
      big.length < linear.length / 100,
      `${big.length} blocks among ${linear.length} linear-map leaves`,
    );
    assert.ok(big.every((l) => l.size === 2 ** 21 && l.level === 2));
  });

  void test('translate agrees with the walk on a linear-map page', async () => {
    const reader = batchReader(
      (r) => k!.gdb.readPhysicalBatch(r),
      (a, l) => k!.gdb.readPhysical(a, l),
    );
    const leaf = w.leaves.filter((l) => l.base === 'TTBR1_EL1' && l.valid && l.va < LINEAR_END)[100_000];
    const x = await translate(regimeFromRegisters('el1', regs), reader, leaf.va + 0x123n, { write: true });
    assert.equal(x.pa, leaf.pa + 0x123n);
    assert.deepEqual(
      x.steps.map((s) => s.level),
      [0, 1, 2, 3],
    );
  });
  void test("a root listing from the root table alone (the tree's first level early) equals the whole picture's", async () => {
    const registers = Object.fromEntries(await k!.gdb.readRegisters([...STOP_REGISTERS, 'SCTLR']));
    const reader = batchReader(
      (r) => k!.gdb.readPhysicalBatch(r),
      (a, l) => k!.gdb.readPhysical(a, l),
      1024,
    );
    const input = haltedStopInput(registers, reader, new SymbolTable([]));
    const full = await analyzeStop(input);
    assert.equal(full.profiles.el1.profile, 'linux');
    for (const base of ['TTBR0_EL1', 'TTBR1_EL1'] as const) {
      const early = await rootPicture(input, base);
      assert.ok(early, `${base}: answered from its root table`);
      assert.ok(early.el1.result.stats.tablesRead <= 16, `${early.el1.result.stats.tablesRead} tables read`);
      const root = full.el1.config.roots.find((r) => r.base === base)!;
      // The previous stop's words with one root entry changed: the `changed` flags come out the same.
      const words = full.tables.get(Number(root.root))!.words.slice();
      const k0 = words.findIndex((w) => w !== 0);
      if (k0 >= 0) words[k0] ^= 0x400;
      const previous = new Map([[Number(root.root), words]]);
      for (const args of [{ regime: base }, { regime: base, includeZero: true, start: 256, count: 64 }]) {
        const a = await pageTable(early, args, previous);
        const b = await pageTable(full, args, previous);
        assert.deepEqual(a, b, `${base} ${JSON.stringify(args)}`);
      }
      const listed = await pageTable(early, { regime: base }, previous);
      if (base === 'TTBR1_EL1') {
        assert.ok(listed.entries.length > 0 && listed.entries.every((e) => e.kind === 'table'));
        assert.ok(listed.entries.some((e) => e.changed === true));
      }
    }
  });
});
