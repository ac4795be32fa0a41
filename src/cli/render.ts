// Human-readable text for the CLI (and the golden dumps): fixed-width tables, one line per item.

import {
  coalesce,
  type Descriptor,
  formatPerms,
  type Leaf,
  type RegimeConfig,
  sizeName,
  type Translation,
  type WalkResult,
  type WalkRoot,
  regimeVaBits,
} from '../aarch64';
import { addressDigits, formatAddress, formatDescriptor } from '../shared/format';
import type { TwoStageTranslation } from '../aarch64/twoStage';
import { type FaultVerdict, type GuardReport, lazyState, type PvmfwAnomaly } from '../pvmfw';
import { leafMeaning, profileById, type Meaning, type Profile } from '../profiles';

const pad = (s: string, n: number): string => s.padEnd(n);
const lpad = (s: string, n: number): string => s.padStart(n);

/** A physical or intermediate physical address, as every view writes it (src/shared/format). */
const pa = (v: bigint | number): string => formatAddress(v);

export function rootLine(r: WalkRoot): string {
  const head = `  ${pad(r.base, 10)} ${formatDescriptor(r.ttbr)}`;
  if (!r.enabled) return `${head}  ${r.unknown ? 'unknown' : 'disabled'}: ${r.reason ?? 'disabled'}`;
  const id = r.vmid !== undefined ? `VMID ${r.vmid}` : `ASID ${r.asid ?? 0}`;
  const bits = r.vaStart >= 1n << 63n ? 64 : r.inputBits;
  return `${head}  root ${pa(r.root)} level ${r.startLevel}, ${r.inputBits}-bit input [${formatAddress(r.vaStart, bits)}–${formatAddress(r.vaEnd, bits)}], ${r.granule}K granule, ${r.rootEntries} root entries, ${id}`;
}

export function regimeHeader(regime: RegimeConfig, label: string): string[] {
  const stage = regime.fmt.stage === 2 ? 'stage 2' : 'stage 1';
  const out = [
    `regime ${regime.kind} (${stage}, ${regime.fmt.granule}K granule, ${regime.paBits}-bit PA${regime.wxn ? ', WXN' : ''}${regime.fmt.oa !== 'pa48' ? `, ${regime.fmt.oa}` : ''}) from ${label}`,
    ...regime.roots.map(rootLine),
  ];
  for (const p of regime.problems) out.push(`  note: ${p}`);
  return out;
}

/**
 * The last column: pvmfw's lazy state (the golden dumps' LAZY column), or the regime profile's
 * meaning of the software bits. A number is pvmfw's profile with that lazy bit.
 */
type ColumnProfile = Profile | number;

const asProfile = (p: ColumnProfile): Profile => (typeof p === 'number' ? profileById('pvmfw', p) : p);
const lazyBitOf = (p: ColumnProfile): number | undefined => (typeof p === 'number' ? p : undefined);

/**
 * The output-address columns: a stage-1 regime under an active stage 2 outputs IPAs, so the column
 * says IPA; `finalPa` adds the PA stage 2 gives each (--final-pa), '-' where it maps none.
 */
export interface OutputColumns {
  readonly label: 'PA' | 'IPA';
  /** Characters of the address columns: `0x` and the regime's output width (default 48 bits). */
  readonly width?: number;
  readonly finalPa?: (ipa: number) => number | undefined;
}

const PLAIN: OutputColumns = { label: 'PA' };

const outWidth = (o: OutputColumns): number => o.width ?? 2 + addressDigits(48);

function outHead(o: OutputColumns): string {
  return `${pad(o.label, outWidth(o))}${o.finalPa ? ` ${pad('PA (stage 2)', outWidth(o))}` : ''}`;
}

function outCells(o: OutputColumns, a: number): string {
  const f = o.finalPa?.(a);
  const cell = pad(pa(a), outWidth(o));
  return o.finalPa ? `${cell} ${pad(f !== undefined ? pa(f) : '-', outWidth(o))}` : cell;
}

/**
 * The input column of a walk: VAs padded to the regime's width; a stage-2 regime's inputs are IPAs,
 * written as every IPA is (the column as wide as its largest).
 */
function inColumn(w: WalkResult): { label: string; width: number; text: (a: bigint) => string } {
  if (w.regime.fmt.stage === 2) {
    const width = 2 + addressDigits(Math.max(0, ...w.regime.roots.map((r) => r.inputBits)));
    return { label: 'IPA', width, text: (a) => pad(formatAddress(a), width) };
  }
  const bits = regimeVaBits(w.regime);
  return { label: 'VA', width: 2 + addressDigits(bits), text: (va) => formatAddress(va, bits) };
}

/** The output columns of a walk: wide enough for the regime's output addresses. */
function columnsFor(w: WalkResult, o: OutputColumns): OutputColumns {
  return o.width !== undefined
    ? o
    : { ...o, width: Math.max(2 + addressDigits(w.regime.paBits), o.label.length) };
}

function regionHead(p: ColumnProfile, o: OutputColumns, input: { label: string; width: number }): string {
  return `${pad(input.label, input.width)} ${outHead(o)} ${lpad('SIZE', 6)} ${lpad('COUNT', 7)} ${pad('KIND', 8)} ${pad('PERMS', 8)} ${pad('MEMORY TYPE', 22)} ${typeof p === 'number' ? 'LAZY' : 'MEANING'}`;
}

/** Permissions and memory type of a leaf, or '-' where its bits are not a mapping (swap, owner ids). */
function mappingColumns(l: Leaf, m: Meaning | undefined): [string, string] {
  if (!l.valid && m && !m.mapping) return ['-', '-'];
  return [formatPerms(l.ctx.perm, l.perms), l.memType.name];
}

/** One line per region, made as they are consumed (a crafted walk may have millions). */
export function* regionLines(
  w: WalkResult,
  profile: ColumnProfile,
  regions = coalesce(w.store),
  columns: OutputColumns = PLAIN,
): Generator<string> {
  const out = columnsFor(w, columns);
  const va = inColumn(w);
  yield regionHead(profile, out, va);
  const pr = asProfile(profile);
  const bit = lazyBitOf(profile);
  for (const g of regions) {
    const l = g.first;
    const m = bit !== undefined ? undefined : leafMeaning(pr, l);
    const [perms, mem] = mappingColumns(l, m);
    const last = bit !== undefined ? (lazyState(l, bit) ?? '-') : (m?.label ?? '-');
    yield `${va.text(g.va)} ${outCells(out, Number(g.pa))} ${lpad(sizeName(g.size), 6)} ${lpad(String(g.count), 7)} ${pad(l.kind, 8)} ${pad(perms, 8)} ${pad(mem, 22)} ${last}`;
  }
}

const leafHead = (o: OutputColumns, input: { label: string; width: number }): string =>
  `${pad(input.label, input.width)} ${outHead(o)} ${lpad('SIZE', 5)} L ${pad('KIND', 8)} ${pad('PERMS', 8)} ${pad('MEMORY TYPE', 22)} ${pad('DESCRIPTOR', 18)} FLAGS`;

export function leafLine(
  l: Leaf,
  profile: ColumnProfile,
  out: OutputColumns = PLAIN,
  va: (va: bigint) => string = (v) => formatAddress(v, 64),
): string {
  const pr = asProfile(profile);
  const bit = lazyBitOf(profile);
  const m = bit !== undefined ? undefined : leafMeaning(pr, l);
  const lazy = bit !== undefined ? lazyState(l, bit) : null;
  const flags = [
    l.ctx.fmt.stage === 1 && l.bit(11) ? 'nG' : '',
    l.af ? '' : 'AF=0',
    l.bit(52) ? 'Cont' : '',
    l.bit(51) ? 'DBM' : '',
    l.swBits ? `SW=${l.swBits.toString(2).padStart(4, '0')}` : '',
    lazy ? `lazy:${lazy}` : '',
    m ? `[${m.label}]` : '',
  ].filter(Boolean);
  const [perms, mem] = mappingColumns(l, m);
  return `${va(l.va)} ${outCells(out, l.paNum)} ${lpad(sizeName(l.size), 5)} ${l.level} ${pad(l.kind, 8)} ${pad(perms, 8)} ${pad(mem, 22)} ${formatDescriptor(l.desc)} ${flags.join(' ')}`.trimEnd();
}

/** Every leaf, made one at a time from the store (a walk may have millions). */
export function* leafLines(
  w: WalkResult,
  profile: ColumnProfile,
  columns: OutputColumns = PLAIN,
): Generator<string> {
  const out = columnsFor(w, columns);
  const va = inColumn(w);
  yield leafHead(out, va);
  const st = w.store;
  for (let i = 0; i < st.length; i++) yield leafLine(st.leaf(i), profile, out, va.text);
}

export function statsLine(w: WalkResult, packets?: number, regions = coalesce(w.store).length): string {
  const s = w.stats;
  return `${s.leaves} leaves, ${regions} regions, ${s.tablesRead} tables read (${s.bytesRead} bytes, ${s.readCalls} batches${packets !== undefined ? `, ${packets} packets` : ''}) in ${s.ms.toFixed(1)} ms`;
}

export function anomalyLine(a: PvmfwAnomaly): string {
  const where = a.va !== undefined ? formatAddress(a.va) : a.ipa !== undefined ? `IPA ${pa(a.ipa)}` : '';
  return `  ${pad(a.severity, 7)} ${pad(a.kind, 16)} ${pad(where, 12)} ${a.message}`;
}

/** The walk's diagnostics: the listed ones, then a summary line per kind with more. */
export function diagnosticLines(w: WalkResult): string[] {
  return w.diagnostics.map((d) =>
    d.omitted !== undefined
      ? `  ${d.message}`
      : `  ${pad(d.kind, 12)} ${d.base} L${d.level} ${formatAddress(d.va, 64)}: ${d.message}`,
  );
}

/** "diagnostics (2,090,144, 100 listed):", or undefined when there are none. */
export function diagnosticsHeader(w: WalkResult): string | undefined {
  let total = 0;
  for (const n of Object.values(w.diagnosticTotals)) total += n;
  if (total === 0) return undefined;
  const listed = w.diagnostics.filter((d) => d.omitted === undefined).length;
  return `diagnostics (${total.toLocaleString('en-US')}${listed < total ? `, ${listed} listed` : ''}):`;
}

function describe(d: Descriptor): string {
  switch (d.type) {
    case 'invalid':
      return d.reason === 'zero'
        ? 'invalid (zero)'
        : `${d.reason}${d.shadow ? ` (bits name a ${d.shadow.type} at ${pa(d.shadow.oa)})` : ''}`;
    case 'table':
      return `table → ${pa(d.nextTable)}${d.apTable ? ` APTable=${d.apTable}` : ''}${d.xnTable ? ' XNTable' : ''}${d.pxnTable ? ' PXNTable' : ''}${d.nsTable ? ' NSTable' : ''}`;
    default:
      return `${d.type} → ${pa(d.oa)} (${sizeName(2n ** BigInt(d.sizeShift))})`;
  }
}

function stepLines(x: Translation, physical?: readonly (Translation | undefined)[]): string[] {
  return x.steps.map((s, k) => {
    const d = s.desc !== undefined ? formatDescriptor(s.desc) : '(unreadable)';
    // Under stage 2 the descriptor address is an IPA: its PA follows when stage 2 maps it.
    const p = physical?.[k]?.pa;
    const at = physical ? `${pa(s.descAddr)}${p !== undefined ? ` (PA ${pa(p)})` : ''}` : pa(s.descAddr);
    return `  L${s.level} table ${pa(s.table)} [${lpad(String(s.index), 4)}] @ ${at} = ${d}  ${s.decoded ? describe(s.decoded) : ''}`.trimEnd();
  });
}

const attrText = (memType: string | undefined, perms: string | undefined): string =>
  [memType, perms].filter(Boolean).join('  ');

/**
 * One address's translation: the stage-1 walk and, under stage 2, the stage-2 walk of its IPA (or
 * of the stage-1 table whose IPA did not translate), the IPA => PA line with the combined memory
 * type and permissions, or the fault and the stage that raised it.
 */
export function translationLines(
  x: TwoStageTranslation,
  regime: RegimeConfig,
  verdict?: FaultVerdict,
): string[] {
  const s1 = x.stage1;
  const out = [
    `${formatAddress(x.va, regimeVaBits(regime))} via ${s1.base ?? 'no root'}`,
    ...stepLines(s1, x.twoStage ? (x.tableWalks ?? []) : undefined),
  ];
  const perms1 = s1.perms !== undefined ? formatPerms(regime.perm, s1.perms) : undefined;
  if (!x.twoStage) {
    if (x.pa !== undefined) out.push(`  => PA ${pa(x.pa)}  ${attrText(s1.memType?.name, perms1)}`.trimEnd());
  } else if (s1.fault === undefined && x.ipa !== undefined) {
    out.push(`  => IPA ${pa(x.ipa)}  ${attrText(s1.memType?.name, perms1)}`.trimEnd());
  }
  if (x.fault?.stage === 1)
    out.push(
      `  => ${x.fault.message}${s1.shadowPa !== undefined ? ` (invalid leaf names ${x.twoStage ? 'IPA ' : ''}${pa(s1.shadowPa)}, ${s1.memType?.name ?? ''})` : ''}`,
    );
  const t2 = x.stage2;
  if (x.twoStage && t2) {
    const what = x.fault?.s1ptw
      ? `S1PTW, the level-${x.fault.s1ptw.level} descriptor's IPA`
      : s1.fault
        ? 'the IPA the invalid leaf names'
        : 'IPA';
    out.push(`stage 2 (VTTBR_EL2), ${what} ${pa(t2.va)}`);
    out.push(...stepLines(t2));
    const perms2 = t2.perms !== undefined && !t2.leafInvalid ? formatPerms('stage2', t2.perms) : undefined;
    if (t2.pa !== undefined && !t2.fault)
      out.push(`  => PA ${pa(t2.pa)}  ${attrText(t2.memType?.name, perms2)}`.trimEnd());
    else if (t2.fault && x.fault?.stage !== 2) out.push(`  => ${t2.fault.message}`);
  }
  if (x.twoStage && x.pa !== undefined && x.ipa !== undefined)
    out.push(
      `  => IPA ${pa(x.ipa)} => PA ${pa(x.pa)}  ${attrText(x.memType?.name, x.perms !== undefined ? formatPerms(regime.perm, x.perms) : undefined)}  (both stages combined)`,
    );
  if (x.fault?.stage === 2) out.push(`  => ${x.fault.message}`);
  if (verdict) out.push(`  pvmfw: ${verdict.summary}`);
  return out;
}

export function guardLines(g: GuardReport): string[] {
  const kb = (n: number): string => sizeName(n);
  const out = [
    `lazy-MMIO (flag bit ${g.lazyBit}): ${g.pending.length} pending leaves (${kb(g.pendingBytes)}), ${g.mapped.length} valid lazy-flagged leaves`,
  ];
  // Pending entries coalesce (a 1 GiB lazy block split into 2 MiB ones is one line); mapped ones do not.
  for (const r of coalesce(g.pending))
    out.push(
      `  pending ${formatAddress(r.va)} ${lpad(sizeName(r.size), 7)} in ${r.count} ${r.count > 1 ? 'entries' : 'entry'}, first L${r.first.level} desc ${formatDescriptor(r.first.desc)}`,
    );
  for (const l of g.mapped)
    out.push(
      `  mapped  ${formatAddress(l.va)} ${lpad(sizeName(l.size), 7)} L${l.level} desc ${formatDescriptor(l.desc)}`,
    );
  const src = g.stage2Checked ? 'stage 2' : g.logChecked ? 'guard log' : undefined;
  if (src)
    out.push(
      `guard-mapped now (${src}): ${g.guardMapped.length ? g.guardMapped.map((x) => pa(x)).join(' ') : 'none'}`,
    );
  else out.push('guard-mapped now: unknown (no stage 2 and no guard log)');
  out.push(g.anomalies.length ? `anomalies (${g.anomalies.length}):` : 'anomalies: none');
  for (const a of g.anomalies) out.push(anomalyLine(a));
  return out;
}
