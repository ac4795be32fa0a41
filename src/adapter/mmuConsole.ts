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
  if (kind === 'translate') {
    lines.push(`${r.address} (${r.regime}) -> ${r.ok ? r.outputAddress : `fault: ${r.fault ?? 'none'}`}`);
    for (const s of r.walk)
      lines.push(
        `  L${s.level}[${s.index}] @ ${s.descriptorAddress} = ${s.descriptor ?? '??'} ${s.kind ?? ''}`,
      );
    if (r.stage2)
      lines.push(
        `  stage 2: ${r.stage2.ok ? `-> ${r.stage2.outputAddress}` : `fault: ${r.stage2.fault ?? '?'}`}`,
      );
  } else {
    const e = r.leaf;
    if (!e) lines.push(`${r.address}: no leaf entry (${r.fault ?? 'walk ended early'})`);
    else {
      lines.push(
        `${r.address}: L${e.level} ${e.kind} ${sizeName(e.size)} ${e.descriptor} @ ${e.descriptorAddress}`,
      );
      for (const f of e.fields) lines.push(`  ${f}`);
      if (e.guard) lines.push(`  guard: ${e.guard}`);
      for (const a of e.anomalies ?? []) lines.push(`  anomaly: ${a.message}`);
    }
  }
  if (r.verdict) lines.push(`  verdict: ${r.verdict.summary}`);
  return { result: lines.join('\n'), variablesReference: 0 };
}
