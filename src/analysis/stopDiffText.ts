// diffStops() as text for a firmware engineer: what `pvmfw-mmu diff A B` prints and what the
// extension's Compare Snapshots shows, from one function so the two cannot word a change differently.
// Pure: the pictures, the diff and what is known of each snapshot are handed in; no files are read.
import type { GuardCall, PageGuardState, PteChange } from '../shared/protocol';
import { transitionText } from './guardDiff';
import type { StopPicture } from './picture';
import { programLabel, type ProgramIdentity } from './program';
import { fieldChangeText } from './pteFields';
import type { StopDiff } from './stopDiff';
import { formatAddress, formatChange, formatPageState, formatPages, formatRange } from '../shared/format';

/** One side of a comparison: a snapshot's picture and what the file says of its capture. */
export interface DiffSide {
  /** How the header names the snapshot (the CLI: the path it was given). */
  readonly file: string;
  readonly picture: StopPicture;
  /** The snapshot's capture: when, from where, which format version. */
  readonly capture?: { readonly created: string; readonly source?: string; readonly version: number };
  /** The program the snapshot was taken of, when it recorded one. */
  readonly program?: ProgramIdentity;
}

/** What the header (and the CLI's JSON) says about one snapshot. */
export function diffSideSummary(s: DiffSide) {
  const pc = s.picture.input.registers.pc;
  const sym = pc !== undefined ? s.picture.input.symbols?.describe(pc) : undefined;
  return {
    file: s.file,
    created: s.capture?.created ?? null,
    source: s.capture?.source ?? null,
    version: s.capture?.version ?? null,
    program: s.program ?? null,
    pc: pc !== undefined ? `0x${pc.toString(16)}` : null,
    pcSymbol: sym ?? null,
  };
}

/**
 * Disagreements about which program the stops belong to (A against B, and each against the ELF the
 * user named, `--elf` in the CLI): worth a line, never a failure.
 */
export function diffProgramWarnings(a: DiffSide, b: DiffSide, elf?: ProgramIdentity): string[] {
  const out: string[] = [];
  const pa = a.program;
  const pb = b.program;
  if (pa && pb && pa.sha256 !== pb.sha256)
    out.push(`A and B were taken of different programs: ${programLabel(pa)} and ${programLabel(pb)}`);
  for (const [name, p] of [
    ['A', pa],
    ['B', pb],
  ] as const) {
    if (elf && p && p.sha256 !== elf.sha256)
      out.push(`--elf ${programLabel(elf)} is not the program ${name} was taken of, ${programLabel(p)}`);
  }
  return out;
}

export interface DiffTextOptions {
  /** Items of one list printed before "… N more" (default 200). */
  readonly limit?: number;
  /** Where the rest can be read, after "… N more" (default the CLI's `--json lists them all`). */
  readonly more?: string;
}

const KIND_ORDER: PteChange['kind'][] = [
  'split',
  'merged',
  'becameValid',
  'becameInvalid',
  'added',
  'removed',
  'modified',
];

function sideLine(name: string, s: DiffSide): string {
  const j = diffSideSummary(s);
  const taken = j.created ? `, taken ${j.created}` : '';
  const from = j.source ? ` from ${j.source}` : '';
  return `${name}: ${s.file}${taken}${from}; pc ${j.pc ?? '?'}${j.pcSymbol ? ` (${j.pcSymbol})` : ''}`;
}

function entryLines(c: PteChange): string {
  const fields = c.changedFields?.length
    ? `\n      ${c.changedFields.map(fieldChangeText).join(', ')}`
    : c.before === undefined
      ? '\n      (entry of a table that did not exist at A)'
      : '';
  return `${c.regime} ${c.summary} @ ${c.descriptorAddress}${fields}`;
}

function callLine(c: GuardCall): string {
  const arg =
    c.fn === 'MAP' || c.fn === 'UNMAP'
      ? `(${formatAddress(c.arg)})`
      : c.fn === 'UNKNOWN'
        ? `(${c.functionId})`
        : '';
  const where = c.symbol ? ` from ${c.symbol}` : c.pc ? ` from ${c.pc}` : '';
  return `#${c.seq} ${c.fn}${arg} = ${c.result}${where}`;
}

function countsLine(d: StopDiff): string | undefined {
  const { before, after } = d.guard.counts;
  const moved = (Object.keys(after) as PageGuardState[])
    .filter((k) => before[k] !== after[k])
    .map((k) => `${formatPageState(k)} ${formatChange(String(before[k]), String(after[k]))}`);
  return moved.length ? `  page counts: ${moved.join(', ')}` : undefined;
}

/**
 * The diff of two stops as lines: a header naming A and B (file, capture, PC), the program, then
 * registers, table entries (with the fields that changed), MMIO-guard pages and counts, the guard
 * calls made in between, tracked regions and anomalies. `warnings` come from diffProgramWarnings().
 */
export function stopDiffText(
  a: DiffSide,
  b: DiffSide,
  d: StopDiff,
  warnings: readonly string[],
  o: DiffTextOptions = {},
): string[] {
  const limit = o.limit ?? 200;
  const more = o.more ?? '--json lists them all';
  const capped = <T>(items: readonly T[], line: (x: T) => string, indent = '  '): string[] => {
    const out = items.slice(0, limit).map((x) => indent + line(x));
    if (items.length > limit) out.push(`${indent}… ${items.length - limit} more (${more})`);
    return out;
  };

  const pa = a.program;
  const pb = b.program;
  const lines = [sideLine('A', a), sideLine('B', b)];
  if (pa && pb && pa.sha256 === pb.sha256) lines.push(`program: ${programLabel(pa)}, the same in both`);
  else if (!pa && !pb) lines.push('program: not recorded (take snapshots with --elf to record it)');
  for (const w of warnings) lines.push(`warning: ${w}`);

  lines.push('');
  const regs = d.registers.map((r) => `${r.name} ${formatChange(r.before ?? '?', r.after ?? '?')}`);
  lines.push(regs.length ? `registers: ${regs.join(', ')}` : 'registers: no change');

  const n = d.entries.length;
  const kinds = KIND_ORDER.filter((k) => d.entryCounts[k]).map((k) => `${d.entryCounts[k]} ${k}`);
  lines.push(
    n
      ? `translation tables: ${n} entr${n === 1 ? 'y' : 'ies'} changed (${kinds.join(', ')})`
      : 'translation tables: no change',
  );
  const sorted = KIND_ORDER.flatMap((k) => d.entries.filter((c) => c.kind === k));
  lines.push(...capped(sorted, entryLines));

  const g = d.guard;
  const logState = (s: DiffSide) =>
    s.picture.guard.available ? 'available' : `unavailable (${s.picture.guard.reason ?? '?'})`;
  if (!g.available.before || !g.available.after)
    lines.push(`MMIO guard log: ${logState(a)} at A, ${logState(b)} at B`);
  if (g.enrolled.before !== g.enrolled.after)
    lines.push(`MMIO guard: ${g.enrolled.after ? 'enrolled between A and B' : 'no longer enrolled at B'}`);
  lines.push(g.transitions.length ? 'MMIO guard pages:' : 'MMIO guard pages: no change');
  lines.push(...capped(g.transitions, transitionText));
  const counts = countsLine(d);
  if (counts) lines.push(counts);

  if (g.logRestarted)
    lines.push("guard calls: B's log holds fewer calls than A's (another boot, or B taken before A)");
  else if (g.calls.length || g.callsLost) {
    const first = g.calls[0]?.seq;
    const last = g.calls[g.calls.length - 1]?.seq;
    const range = first !== undefined ? ` (#${first}${last !== first ? `..#${last}` : ''})` : '';
    lines.push(`guard calls between A and B${range}:`);
    if (g.callsLost)
      lines.push(`  ${g.callsLost} earlier call${g.callsLost === 1 ? '' : 's'} lost: the log ring wrapped`);
    lines.push(...capped(g.calls, callLine));
  } else lines.push('guard calls between A and B: none');

  const regionText = (r: { start: string; end: string; name?: string; pageCount: number }) =>
    `${r.name ?? 'region'} ${formatRange(r.start, r.end)} · ${formatPages(r.pageCount)}`;
  if (!g.regionsAdded.length && !g.regionsRemoved.length) lines.push('tracked regions: no change');
  else {
    lines.push('tracked regions:');
    lines.push(...capped(g.regionsAdded, (r) => `added ${regionText(r)}`));
    lines.push(...capped(g.regionsRemoved, (r) => `removed ${regionText(r)}`));
  }

  const an = d.anomalies;
  if (!an.new.length && !an.resolved.length) lines.push('anomalies: none new, none resolved');
  else {
    lines.push('anomalies:');
    lines.push(...capped(an.new, (x) => `new ${x.severity} ${x.code}: ${x.message}`));
    lines.push(...capped(an.resolved, (x) => `resolved ${x.code}: ${x.message}`));
  }
  return lines;
}
