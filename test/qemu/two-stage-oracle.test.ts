// QEMU's own MMU as the oracle for our two-stage translation, on the demo firmware (EL1 under the
// demo's EL2 stub, stage 2 on: RAM identity-mapped as blocks, MMIO pages mapped only while
// guard-mapped).
//
// - `monitor gva2gpa VA` (QEMU 7.2 answers "gpa: 0x…" or "Unmapped") goes through the vCPU's
//   current regime, EL1&0 *with* stage 2 (arm_cpu_get_phys_page_attrs_debug() walks both stages,
//   get_phys_addr_twostage()): it gives the final PA, not the IPA. This test shows it: at
//   scenario_done the RTC page is valid at stage 1 and MMIO_GUARD_UNMAPped at stage 2, and
//   gva2gpa says "Unmapped" where a stage-1-only walk would give its IPA.
// - A virtual `m` read goes through the same two stages (E14 when either faults).
// So: wherever QEMU translates, our PA equals gva2gpa's and the physical bytes at our PA equal the
// virtual read; wherever QEMU does not, we report a fault (of stage 1, or of stage 2 with the IPA
// stage 1 gave). Our answer is taken twice: the core in-process over this gdb connection, and the
// CLI's `translate --json` over its own.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { batchReader, getRegister, hex, type PhysReader } from '../../src/aarch64';
import type { TwoStageTranslation } from '../../src/aarch64/twoStage';
import { STOP_REGISTERS } from '../../src/analysis';
import { translateEl1 } from '../../src/analysis/translation';
import { ALL_REGISTERS } from '../../src/cli/source';
import { BP_SOFTWARE, connectTcp, type GdbClient } from '../../src/gdb';
import { formatAddress } from '../../src/shared/format';
import { startQemu, type QemuInstance } from '../harness/qemu';
import { buildGuest, demoQemu, loadSymbols, repoRoot, sym, type Symbols } from './firmware-support';

const cli = resolve(repoRoot, 'out/src/cli/main.js');

/** Sampled VAs: what each is, and what it must be at both stops. */
const RTC_ID = 0x0901_0fe0n; // PL031 PeriphID/CellID registers: constant, unlike the counter at +0
const SAMPLES = (s: Symbols): { va: bigint; what: string }[] => [
  { va: sym(s, 'el1_main'), what: 'code' },
  { va: sym(s, 'mmio_regions'), what: 'data' },
  { va: sym(s, 'pt_root') + 0x10n, what: 'the stage-1 root table' },
  { va: RTC_ID, what: 'the guard-mapped RTC page' },
  { va: 0x0902_0000n, what: 'a lazy page (fw_cfg)' },
  { va: 0x0900_0000n, what: 'the console (guard-mapped at boot)' },
  { va: sym(s, 'guard_log'), what: "EL2's data, not mapped at stage 1" },
  { va: 0x8000_0000n, what: 'an unmapped VA (stage-1 level 1)' },
];

interface Oracle {
  /** gva2gpa's PA, or undefined for "Unmapped". */
  readonly gpa: bigint | undefined;
  /** A virtual read of 16 bytes at the VA, or undefined when it faults. */
  readonly bytes: string | undefined;
}

interface CliJson {
  pa: string | null;
  ipa: string | null;
  fault: { stage: number; kind: string; level: number } | null;
}

async function oracle(gdb: GdbClient, va: bigint): Promise<Oracle> {
  const answer = (await gdb.monitor(`gva2gpa ${hex(va)}`)).trim();
  const m = /^gpa: (0x[0-9a-f]+)$/.exec(answer);
  assert.ok(m || answer === 'Unmapped', `gva2gpa ${hex(va)} answered '${answer}'`);
  let bytes: string | undefined;
  try {
    bytes = Buffer.from(await gdb.readMemory(va, 16)).toString('hex');
  } catch (e) {
    assert.match(String(e), /E14/, 'a virtual read fails only for want of a translation');
  }
  return { gpa: m ? BigInt(m[1]) : undefined, bytes };
}

void describe('two-stage translation against QEMU (gva2gpa, virtual reads), demo firmware', () => {
  let qemu: QemuInstance | undefined;
  let gdb: GdbClient | undefined;
  let symbols: Symbols;
  before(async () => {
    buildGuest();
    symbols = loadSymbols();
    qemu = await startQemu(demoQemu('normal'));
    gdb = await connectTcp(qemu.host, qemu.port, { timeoutMs: 5000, requestTimeoutMs: 10000 });
  });
  after(async () => {
    await gdb?.close();
    await qemu?.kill();
  });

  async function runTo(symbol: string): Promise<void> {
    const at = sym(symbols, symbol);
    if ((await gdb!.readRegister('pc', 1)) === at) await gdb!.step(1, 15000);
    await gdb!.insertBreakpoint(BP_SOFTWARE, at);
    await gdb!.resume('continue');
    assert.equal((await gdb!.waitForStop(15000)).kind, 'signal');
    await gdb!.removeBreakpoint(BP_SOFTWARE, at);
    assert.equal(await gdb!.readRegister('pc', 1), at, `stopped at ${symbol}`);
  }

  /** Our translations of the samples, over this connection (physical reads only). */
  async function ours(vas: readonly bigint[]): Promise<TwoStageTranslation[]> {
    const values = await gdb!.readRegisters([...new Set([...ALL_REGISTERS, ...STOP_REGISTERS])], 1);
    const raw: Record<string, bigint | undefined> = Object.fromEntries(values);
    const regs: Record<string, bigint | undefined> = {};
    for (const n of ALL_REGISTERS) regs[n] = getRegister(raw, n);
    assert.equal((regs.HCR_EL2 ?? 0n) & 1n, 1n, 'the demo runs EL1 with stage 2 on');
    const reader: PhysReader = batchReader(
      (r) => gdb!.readPhysicalBatch(r),
      (a, l) => gdb!.readPhysical(a, l),
    );
    const out: TwoStageTranslation[] = [];
    for (const va of vas) out.push(await translateEl1(regs, reader, va));
    return out;
  }

  /** The CLI's answer over its own connection (ours is closed meanwhile; the guest stays stopped). */
  async function cliAnswers(vas: readonly bigint[]): Promise<CliJson[]> {
    await gdb!.close();
    try {
      return vas.map((va) => {
        const r = spawnSync(
          process.execPath,
          [cli, 'translate', '--gdb', `127.0.0.1:${qemu!.port}`, hex(va), '--json'],
          { encoding: 'utf8' },
        );
        assert.ok(r.status === 0 || r.status === 4, `translate ${hex(va)}: exit ${r.status}: ${r.stderr}`);
        return JSON.parse(r.stdout) as CliJson;
      });
    } finally {
      gdb = await connectTcp(qemu!.host, qemu!.port, { timeoutMs: 5000, requestTimeoutMs: 10000 });
    }
  }

  /** Every sample: ours, the CLI's and QEMU's agree. Returns the samples' results for more checks. */
  async function agree(stop: string): Promise<Map<bigint, { x: TwoStageTranslation; q: Oracle }>> {
    const samples = SAMPLES(symbols);
    const vas = samples.map((s) => s.va);
    const xs = await ours(vas);
    const out = new Map<bigint, { x: TwoStageTranslation; q: Oracle }>();
    for (const [k, { va, what }] of samples.entries()) {
      const x = xs[k];
      const q = await oracle(gdb!, va);
      const at = `${stop}: ${hex(va)} (${what})`;
      // gva2gpa walks both stages: it gives our final PA, or nothing where we report a fault.
      assert.equal(
        x.pa,
        q.gpa,
        `${at}: our PA ${x.pa === undefined ? `none (${x.fault?.message})` : hex(x.pa)}, gva2gpa ${q.gpa === undefined ? 'Unmapped' : hex(q.gpa)}`,
      );
      assert.equal(
        x.pa === undefined,
        q.bytes === undefined,
        `${at}: a virtual read faults exactly where we fault`,
      );
      if (x.pa !== undefined) {
        // Stage 2 is applied: the bytes at our PA (a physical read) are those the CPU reads at the VA.
        const phys = Buffer.from(await gdb!.readPhysical(x.pa, 16)).toString('hex');
        assert.equal(phys, q.bytes, `${at}: physical bytes at our PA = virtual bytes at the VA`);
        assert.ok(x.ipa !== undefined && x.fault === undefined, at);
      } else assert.ok(x.fault, `${at}: a fault is reported`);
      out.set(va, { x, q });
    }
    const viaCli = await cliAnswers(vas);
    for (const [k, va] of vas.entries()) {
      const x = xs[k];
      assert.deepEqual(
        viaCli[k],
        {
          ...viaCli[k],
          pa: x.pa !== undefined ? hex(x.pa) : null,
          ipa: x.ipa !== undefined ? hex(x.ipa) : null,
          fault: x.fault
            ? { ...viaCli[k].fault!, stage: x.fault.stage, kind: x.fault.kind, level: x.fault.level }
            : null,
        },
        `${stop}: the CLI's translate ${hex(va)} --json agrees with the core`,
      );
    }
    return out;
  }

  void test('after the first fault: RTC guard-mapped, fw_cfg lazy, code and data through both stages', async () => {
    await runTo('mmio_read32');
    await runTo('sync_exception_current');
    await runTo('mmio_read32');
    const r = await agree('after-first-fault');
    const rtc = r.get(RTC_ID)!.x;
    assert.equal(rtc.pa, RTC_ID);
    assert.equal(rtc.memType?.name, 'Device-nGnRE', 'Device-nGnRE at both stages');
    const code = r.get(sym(symbols, 'el1_main'))!.x;
    assert.equal(code.memType?.name, 'Normal WB RA WA', 'Normal WB RA WA over stage-2 Normal WB');
    const lazy = r.get(0x0902_0000n)!.x;
    assert.equal(lazy.fault?.stage, 1, 'the lazy page faults at stage 1 (pvmfw maps it on first touch)');
    assert.equal(lazy.ipa, 0x0902_0000n, 'the IPA its lazy leaf names');
    assert.equal(
      lazy.stage2?.fault?.kind,
      'translation',
      'not guard-mapped yet: stage 2 does not map it either',
    );
    assert.equal(r.get(0x8000_0000n)!.x.fault?.level, 1);
  });

  void test('at scenario_done: pages still valid at stage 1 but MMIO_GUARD_UNMAPped fault at stage 2', async () => {
    await runTo('scenario_done');
    const r = await agree('scenario_done');
    for (const va of [RTC_ID, 0x0902_0000n]) {
      const { x, q } = r.get(va)!;
      assert.equal(x.stage1.fault, undefined, `${hex(va)}: stage 1 translates (the tracker left it valid)`);
      assert.equal(x.ipa, va, `${hex(va)}: to this IPA`);
      assert.equal(x.fault?.stage, 2, `${hex(va)}: and stage 2 refuses it`);
      assert.equal(x.fault?.kind, 'translation');
      assert.equal(x.fault?.level, 3, 'the guard page was a stage-2 level-3 page');
      assert.equal(x.fault?.message, `stage-2 translation fault, level 3 (IPA ${formatAddress(va)})`);
      // QEMU agrees, and its gva2gpa is not a stage-1-only walk: that would have given the IPA.
      assert.equal(q.gpa, undefined);
    }
  });
});
