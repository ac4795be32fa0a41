// Debug Console text for the `guard`, `pte ADDR` and `translate ADDR` commands.
import { sizeName } from '../aarch64/format';
import { guardSummaryLines, hex } from '../analysis';
import type { MmuModel } from './mmu';

export async function guardSummary(mmu: MmuModel): Promise<{ result: string; variablesReference: number }> {
  const lines = guardSummaryLines(await mmu.guardState({}));
  return { result: lines.join('\n'), variablesReference: 0 };
}

export async function evaluateTranslate(
  mmu: MmuModel,
  address: bigint,
  kind: 'pte' | 'translate',
): Promise<{ result: string; variablesReference: number }> {
  const r = await mmu.translateRequest({ address: hex(address) });
  const lines: string[] = [];
  const s2 = r.stage2;
  // A stage-2 walk that fails is what the access faults on when stage 1 let it through.
  const s2Fault = r.faultStage === 2 ? r.fault : s2?.fault;
  // Under stage 2 the stage-1 walk's descriptor addresses are IPAs: their PAs follow.
  const at = (k: number, a: string): string => {
    const pa = r.walkPhysical?.[k];
    return pa && pa !== a ? `${a} (PA ${pa})` : a;
  };
  const where =
    r.ipa !== undefined ? `IPA ${r.ipa} -> PA ${r.outputAddress ?? '?'}` : (r.outputAddress ?? '?');
  if (kind === 'translate') {
    lines.push(`${r.address} (${r.regime}) -> ${r.ok ? where : `fault: ${r.fault ?? 'none'}`}`);
    r.walk.forEach((s, k) =>
      lines.push(
        `  L${s.level}[${s.index}] @ ${at(k, s.descriptorAddress)} = ${s.descriptor ?? '??'} ${s.kind ?? ''}`.trimEnd(),
      ),
    );
    if (s2) {
      const what = s2.s1ptw ? `S1PTW, the L${s2.s1ptw.level} descriptor's IPA` : 'IPA';
      lines.push(
        `  stage 2 (${what} ${s2.ipa ?? '?'}): ${s2.ok ? `-> ${s2.outputAddress}` : `fault: ${s2Fault ?? '?'}`}`,
      );
      for (const s of s2.walk)
        lines.push(
          `    L${s.level}[${s.index}] @ ${s.descriptorAddress} = ${s.descriptor ?? '??'} ${s.kind ?? ''}`.trimEnd(),
        );
    }
    if (r.combined) lines.push(`  combined: ${r.combined.memoryType} ${r.combined.permissions}`);
  } else {
    const e = r.leaf;
    if (!e) lines.push(`${r.address}: no leaf entry (${r.fault ?? 'walk ended early'})`);
    else {
      lines.push(
        `${r.address}: L${e.level} ${e.kind} ${sizeName(e.size)} ${e.descriptor} @ ${at(r.walk.length - 1, e.descriptorAddress)}`,
      );
      for (const f of e.fields) lines.push(`  ${f}`);
      if (e.guard) lines.push(`  guard: ${e.guard}`);
      for (const a of e.anomalies ?? []) lines.push(`  anomaly: ${a.message}`);
    }
    // The entry maps an IPA under stage 2: where stage 2 sends it, and what the access gets.
    if (s2) {
      const last = s2.walk[s2.walk.length - 1];
      const entry = last
        ? `, ${[`L${last.level}`, last.kind, last.descriptor ?? '??'].filter(Boolean).join(' ')} @ ${last.descriptorAddress}`
        : '';
      const to = s2.ok ? `-> PA ${s2.outputAddress}` : `fault: ${s2Fault ?? '?'}`;
      lines.push(`  stage 2: IPA ${s2.ipa ?? '?'} ${to}${entry}`);
      if (s2.memoryType)
        lines.push(`  stage 2 attributes: ${s2.memoryType} ${s2.permissions ?? ''}`.trimEnd());
    } else if (r.faultStage === 2 && r.fault) lines.push(`  ${r.fault}`);
    if (r.combined && r.ipa !== undefined)
      lines.push(`  combined: ${r.combined.memoryType} ${r.combined.permissions}`);
  }
  if (r.verdict) lines.push(`  verdict: ${r.verdict.summary}`);
  return { result: lines.join('\n'), variablesReference: 0 };
}
