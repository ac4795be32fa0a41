// Debug Console text for the `guard`, `pte ADDR` and `translate ADDR [--write|--exec]` commands.
import { regimeVaBits, sizeName } from '../aarch64/format';
import { formatAddress, formatDescriptor } from '../shared/format';
import { guardSummaryLines, hex, translateEl1, twoStageBody } from '../analysis';
import { predictAccess } from '../pvmfw';
import {
  PAGE_GUARD_STATE_LABEL,
  UNTRACKED_GUARD_LABEL,
  type PageRun,
  type PteEntry,
  type Regime,
  type TranslateResponseBody,
} from '../shared/protocol';
import type { TranslateAccess } from './evaluate';
import type { MmuModel } from './mmu';

export async function guardSummary(mmu: MmuModel): Promise<{ result: string; variablesReference: number }> {
  const lines = guardSummaryLines(await mmu.guardState({}));
  return { result: lines.join('\n'), variablesReference: 0 };
}

/**
 * The translation of `address` for a write or an instruction fetch, as the CLI's `translate
 * --write/--exec` checks it: the same walk with the access's permissions, and pvmfw's verdict for
 * that access (a stage-2 fault is taken to EL2: no pvmfw verdict).
 */
async function forAccess(
  mmu: ConsoleMmu,
  address: bigint,
  access: TranslateAccess,
  base: TranslateResponseBody,
): Promise<TranslateResponseBody> {
  const p = await mmu.current();
  const x = await translateEl1(p.input.registers, p.input.reader, address, { [access]: true });
  const two = twoStageBody(x, mmu.lazyBit);
  const v = x.fault?.stage === 2 ? undefined : predictAccess(x.stage1, access === 'write', mmu.lazyBit);
  const { fault: _f, faultStage: _s, verdict: _v, ...rest } = base;
  return {
    ...rest,
    ok: two.ok,
    ...(two.fault ? { fault: two.fault, faultStage: two.faultStage } : {}),
    ...(v
      ? {
          verdict: {
            kind: v.kind,
            summary: v.summary,
            ...(v.mapIpa !== undefined ? { mapIpa: hex(v.mapIpa) } : {}),
          },
        }
      : {}),
  };
}

/** The page run of `runs` holding `address`. */
function runAt(runs: readonly PageRun[], address: bigint): PageRun | undefined {
  return runs.find((r) => address >= BigInt(r.start) && address < BigInt(r.start) + BigInt(r.pages) * 4096n);
}

/**
 * The guard line of an entry: its tracked region's state, or, for a valid 4 KiB page whose output
 * address the guard state lists as guard-mapped outside the tracked regions (pvmfw's console), that.
 */
async function guardLine(mmu: ConsoleMmu, e: PteEntry): Promise<string | undefined> {
  if (e.guard) return PAGE_GUARD_STATE_LABEL[e.guard];
  if (e.kind !== 'page' || !e.outputAddress || !mmu.guardState) return undefined;
  const g = await mmu.guardState({ omitLog: true });
  const run = runAt(g.untracked, BigInt(e.outputAddress));
  return run
    ? `${UNTRACKED_GUARD_LABEL} (outside every tracked MMIO region, e.g. the console pvmfw maps at boot)`
    : undefined;
}

/**
 * What `pte` and `translate` need of the MMU model; without `guardState`, `pte` names the tracked
 * regions' states only (the untracked guard-mapped pages come from the guard state).
 */
export type ConsoleMmu = Pick<MmuModel, 'translateRequest' | 'current' | 'lazyBit'> & {
  guardState?: MmuModel['guardState'];
};

/** A PA or IPA as every view writes it; `?` where there is none. */
const fa = (a: string | undefined): string => (a === undefined ? '?' : formatAddress(a));
/** A descriptor, 16 digits; `??` where it could not be read. */
const fd = (d: string | undefined): string => (d === undefined ? '??' : formatDescriptor(d));

/**
 * The width an input address of `regime` is written in: the regime's VA size (64 bits with TTBR1 in
 * use); a VTTBR_EL2 input is an IPA, written as every other IPA.
 */
export async function vaBitsOf(
  mmu: Pick<ConsoleMmu, 'current'>,
  regime: Regime,
): Promise<number | undefined> {
  if (regime === 'VTTBR_EL2') return undefined;
  const p = await mmu.current();
  const walk = regime === 'TTBR0_EL2' ? p.el2 : p.el1;
  return walk ? regimeVaBits(walk.config) : 64;
}

export async function evaluateTranslate(
  mmu: ConsoleMmu,
  address: bigint,
  kind: 'pte' | 'translate',
  access?: TranslateAccess,
): Promise<{ result: string; variablesReference: number }> {
  const plain = await mmu.translateRequest({ address: hex(address) });
  const r = access ? await forAccess(mmu, address, access, plain) : plain;
  const lines: string[] = [];
  const s2 = r.stage2;
  // A stage-2 walk that fails is what the access faults on when stage 1 let it through.
  const s2Fault = r.faultStage === 2 ? r.fault : s2?.fault;
  // Under stage 2 the stage-1 walk's descriptor addresses are IPAs: their PAs follow.
  const at = (k: number, a: string): string => {
    const pa = r.walkPhysical?.[k];
    return pa && pa !== a ? `${fa(a)} (PA ${fa(pa)})` : fa(a);
  };
  const va = formatAddress(r.address, await vaBitsOf(mmu, r.regime));
  const where = r.ipa !== undefined ? `IPA ${fa(r.ipa)} → PA ${fa(r.outputAddress)}` : fa(r.outputAddress);
  if (kind === 'translate') {
    const what = access ? `${r.regime}, ${access === 'write' ? 'write' : 'instruction fetch'}` : r.regime;
    lines.push(`${va} (${what}) → ${r.ok ? where : `fault: ${r.fault ?? 'none'}`}`);
    r.walk.forEach((s, k) =>
      lines.push(
        `  L${s.level}[${s.index}] @ ${at(k, s.descriptorAddress)} = ${fd(s.descriptor)} ${s.kind ?? ''}`.trimEnd(),
      ),
    );
    if (s2) {
      const what = s2.s1ptw ? `S1PTW, the L${s2.s1ptw.level} descriptor's IPA` : 'IPA';
      lines.push(
        `  stage 2 (${what} ${fa(s2.ipa)}): ${s2.ok ? `→ ${fa(s2.outputAddress)}` : `fault: ${s2Fault ?? '?'}`}`,
      );
      for (const s of s2.walk)
        lines.push(
          `    L${s.level}[${s.index}] @ ${fa(s.descriptorAddress)} = ${fd(s.descriptor)} ${s.kind ?? ''}`.trimEnd(),
        );
    }
    if (r.combined) lines.push(`  combined: ${r.combined.memoryType} ${r.combined.permissions}`);
  } else {
    const e = r.leaf;
    if (!e) lines.push(`${va}: no leaf entry (${r.fault ?? 'walk ended early'})`);
    else {
      lines.push(
        `${va}: L${e.level} ${e.kind} ${sizeName(e.size)} ${fd(e.descriptor)} @ ${at(r.walk.length - 1, e.descriptorAddress)}`,
      );
      for (const f of e.fields) lines.push(`  ${f}`);
      const guard = await guardLine(mmu, e);
      if (guard) lines.push(`  guard: ${guard}`);
      for (const a of e.anomalies ?? []) lines.push(`  anomaly: ${a.message}`);
    }
    // The entry maps an IPA under stage 2: where stage 2 sends it, and what the access gets.
    if (s2) {
      const last = s2.walk[s2.walk.length - 1];
      const entry = last
        ? `, ${[`L${last.level}`, last.kind, fd(last.descriptor)].filter(Boolean).join(' ')} @ ${fa(last.descriptorAddress)}`
        : '';
      const to = s2.ok ? `→ PA ${fa(s2.outputAddress)}` : `fault: ${s2Fault ?? '?'}`;
      lines.push(`  stage 2: IPA ${fa(s2.ipa)} ${to}${entry}`);
      if (s2.memoryType)
        lines.push(`  stage 2 attributes: ${s2.memoryType} ${s2.permissions ?? ''}`.trimEnd());
    } else if (r.faultStage === 2 && r.fault) lines.push(`  ${r.fault}`);
    if (r.combined && r.ipa !== undefined)
      lines.push(`  combined: ${r.combined.memoryType} ${r.combined.permissions}`);
  }
  if (r.verdict) lines.push(`  verdict: ${r.verdict.summary}`);
  return { result: lines.join('\n'), variablesReference: 0 };
}
