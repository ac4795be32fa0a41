// The later pvmfw generations and pKVM's stage-2 representation, live: demo-2024.elf (late-2023
// DEVICE_LAZY, VALID set in place), demo-16k.elf (16 KiB stage 2 and MMIO-guard granule) and the
// stub's `-append s2=pkvm` / `s2=pkvm-legacy` (guard maps as invalid annotated entries, the access
// emulated at EL2). At the stop points of firmware-tables.test.ts and engine-demo.test.ts: exact
// descriptors read physically through the gdbstub by this file's own walker, QEMU's monitor
// translating through both stages, the UART transcript; then the engine's golden dumps.
// Regenerate the dumps with UPDATE_GOLDEN=1 (never implicitly).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connectTcp, type GdbClient } from '../../src/gdb';
import { startQemu, type QemuInstance } from '../harness/qemu';
import {
  anomalyList,
  capture,
  golden,
  pagesIn,
  runTo,
  runToPark,
  symbolTable,
  type Capture,
} from './firmware-capture';
import {
  buildGuest,
  demoElfFor,
  demoQemu,
  DEVICE_PAGE,
  DEVICE_PAGE_2024,
  entryAt,
  hex,
  KVM_INVALID_PTE_MMIO_NOTE,
  KVM_MMIO_NOTE_LEGACY,
  LAZY_BLOCK,
  LAZY_BLOCK_2024,
  LAZY_PAGE,
  LAZY_PAGE_2024,
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
  type Firmware,
  type Scenario,
  type Symbols,
} from './firmware-support';
import type { SymbolTable } from '../../src/elf';

const UART = 0x0900_0000n;
const RTC = 0x0901_0000n;
const FW_CFG = 0x0902_0000n;
const VIRTIO = 0x0a00_0000n;
const ECAM = 0x40_1000_0000n;
const TOUCHED = [RTC, FW_CFG, VIRTIO, ECAM];
/** fw_cfg's data register reads the signature "QEMU" first: a known value for the emulated load. */
const FW_CFG_SIGNATURE = /touch fw_cfg @ 0x9020000\r?\n(?:.*\r?\n)*?\s*read 0x554d4551/;

interface Variant {
  /** Golden-file prefix. */
  readonly name: string;
  readonly fw: Firmware;
  readonly lazyPage: bigint;
  readonly lazyBlock: bigint;
  readonly devicePage: bigint;
  /** MMIO-guard granule = the stub's stage-2 granule. */
  readonly granule: bigint;
  /** The stage-2 entry of a guard-mapped granule at `ipa`. */
  readonly guardEntry: (ipa: bigint) => bigint;
  /** hyp_state.s2_repr. */
  readonly s2Repr: bigint;
  /** Run the bug scenarios too (the firmware builds; pKVM runs a and c as the valid representation does). */
  readonly bugs: readonly Scenario[];
}

const late = { lazyPage: LAZY_PAGE_2024, lazyBlock: LAZY_BLOCK_2024, devicePage: DEVICE_PAGE_2024 };
const seed = { lazyPage: LAZY_PAGE, lazyBlock: LAZY_BLOCK, devicePage: DEVICE_PAGE };
const valid = { guardEntry: (ipa: bigint) => S2_DEVICE_PAGE | ipa, s2Repr: 0n };

const VARIANTS: Variant[] = [
  {
    name: 'demo-2024',
    fw: { variant: '2024' },
    ...late,
    granule: 0x1000n,
    ...valid,
    bugs: ['a', 'b', 'c', 'd'],
  },
  {
    name: 'demo-16k',
    fw: { variant: '16k' },
    ...late,
    granule: 0x4000n,
    ...valid,
    bugs: ['a', 'b', 'c', 'd'],
  },
  {
    name: 'demo-pkvm',
    fw: { s2: 'pkvm' },
    ...seed,
    granule: 0x1000n,
    guardEntry: () => KVM_INVALID_PTE_MMIO_NOTE,
    s2Repr: 1n,
    bugs: ['b', 'd'],
  },
  {
    name: 'demo-16k-pkvm-legacy',
    fw: { variant: '16k', s2: 'pkvm-legacy' },
    ...late,
    granule: 0x4000n,
    guardEntry: () => KVM_MMIO_NOTE_LEGACY,
    s2Repr: 2n,
    bugs: ['d'],
  },
];

const h = (x: bigint) => `0x${x.toString(16)}`;
const pageShift = (v: Variant) => (v.granule === 0x4000n ? 14 : 12);

/** Stage-1 and stage-2 roots from the registers, checked against the symbols and the granule. */
async function roots(gdb: GdbClient, symbols: Symbols, v: Variant): Promise<{ s1: bigint; s2: bigint }> {
  const ttbr0 = await gdb.readRegister('TTBR0_EL1', 1);
  const vttbr = await gdb.readRegister('VTTBR_EL2', 1);
  const vtcr = await gdb.readRegister('VTCR_EL2', 1);
  assert.equal(ttbr0 & OA_MASK, sym(symbols, 'pt_root'));
  assert.equal(vttbr & OA_MASK, sym(symbols, 's2_root'));
  // VTCR_EL2.TG0 [15:14]: 0b00 4 KiB, 0b10 16 KiB; SL0 [7:6] starts the walk at level 1 either way.
  assert.equal((vtcr >> 14n) & 3n, v.granule === 0x4000n ? 2n : 0n, 'VTCR_EL2.TG0');
  assert.equal((vtcr >> 6n) & 3n, v.granule === 0x4000n ? 2n : 1n, 'VTCR_EL2.SL0: level 1');
  assert.equal(vtcr & 0x3fn, 25n, 'VTCR_EL2.T0SZ');
  return { s1: ttbr0 & OA_MASK, s2: vttbr & OA_MASK };
}

/** QEMU's own two-stage debug translation of a virtual address at this stop (the monitor's gva2gpa). */
async function qemuTranslates(gdb: GdbClient, va: bigint): Promise<bigint | undefined> {
  const out = await gdb.monitor(`gva2gpa 0x${va.toString(16)}`);
  const m = /gpa:\s*(0x[0-9a-f]+)/i.exec(out);
  return m ? BigInt(m[1]) : undefined;
}

for (const v of VARIANTS) {
  const elf = demoElfFor(v.fw.variant);
  const pages = Number(v.granule / 0x1000n);
  const granulePages = (base: bigint) => Array.from({ length: pages }, (_, k) => base + BigInt(k) * 0x1000n);

  void describe(`${v.name}: the normal scenario, descriptors and golden dumps`, () => {
    let qemu: QemuInstance | undefined;
    let gdb: GdbClient;
    let symbols: Symbols;
    let table: SymbolTable;
    let s1 = 0n;
    let s2 = 0n;
    const s1At = (va: bigint, level: number) => entryAt(gdb, s1, va, level);
    const s2At = (ipa: bigint, level: number) => entryAt(gdb, s2, ipa, level, pageShift(v));

    before(async () => {
      buildGuest();
      symbols = loadSymbols(elf);
      table = symbolTable(elf);
      qemu = await startQemu(demoQemu('normal', {}, v.fw));
      gdb = await connectTcp(qemu.host, qemu.port, { timeoutMs: 5000, requestTimeoutMs: 10000 });
    });
    after(async () => {
      await gdb?.close();
      await qemu?.kill();
    });

    void test('before the first fault: the RTC lazy, the console guard-mapped in this representation', async () => {
      await runTo(gdb, symbols, 'mmio_read32');
      ({ s1, s2 } = await roots(gdb, symbols, v));
      const c = await capture(gdb, symbols, table, 'before-first-fault');
      golden(`${v.name}-normal-1-before-first-fault`, c.text);
      assert.equal(await s1At(RTC, 3), v.lazyPage | RTC);
      assert.equal(await s1At(UART, 3), v.devicePage | UART, 'console valid since boot');
      assert.equal(await s1At(VIRTIO, 2), v.lazyBlock | VIRTIO);
      assert.equal(await s1At(ECAM, 1), v.lazyBlock | 0x40_0000_0000n);
      assert.equal(await s2At(UART, 3), v.guardEntry(UART));
      assert.equal(await s2At(RTC, 3), 0n);
      // RAM: one 1 GiB block at 4 KiB; 32 MiB level-2 blocks at 16 KiB (no level-1 blocks there).
      if (v.granule === 0x4000n) {
        assert.equal(await s2At(0x4000_0000n, 2), S2_RAM_BLOCK | 0x4000_0000n);
        assert.equal(await s2At(0x7e00_0000n, 2), S2_RAM_BLOCK | 0x7e00_0000n);
      } else assert.equal(await s2At(0x4000_0000n, 1), S2_RAM_BLOCK | 0x4000_0000n);
      const hs = sym(symbols, 'hyp_state');
      assert.equal(
        Number(await readU64(gdb, hs + 0x30n)) & 0xffff_ffff,
        Number(v.s2Repr),
        'hyp_state.s2_repr',
      );
      assert.equal(Number((await readU64(gdb, hs + 0x30n)) >> 32n), Number(v.granule), 'hyp_state.granule');
      // The engine reads the same machine.
      assert.deepEqual(pagesIn(c.guard, 'lazy').slice(0, 1), [pages > 1 ? `${h(RTC)} (${pages})` : h(RTC)]);
      assert.deepEqual(
        c.guard.untracked.map((x) => [x.start, x.pages]),
        [['0x9000000', pages]],
        'the console: its whole guard granule, outside the tracked regions',
      );
      assert.deepEqual(c.guard.anomalies, []);
      assert.equal(c.guard.firmware?.granule, Number(v.granule));
      assert.equal(c.guard.firmware?.generation, v.fw.variant ? 'late2023' : 'seed2023');
      assert.equal(
        c.guard.firmware?.stage2,
        v.fw.s2 === 'pkvm' ? 'pkvmNote' : v.fw.s2 === 'pkvm-legacy' ? 'pkvmLegacy' : 'valid',
      );
    });

    void test('in the first fault: ESR/FAR, the granule still lazy; the verdict names the handler', async () => {
      await runTo(gdb, symbols, 'sync_exception_current');
      assert.equal(await gdb.readRegister('ESR_EL1', 1), 0x9600_0007n);
      assert.equal(await gdb.readRegister('FAR_EL1', 1), RTC);
      for (const p of granulePages(RTC)) assert.equal(await s1At(p, 3), v.lazyPage | p, hex(p));
      const c = await capture(gdb, symbols, table, 'first-fault');
      golden(`${v.name}-normal-2-first-fault`, c.text);
      assert.equal(c.verdict?.kind, 'lazyMmio');
      assert.equal(c.verdict?.mapIpa, '0x9010000');
      if (v.fw.variant) assert.match(c.verdict?.summary ?? '', /set VALID in place/);
      else assert.doesNotMatch(c.verdict?.summary ?? '', /in place/);
      if (v.granule > 0x1000n) assert.match(c.verdict?.summary ?? '', /16 KiB granule 0x09010000/);
    });

    void test('after the first fault: the whole granule valid at stage 1 and guard-mapped at stage 2', async () => {
      await runTo(gdb, symbols, 'mmio_read32');
      for (const p of granulePages(RTC)) assert.equal(await s1At(p, 3), v.devicePage | p, hex(p));
      const next = RTC + v.granule;
      assert.equal(await s1At(next, 3), v.lazyPage | next, 'the next granule stays lazy');
      assert.equal(await s2At(RTC, 3), v.guardEntry(RTC));
      assert.equal(await s2At(next, 3), 0n);
      const log = await readGuardLog(gdb, sym(symbols, 'guard_log'));
      const last = log.entries[log.entries.length - 1];
      assert.deepEqual(last, { seq: log.count, func: MMIO_GUARD_MAP, ipa: RTC, result: 0n });
      // QEMU's own walk through both stages: a valid stage-2 entry translates every page of the
      // granule; pKVM's annotation is an invalid entry, which QEMU does not translate.
      const last4k = RTC + v.granule - 0x1000n;
      assert.equal(await qemuTranslates(gdb, last4k), v.fw.s2 ? undefined : last4k, `gva2gpa ${hex(last4k)}`);
      const c = await capture(gdb, symbols, table, 'after-first-fault');
      golden(`${v.name}-normal-3-after-first-fault`, c.text);
      assert.deepEqual(pagesIn(c.guard, 'guardMapped'), [pages > 1 ? `0x9010000 (${pages})` : '0x9010000']);
      assert.deepEqual(c.guard.anomalies, []);
    });

    void test('scenario_done: UNMAPped granules, stage 1 still valid, the log in granules', async () => {
      await runTo(gdb, symbols, 'scenario_done');
      for (const pa of TOUCHED) {
        assert.equal(await s1At(pa, 3), v.devicePage | pa, `stage 1 ${hex(pa)}`);
        assert.equal(await s2At(pa, 3), 0n, `stage 2 ${hex(pa)}`);
      }
      assert.equal(await s2At(UART, 3), v.guardEntry(UART));
      const log = await readGuardLog(gdb, sym(symbols, 'guard_log'));
      assert.deepEqual(
        log.entries.map((e) => [e.seq, e.func, e.ipa, e.result]),
        [
          [1n, MMIO_GUARD_INFO, 0n, v.granule],
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
      // The tracked ranges are whole granules (pvmfw since 2024 guard-maps in the hypervisor's granule).
      const regions = sym(symbols, 'mmio_regions');
      assert.deepEqual(
        [await readU64(gdb, regions), await readU64(gdb, regions + 8n)],
        [RTC, RTC + (v.fw.variant ? v.granule : 0x1000n)],
      );
      const hs = sym(symbols, 'hyp_state');
      assert.equal(await readU64(gdb, hs + 8n), 1n, 'hyp_state.guard_mapped: the console');
      if (v.fw.s2) {
        assert.ok((await readU64(gdb, hs + 0x38n)) > 100n, 'every UART access emulated at EL2');
        await qemu!.waitForOutput(/parked at scenario_done/, 5000);
        assert.match(qemu!.output(), FW_CFG_SIGNATURE, 'the emulated load returned the device data');
      } else assert.equal(await readU64(gdb, hs + 0x38n), 0n, 'nothing emulated');
      const c = await capture(gdb, symbols, table, 'scenario_done');
      golden(`${v.name}-normal-4-scenario_done`, c.text);
      assert.deepEqual(pagesIn(c.guard, 'guardMapped'), []);
      assert.deepEqual(
        pagesIn(c.guard, 'unmapped'),
        TOUCHED.map((p) => `${h(p)}${pages > 1 ? ` (${pages})` : ''}`),
      );
      assert.deepEqual(anomalyList(c.guard), []);
    });
  });

  void describe(`${v.name}: bug scenarios`, () => {
    let symbols: Symbols;
    let table: SymbolTable;
    before(() => {
      buildGuest();
      symbols = loadSymbols(elf);
      table = symbolTable(elf);
    });

    /** Boots the scenario halted, runs it to its parking loop, hands the target over. */
    async function parked(
      scenario: Scenario,
      fn: (gdb: GdbClient, park: string, c: Capture) => Promise<void>,
    ) {
      const qemu = await startQemu(demoQemu(scenario, {}, v.fw));
      let gdb: GdbClient | undefined;
      try {
        gdb = await connectTcp(qemu.host, qemu.port, { timeoutMs: 5000, requestTimeoutMs: 10000 });
        const park = await runToPark(gdb, symbols);
        await qemu.waitForOutput(/parked at \w+/, 5000);
        const c = await capture(gdb, symbols, table, `scenario ${scenario} at ${park}`);
        golden(`${v.name}-${scenario}-${park}`, c.text);
        await fn(gdb, park, c);
      } catch (e) {
        process.stderr.write(
          `\n----- QEMU output (${v.name} scenario ${scenario}) -----\n${qemu.output()}\n`,
        );
        throw e;
      } finally {
        await gdb?.close();
        await qemu.kill();
      }
    }

    const s1Root = async (gdb: GdbClient) => (await gdb.readRegister('TTBR0_EL1', 1)) & OA_MASK;
    const s2Root = async (gdb: GdbClient) => (await gdb.readRegister('VTTBR_EL2', 1)) & OA_MASK;

    if (v.bugs.includes('a'))
      void test('a: a valid lazy 2 MiB block, guard-mapped for one granule only', () =>
        parked('a', async (gdb, park, c) => {
          assert.equal(park, 'panic_park');
          assert.equal(await entryAt(gdb, await s1Root(gdb), VIRTIO, 2), v.lazyBlock | 1n | VIRTIO);
          const s2 = await s2Root(gdb);
          assert.equal(await entryAt(gdb, s2, VIRTIO, 3, pageShift(v)), v.guardEntry(VIRTIO));
          assert.equal(await entryAt(gdb, s2, VIRTIO + v.granule, 3, pageShift(v)), 0n);
          assert.ok(
            c.guard.anomalies.some((a) => a.code === 'lazyNotPage' && a.va === '0xa000000'),
            JSON.stringify(anomalyList(c.guard)),
          );
        }));

    if (v.bugs.includes('b'))
      void test('b: fw_cfg valid without MMIO_GUARD_MAP, the injected abort', () =>
        parked('b', async (gdb, park, c) => {
          assert.equal(park, 'panic_park');
          assert.equal(await entryAt(gdb, await s1Root(gdb), FW_CFG, 3), v.devicePage | FW_CFG);
          assert.equal(await entryAt(gdb, await s2Root(gdb), FW_CFG, 3, pageShift(v)), 0n);
          assert.equal(await gdb.readRegister('ESR_EL1', 1), 0x9600_0010n);
          assert.equal(await gdb.readRegister('FAR_EL1', 1), FW_CFG);
          assert.equal(await readU64(gdb, sym(symbols, 'hyp_state') + 0x10n), 1n, 'injected_aborts');
          assert.ok(
            c.guard.anomalies.some((a) => a.code === 'validUnguarded' && a.va === '0x9020000'),
            JSON.stringify(anomalyList(c.guard)),
          );
        }));

    if (v.bugs.includes('c'))
      void test('c: the lazy flag on a RAM page: MAP refused (4 KiB), or InvalidPte on its granule (16 KiB)', () =>
        parked('c', async (gdb, park, c) => {
          assert.equal(park, 'panic_park');
          const bug = sym(symbols, 'bug_c_page');
          assert.equal(await entryAt(gdb, await s1Root(gdb), bug, 3), 0x00e0_0000_0000_0f06n | bug);
          const log = await readGuardLog(gdb, sym(symbols, 'guard_log'));
          const last = log.entries[log.entries.length - 1];
          if (v.granule === 0x1000n)
            assert.deepEqual([last.func, last.ipa, last.result], [MMIO_GUARD_MAP, bug, -3n]);
          else assert.deepEqual([last.func, last.ipa], [MMIO_GUARD_MAP, ECAM], 'no MAP for the RAM granule');
          assert.ok(
            c.guard.anomalies.some((a) => a.code === 'lazyOnNormalMemory' && a.va === h(bug)),
            JSON.stringify(anomalyList(c.guard)),
          );
        }));

    if (v.bugs.includes('c') && v.granule > 0x1000n)
      void test('c at the fault: the verdict checks the whole guard granule and predicts the InvalidPte the firmware hits', async () => {
        const qemu = await startQemu(demoQemu('c', {}, v.fw));
        let gdb: GdbClient | undefined;
        try {
          gdb = await connectTcp(qemu.host, qemu.port, { timeoutMs: 5000, requestTimeoutMs: 10000 });
          // Faults 1-4 are the devices; the fifth is the write to bug_c_page.
          for (let i = 0; i < 5; i++) await runTo(gdb, symbols, 'sync_exception_current');
          const bug = sym(symbols, 'bug_c_page');
          assert.equal(await gdb.readRegister('FAR_EL1', 1), bug);
          const c = await capture(gdb, symbols, table, 'scenario c, fault on bug_c_page');
          golden(`${v.name}-c-fault`, c.text);
          assert.equal(c.verdict?.kind, 'invalidPte', c.verdict?.summary);
          const base = bug & ~(v.granule - 1n);
          assert.match(c.verdict?.summary ?? '', new RegExp(`guard granule ${h(base)}\\)`));
          const named = /level-3 entry (0x[0-9a-f]{16})/.exec(c.verdict?.summary ?? '')?.[1];
          assert.ok(named, c.verdict?.summary);
          // What the firmware then does (its own words on the UART).
          await runToPark(gdb, symbols);
          await qemu.waitForOutput(/parked at panic_park/, 5000);
          assert.match(qemu.output(), /handle_mmio_fault\(0x[0-9a-f]+\) failed: InvalidPte/);
          assert.ok(
            qemu.output().includes(`level-3 entry ${named} is not a lazy invalid leaf`),
            'the entry the verdict named',
          );
        } finally {
          await gdb?.close();
          await qemu.kill();
        }
      });

    if (v.bugs.includes('d'))
      void test('d: mmio_unmap_all skipped: the granules stay guard-mapped, each a guardLeak', () =>
        parked('d', async (gdb, park, c) => {
          assert.equal(park, 'scenario_done');
          const s2 = await s2Root(gdb);
          for (const pa of TOUCHED)
            assert.equal(await entryAt(gdb, s2, pa, 3, pageShift(v)), v.guardEntry(pa), hex(pa));
          assert.equal(await readU64(gdb, sym(symbols, 'hyp_state') + 8n), 5n, 'guard_mapped');
          const leaked = TOUCHED.map(h);
          assert.deepEqual(
            anomalyList(c.guard),
            leaked.map((p) => `guardLeak/warning ${p}`),
          );
        }));
  });
}
