// What the engine says about a stopped demo firmware, as deterministic text for golden dumps: the
// walks as the CLI prints them, the analysis core's guard state and fault verdict, and the pvmfw
// flavour it read (generation, guard granule, stage-2 representation). Shared by the variant tests
// and test/qemu/engine-demo.test.ts (demo.elf's dumps, written without the flavour line).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { batchReader, getRegister, hex, type PhysReader, type Registers } from '../../src/aarch64';
import {
  analyzeStop,
  guardReport,
  guardSummaryLines,
  programSymbols,
  STOP_REGISTERS,
  type GuardState,
  type StopPicture,
} from '../../src/analysis';
import { ALL_REGISTERS } from '../../src/cli/source';
import { diagnosticLines, regimeHeader, regionLines } from '../../src/cli/render';
import { ElfImage, SymbolTable } from '../../src/elf';
import { BP_SOFTWARE, type GdbClient } from '../../src/gdb';
import type { FaultVerdict, PageGuardState } from '../../src/shared/protocol';
import { repoRoot, sym, type Symbols } from './firmware-support';

const goldenDir = resolve(repoRoot, 'test/golden');
const update = process.env.UPDATE_GOLDEN === '1';

export interface Capture {
  readonly registers: Registers;
  readonly picture: StopPicture;
  readonly guard: GuardState;
  readonly verdict?: FaultVerdict;
  readonly text: string;
}

export function symbolTable(elf: string): SymbolTable {
  return SymbolTable.fromElf(ElfImage.parse(new Uint8Array(readFileSync(elf))).elf);
}

function reader(gdb: GdbClient): PhysReader {
  return batchReader(
    (r) => gdb.readPhysicalBatch(r),
    (a, l) => gdb.readPhysical(a, l),
  );
}

/** Pages of the tracked regions in `state`, as `0x… (n)` runs. */
export function pagesIn(g: GuardState, state: PageGuardState): string[] {
  return g.regions
    .flatMap((r) => r.runs)
    .filter((x) => x.state === state)
    .map((x) => `${x.start}${x.pages > 1 ? ` (${x.pages})` : ''}`);
}

export const anomalyList = (g: GuardState): string[] =>
  g.anomalies.map((a) => `${a.code}/${a.severity} ${a.va ?? a.ipa ?? ''}`);

/** The stop as the engine sees it, with `point` naming it in the dump. */
export async function capture(
  gdb: GdbClient,
  symbols: Symbols,
  table: SymbolTable,
  point: string,
  o: { flavour?: boolean } = {},
): Promise<Capture> {
  const values = await gdb.readRegisters([...new Set([...ALL_REGISTERS, ...STOP_REGISTERS])], 1);
  const registers: Record<string, bigint | undefined> = Object.fromEntries(values);
  const canonical: Record<string, bigint | undefined> = {};
  for (const n of STOP_REGISTERS) canonical[n] = getRegister(registers, n);
  const pc = canonical.pc ?? 0n;
  const inHandler = pc === sym(symbols, 'sync_exception_current');
  const picture = await analyzeStop({
    stopId: 1,
    reason: 'pause',
    threadId: 1,
    registers: canonical,
    reader: reader(gdb),
    symbols: programSymbols(table),
    options: { lazyBit: 55, guardLogSymbol: 'guard_log' },
  });
  const s1 = picture.el1.result;
  const s2 = picture.stage2?.result;
  const fault = picture.fault;
  const verdict = inHandler ? fault?.verdict : undefined;
  const fw = picture.guard.firmware;
  const lines = [
    `# ${point}: pc ${hex(pc)}${inHandler ? ` (sync_exception_current, ESR_EL1 ${fault?.esr.raw}, FAR_EL1 ${fault?.far})` : ''}`,
    ...(fw && o.flavour !== false
      ? [
          `pvmfw: ${fw.generation} (handler ${fw.handler}), guard granule ${fw.granule} from ${fw.granuleFrom}, stage-2 guard entries ${fw.stage2 ?? 'n/a'}`,
        ]
      : []),
    ...regimeHeader(s1.regime, 'demo'),
    ...regionLines(s1, 55),
    ...diagnosticLines(s1),
    ...(s2 ? [...regimeHeader(s2.regime, 'demo'), ...regionLines(s2, 55)] : ['stage 2: off']),
    ...guardSummaryLines(guardReport(picture)),
    ...(verdict ? [`verdict: ${verdict.kind}: ${verdict.summary}`] : []),
  ];
  return {
    registers,
    picture,
    guard: picture.guard,
    ...(verdict ? { verdict } : {}),
    text: lines.join('\n') + '\n',
  };
}

/** Compares `text` with test/golden/<name>.txt (written instead with UPDATE_GOLDEN=1). */
export function golden(name: string, text: string): void {
  const file = resolve(goldenDir, `${name}.txt`);
  if (update) {
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(file, text);
    return;
  }
  assert.ok(existsSync(file), `missing golden ${file}: run with UPDATE_GOLDEN=1 once and review it`);
  assert.equal(
    text,
    readFileSync(file, 'utf8'),
    `${name} differs from test/golden/${name}.txt (UPDATE_GOLDEN=1 to accept)`,
  );
}

/** Continues to the `hits`-th arrival at `symbol` (breakpoint removed afterwards). */
export async function runTo(gdb: GdbClient, symbols: Symbols, symbol: string, hits = 1): Promise<void> {
  const at = sym(symbols, symbol);
  // Already there: step off first, or the breakpoint would report this same stop again.
  if ((await gdb.readRegister('pc', 1)) === at) await gdb.step(1, 15000);
  await gdb.insertBreakpoint(BP_SOFTWARE, at);
  for (let i = 0; i < hits; i++) {
    await gdb.resume('continue');
    assert.equal((await gdb.waitForStop(15000)).kind, 'signal');
  }
  await gdb.removeBreakpoint(BP_SOFTWARE, at);
  assert.equal(await gdb.readRegister('pc', 1), at, `stopped at ${symbol}`);
}

/** Runs to whichever parking loop the scenario reaches (panic_park or scenario_done). */
export async function runToPark(gdb: GdbClient, symbols: Symbols): Promise<string> {
  const parks = ['panic_park', 'scenario_done'];
  for (const p of parks) await gdb.insertBreakpoint(BP_SOFTWARE, sym(symbols, p));
  await gdb.resume('continue');
  assert.equal((await gdb.waitForStop(15000)).kind, 'signal');
  for (const p of parks) await gdb.removeBreakpoint(BP_SOFTWARE, sym(symbols, p));
  const pc = await gdb.readRegister('pc', 1);
  const at = parks.find((p) => pc >= sym(symbols, p) && pc < sym(symbols, p) + 16n);
  assert.ok(at, `pc 0x${pc.toString(16)} in a parking loop`);
  return at;
}
