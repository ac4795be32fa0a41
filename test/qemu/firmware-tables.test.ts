// Stops the demo firmware with the project's gdb client and checks the live stage-1 and stage-2
// descriptors, read through physical memory, against the encodings of the seed change.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectTcp, BP_SOFTWARE, type GdbClient } from '../../src/gdb';
import { startQemu, type QemuInstance } from '../harness/qemu';
import {
  buildGuest,
  demoQemu,
  DEVICE_PAGE,
  entryAt,
  hex,
  LAZY_BLOCK,
  LAZY_PAGE,
  loadSymbols,
  MMIO_GUARD_ENROLL,
  MMIO_GUARD_INFO,
  MMIO_GUARD_MAP,
  MMIO_GUARD_UNMAP,
  OA_MASK,
  readGuardLog,
  readU64,
  S2_DEVICE_PAGE,
  S2_RAM_BLOCK,
  sym,
  type Scenario,
  type Symbols,
} from './firmware-support';

const UART = 0x0900_0000n;
const RTC = 0x0901_0000n;
const FW_CFG = 0x0902_0000n;
const VIRTIO = 0x0a00_0000n;
const ECAM = 0x40_1000_0000n;
const TOUCHED = [RTC, FW_CFG, VIRTIO, ECAM];
const ENC_CODE = 0x0000_0000_0000_0f87n;
const ENC_DATA = 0x0060_0000_0000_0f07n;
const ENC_RODATA = 0x0060_0000_0000_0f87n;
const page = (a: bigint): bigint => a & ~0xfffn;

let symbols: Symbols;

/** Stage-1 and stage-2 readers over the roots the firmware reports through its registers. */
async function roots(gdb: GdbClient): Promise<{ s1: bigint; s2: bigint }> {
  const ttbr0 = await gdb.readRegister('TTBR0_EL1', 1);
  const vttbr = await gdb.readRegister('VTTBR_EL2', 1);
  assert.equal(ttbr0 & OA_MASK, sym(symbols, 'pt_root'), 'TTBR0_EL1 points at pt_root');
  assert.equal(ttbr0 >> 48n, 1n, 'ASID 1 (aarch64-paging IdMap of pvmfw)');
  assert.equal(vttbr & OA_MASK, sym(symbols, 's2_root'), 'VTTBR_EL2 points at s2_root');
  assert.equal(vttbr >> 48n, 1n, 'VMID 1');
  return { s1: ttbr0 & OA_MASK, s2: vttbr & OA_MASK };
}

async function continueTo(gdb: GdbClient, address: bigint): Promise<void> {
  await gdb.insertBreakpoint(BP_SOFTWARE, address);
  await gdb.resume('continue');
  const stop = await gdb.waitForStop(15000);
  assert.equal(stop.kind, 'signal');
  await gdb.removeBreakpoint(BP_SOFTWARE, address);
  assert.equal(await gdb.readRegister('pc', 1), address, `stopped at 0x${address.toString(16)}`);
}

void describe('demo firmware tables through the gdb client (normal scenario, 2 vCPUs)', () => {
  let qemu: QemuInstance | undefined;
  let gdb: GdbClient;
  let s1: bigint;
  let s2: bigint;
  const s1At = (va: bigint, level: number) => entryAt(gdb, s1, va, level);
  const s2At = (ipa: bigint, level: number) => entryAt(gdb, s2, ipa, level);

  before(async () => {
    buildGuest();
    symbols = loadSymbols();
    qemu = await startQemu(demoQemu('normal', { smp: 2 }));
    gdb = await connectTcp(qemu.host, qemu.port, { timeoutMs: 5000, requestTimeoutMs: 10000 });
  });
  after(async () => {
    await gdb?.close();
    await qemu?.kill();
  });

  void test('single-stepping the first MMIO load lands on VBAR_EL1 + 0x000 with the fault syndrome', async () => {
    await continueTo(gdb, sym(symbols, 'mmio_read32'));
    assert.equal(await gdb.readRegister('x0', 1), RTC);
    const load = await gdb.readRegister('pc', 1);
    await gdb.step(1, 10000);
    assert.equal(await gdb.readRegister('pc', 1), sym(symbols, 'vector_table_el1'));
    assert.equal(await gdb.readRegister('ESR_EL1', 1), 0x9600_0007n);
    assert.equal(await gdb.readRegister('FAR_EL1', 1), RTC);
    assert.equal(await gdb.readRegister('ELR_EL1', 1), load);
  });

  void test('first fault: breakpoint on handle_mmio_fault for the RTC', async () => {
    await continueTo(gdb, sym(symbols, 'handle_mmio_fault'));
    assert.equal(await gdb.readRegister('x0', 1), RTC, 'handle_mmio_fault(addr = FAR)');
    assert.equal(await gdb.readRegister('FAR_EL1', 1), RTC);
    assert.equal(await gdb.readRegister('ESR_EL1', 1), 0x9600_0007n, 'translation fault, level 3');
    ({ s1, s2 } = await roots(gdb));

    // Level-1 entry 0 became a table when the console page was mapped at boot.
    const l1 = await s1At(RTC, 1);
    assert.equal(l1 & 3n, 3n);
    const l2 = await s1At(RTC, 2);
    assert.equal(l2 & 3n, 3n, 'the console block was split at boot');
    assert.equal(l2, await s1At(UART, 2), 'same 2 MiB block as the UART');
    assert.equal(await s1At(RTC, 3), LAZY_PAGE | RTC);
    assert.equal(await s1At(RTC + 0x1000n, 3), LAZY_PAGE | (RTC + 0x1000n));
    assert.equal(await s1At(RTC - 0x1000n, 3), LAZY_PAGE | (RTC - 0x1000n));
    assert.equal(await s1At(UART, 3), DEVICE_PAGE | UART, 'console valid since boot');
    assert.equal(await s1At(VIRTIO, 2), LAZY_BLOCK | VIRTIO, 'virtio-mmio still a lazy 2 MiB block');
    assert.equal(await s1At(ECAM, 1), LAZY_BLOCK | 0x40_0000_0000n, 'ECAM still a lazy 1 GiB block');

    // RAM with pvmfw's attribute sets.
    const code = page(sym(symbols, 'handle_mmio_fault'));
    assert.equal(await s1At(code, 3), ENC_CODE | code);
    const data = page(sym(symbols, 'pt_root'));
    assert.equal(await s1At(data, 3), ENC_DATA | data);
    const rodata = sym(symbols, '__rodata_start');
    assert.equal(await s1At(rodata, 3), ENC_RODATA | rodata);
    // The 2 MiB DTB window is aligned, so aarch64-paging maps it as one RODATA block (no bit 1).
    assert.equal(await s1At(0x4000_0000n, 2), (ENC_RODATA & ~2n) | 0x4000_0000n, 'DTB window');
    const el2 = sym(symbols, 'guard_log');
    assert.equal((await s1At(el2, 3)) & 1n, 0n, 'the hypervisor is not mapped at EL1');

    // Stage 2: RAM is one block, the console is guard-mapped, the RTC is not (yet).
    assert.equal(await s2At(0x4000_0000n, 1), S2_RAM_BLOCK | 0x4000_0000n);
    assert.equal(await s2At(UART, 3), S2_DEVICE_PAGE | UART);
    assert.equal(await s2At(RTC, 3), 0n);
    assert.equal(await s2At(ECAM, 1), 0n, 'nothing of the high MMIO is guard-mapped');

    // The secondary vCPU sits in its parking loop.
    const pc2 = await gdb.readRegister('pc', 2);
    const park = sym(symbols, 'secondary_park');
    assert.ok(pc2 === park || pc2 === park + 4n, `vCPU 1 pc 0x${pc2.toString(16)}`);
    // 0x5ec0_0000 | MPIDR.Aff0 << 8 | the EL PSCI CPU_ON started it in.
    assert.equal(await readU64(gdb, sym(symbols, 'secondary_state')), 0x5ec0_0102n);
  });

  void test('after the handler: the RTC page is valid in both stages, its neighbours still lazy', async () => {
    await continueTo(gdb, await gdb.readRegister('x30', 1));
    assert.equal(await s1At(RTC, 3), DEVICE_PAGE | RTC);
    assert.equal(await s1At(RTC + 0x1000n, 3), LAZY_PAGE | (RTC + 0x1000n));
    assert.equal(await s1At(FW_CFG, 3), LAZY_PAGE | FW_CFG);
    assert.equal(await s2At(RTC, 3), S2_DEVICE_PAGE | RTC);
    assert.equal(await s2At(RTC + 0x1000n, 3), 0n);
    const log = await readGuardLog(gdb, sym(symbols, 'guard_log'));
    const last = log.entries[log.entries.length - 1];
    assert.deepEqual(last, { seq: log.count, func: MMIO_GUARD_MAP, ipa: RTC, result: 0n });
  });

  void test('second fault splits the virtio-mmio 2 MiB lazy block into lazy pages', async () => {
    await continueTo(gdb, sym(symbols, 'handle_mmio_fault'));
    assert.equal(await gdb.readRegister('FAR_EL1', 1), VIRTIO);
    assert.equal(await gdb.readRegister('ESR_EL1', 1), 0x9600_0006n, 'translation fault, level 2');
    assert.equal(await s1At(VIRTIO, 2), LAZY_BLOCK | VIRTIO);
    await continueTo(gdb, await gdb.readRegister('x30', 1));
    assert.equal((await s1At(VIRTIO, 2)) & 3n, 3n, 'a table now');
    assert.equal(await s1At(VIRTIO, 3), DEVICE_PAGE | VIRTIO);
    assert.equal(await s1At(VIRTIO + 0x1000n, 3), LAZY_PAGE | (VIRTIO + 0x1000n));
    assert.equal(await s1At(VIRTIO + 0x1f_f000n, 3), LAZY_PAGE | (VIRTIO + 0x1f_f000n));
    assert.equal(
      await s1At(VIRTIO + 0x20_0000n, 2),
      LAZY_BLOCK | (VIRTIO + 0x20_0000n),
      'next block untouched',
    );
  });

  void test('scenario_done: stage 1 keeps the touched pages valid, stage 2 no longer maps them', async () => {
    await continueTo(gdb, sym(symbols, 'scenario_done'));
    for (const pa of TOUCHED) {
      assert.equal(await s1At(pa, 3), DEVICE_PAGE | pa, `stage 1 ${hex(pa)}`);
      assert.equal(await s2At(pa, 3), 0n, `stage 2 ${hex(pa)}`);
    }
    assert.equal(await s2At(UART, 3), S2_DEVICE_PAGE | UART, 'the console stays guard-mapped');
    // The 1 GiB ECAM block was split down to 4 KiB, everything else in it still lazy.
    assert.equal(await s1At(0x40_0000_0000n, 2), LAZY_BLOCK | 0x40_0000_0000n);
    assert.equal(await s1At(ECAM + 0x20_0000n, 2), LAZY_BLOCK | (ECAM + 0x20_0000n));
    assert.equal(await s1At(ECAM + 0x1000n, 3), LAZY_PAGE | (ECAM + 0x1000n));

    const log = await readGuardLog(gdb, sym(symbols, 'guard_log'));
    assert.equal(log.magic, 0x474f4c47);
    assert.equal(log.count, 11n);
    assert.deepEqual(
      log.entries.map((e) => [e.seq, e.func, e.ipa, e.result]),
      [
        [1n, MMIO_GUARD_INFO, 0n, 4096n],
        [2n, MMIO_GUARD_ENROLL, 0n, 0n],
        [3n, MMIO_GUARD_MAP, UART, 0n],
        [4n, MMIO_GUARD_MAP, RTC, 0n],
        [5n, MMIO_GUARD_MAP, VIRTIO, 0n],
        [6n, MMIO_GUARD_MAP, FW_CFG, 0n],
        [7n, MMIO_GUARD_MAP, ECAM, 0n],
        [8n, MMIO_GUARD_UNMAP, RTC, 0n],
        [9n, MMIO_GUARD_UNMAP, FW_CFG, 0n],
        [10n, MMIO_GUARD_UNMAP, VIRTIO, 0n],
        [11n, MMIO_GUARD_UNMAP, ECAM, 0n],
      ],
    );
    const hypState = sym(symbols, 'hyp_state');
    assert.equal(await readU64(gdb, hypState + 8n), 1n, 'hyp_state.guard_mapped: the console');
  });
});

/**
 * Boots a bug scenario halted, runs it to whichever parking loop it reaches (breakpoints on both),
 * then hands the stopped target over.
 */
async function parked(
  scenario: Scenario,
  fn: (gdb: GdbClient, s1: bigint, s2: bigint) => Promise<void>,
): Promise<void> {
  const qemu = await startQemu(demoQemu(scenario));
  let gdb: GdbClient | undefined;
  try {
    gdb = await connectTcp(qemu.host, qemu.port, { timeoutMs: 5000, requestTimeoutMs: 10000 });
    const parks = [sym(symbols, 'panic_park'), sym(symbols, 'scenario_done')];
    for (const at of parks) await gdb.insertBreakpoint(BP_SOFTWARE, at);
    await gdb.resume('continue');
    assert.equal((await gdb.waitForStop(15000)).kind, 'signal');
    for (const at of parks) await gdb.removeBreakpoint(BP_SOFTWARE, at);
    await qemu.waitForOutput(/parked at \w+/, 5000);
    const { s1, s2 } = await roots(gdb);
    await fn(gdb, s1, s2);
  } catch (e) {
    process.stderr.write(`\n----- QEMU output (scenario ${scenario}) -----\n${qemu.output()}\n`);
    throw e;
  } finally {
    await gdb?.close();
    await qemu.kill();
  }
}

async function assertParkedIn(gdb: GdbClient, name: string): Promise<void> {
  const pc = await gdb.readRegister('pc', 1);
  const at = sym(symbols, name);
  assert.ok(pc >= at && pc < at + 16n, `pc 0x${pc.toString(16)} in ${name}`);
}

void describe('demo firmware bug scenarios as the debugger sees them', () => {
  before(() => {
    buildGuest();
    symbols = loadSymbols();
  });

  void test('a: a valid level-2 block carrying the lazy flag, guard-mapped for one page only', () =>
    parked('a', async (gdb, s1, s2) => {
      await assertParkedIn(gdb, 'panic_park');
      assert.equal(await entryAt(gdb, s1, VIRTIO, 2), 0x00e0_0000_0a00_0401n);
      assert.equal(await entryAt(gdb, s2, VIRTIO, 3), S2_DEVICE_PAGE | VIRTIO);
      assert.equal(await entryAt(gdb, s2, VIRTIO + 0x1000n, 3), 0n, 'rest of the block not guard-mapped');
    }));

  void test('b: valid in stage 1, absent from stage 2, and the injected abort recorded', () =>
    parked('b', async (gdb, s1, s2) => {
      await assertParkedIn(gdb, 'panic_park');
      assert.equal(await entryAt(gdb, s1, FW_CFG, 3), DEVICE_PAGE | FW_CFG);
      assert.equal(await entryAt(gdb, s2, FW_CFG, 3), 0n);
      assert.equal(await gdb.readRegister('ESR_EL1', 1), 0x9600_0010n);
      assert.equal(await gdb.readRegister('FAR_EL1', 1), FW_CFG);
      // The injected abort returns to the faulting load, as a real one would.
      const load = await gdb.readRegister('ELR_EL1', 1);
      const read32 = sym(symbols, 'mmio_read32');
      assert.ok(load >= read32 && load < read32 + 16n, `ELR_EL1 0x${load.toString(16)} in mmio_read32`);
      assert.equal((await gdb.readRegister('SPSR_EL1', 1)) & 0xfn, 4n, 'taken from EL1t (code on SP_EL0)');
      const hypState = sym(symbols, 'hyp_state');
      assert.equal(await readU64(gdb, hypState + 0x10n), 1n, 'injected_aborts');
      assert.equal(await readU64(gdb, hypState + 0x18n), FW_CFG, 'last_abort_ipa');
      const log = await readGuardLog(gdb, sym(symbols, 'guard_log'));
      assert.ok(!log.entries.some((e) => e.ipa === FW_CFG), 'fw_cfg never guard-mapped');
    }));

  void test('c: a normal-memory page with the lazy flag, refused by MMIO_GUARD_MAP', () =>
    parked('c', async (gdb, s1) => {
      await assertParkedIn(gdb, 'panic_park');
      const bugPage = sym(symbols, 'bug_c_page');
      assert.equal(await entryAt(gdb, s1, bugPage, 3), 0x00e0_0000_0000_0f06n | bugPage);
      const log = await readGuardLog(gdb, sym(symbols, 'guard_log'));
      const last = log.entries[log.entries.length - 1];
      assert.deepEqual([last.func, last.ipa, last.result], [MMIO_GUARD_MAP, bugPage, -3n]);
    }));

  void test('d: mmio_unmap_all skipped, the touched pages stay guard-mapped in stage 2', () =>
    parked('d', async (gdb, s1, s2) => {
      await assertParkedIn(gdb, 'scenario_done');
      for (const pa of TOUCHED) {
        assert.equal(await entryAt(gdb, s1, pa, 3), DEVICE_PAGE | pa);
        assert.equal(await entryAt(gdb, s2, pa, 3), S2_DEVICE_PAGE | pa, `stage 2 ${hex(pa)} leaked`);
      }
      assert.equal(await readU64(gdb, sym(symbols, 'hyp_state') + 8n), 5n, 'guard_mapped');
      const log = await readGuardLog(gdb, sym(symbols, 'guard_log'));
      assert.ok(!log.entries.some((e) => e.func === MMIO_GUARD_UNMAP));
    }));
});
