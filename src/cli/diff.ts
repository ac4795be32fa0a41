// `pvmfw-mmu diff A B`: two snapshots, each analysed as the CLI analyses any stop (cliPicture), and
// what changed between them (the analysis core's diffStops): table entries with the fields that
// changed, MMIO-guard transitions per page run, tracked regions, anomalies, the guard calls made in
// between. Text for a firmware engineer, or the same data as one JSON object.
import {
  diffStops,
  fieldChangeText,
  programLabel,
  transitionText,
  type ProgramIdentity,
  type StopDiff,
  type StopPicture,
} from '../analysis';
import type { GuardCall, PageGuardState, PteChange } from '../shared/protocol';
import { openSnapshot, type Source } from './source';
import { cliPicture, readProgram, type PictureOptions } from './stop';

/** Items of one list printed as text before "… N more" (the JSON has them all). */
const TEXT_LIMIT = 200;

export interface DiffOptions extends PictureOptions {
  readonly json: boolean;
  readonly out: (s: string) => void;
}

interface Side {
  readonly file: string;
  readonly source: Source;
  readonly picture: StopPicture;
}

/** What the JSON and the header say about one snapshot. */
function sideJson(s: Side) {
  const pc = s.picture.input.registers.pc;
  const sym = pc !== undefined ? s.picture.input.symbols?.describe(pc) : undefined;
  return {
    file: s.file,
    created: s.source.capture?.created ?? null,
    source: s.source.capture?.source ?? null,
    version: s.source.capture?.version ?? null,
    program: s.source.program ?? null,
    pc: pc !== undefined ? `0x${pc.toString(16)}` : null,
    pcSymbol: sym ?? null,
  };
}

/** Disagreements about which program the stops belong to: worth a line, never a failure. */
function programWarnings(a: Side, b: Side, elf: ProgramIdentity | undefined): string[] {
  const out: string[] = [];
  const pa = a.source.program;
  const pb = b.source.program;
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

export async function runDiff(fileA: string, fileB: string, o: DiffOptions): Promise<number> {
  const elf = o.elf ? readProgram(o.elf).identity : undefined;
  const sides: Side[] = [];
  for (const file of [fileA, fileB]) {
    const source = openSnapshot(file);
    const { picture } = await cliPicture(source, o);
    sides.push({ file, source, picture });
  }
  const [a, b] = sides;
  const d = diffStops(a.picture, b.picture);
  const warnings = programWarnings(a, b, elf);
  const pa = a.source.program;
  const pb = b.source.program;
  if (o.json) {
    o.out(
      `${JSON.stringify({
        a: sideJson(a),
        b: sideJson(b),
        sameProgram: pa && pb ? pa.sha256 === pb.sha256 : null,
        warnings,
        ...d,
      })}\n`,
    );
  } else o.out(diffLines(a, b, d, warnings).join('\n') + '\n');
  return 0;
}

function sideLine(name: string, s: Side): string {
  const j = sideJson(s);
  const taken = j.created ? `, taken ${j.created}` : '';
  const from = j.source ? ` from ${j.source}` : '';
  return `${name}: ${s.file}${taken}${from}; pc ${j.pc ?? '?'}${j.pcSymbol ? ` (${j.pcSymbol})` : ''}`;
}

function capped<T>(items: readonly T[], line: (x: T) => string, indent = '  '): string[] {
  const out = items.slice(0, TEXT_LIMIT).map((x) => indent + line(x));
  if (items.length > TEXT_LIMIT)
    out.push(`${indent}… ${items.length - TEXT_LIMIT} more (--json lists them all)`);
  return out;
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
    c.fn === 'MAP' || c.fn === 'UNMAP' ? `(${c.arg})` : c.fn === 'UNKNOWN' ? `(${c.functionId})` : '';
  const where = c.symbol ? ` from ${c.symbol}` : c.pc ? ` from ${c.pc}` : '';
  return `#${c.seq} ${c.fn}${arg} = ${c.result}${where}`;
}

function countsLine(d: StopDiff): string | undefined {
  const { before, after } = d.guard.counts;
  const moved = (Object.keys(after) as PageGuardState[])
    .filter((k) => before[k] !== after[k])
    .map((k) => `${k} ${before[k]} -> ${after[k]}`);
  return moved.length ? `  page counts: ${moved.join(', ')}` : undefined;
}

function diffLines(a: Side, b: Side, d: StopDiff, warnings: string[]): string[] {
  const pa = a.source.program;
  const pb = b.source.program;
  const lines = [sideLine('A', a), sideLine('B', b)];
  if (pa && pb && pa.sha256 === pb.sha256) lines.push(`program: ${programLabel(pa)}, the same in both`);
  else if (!pa && !pb) lines.push('program: not recorded (take snapshots with --elf to record it)');
  for (const w of warnings) lines.push(`warning: ${w}`);

  lines.push('');
  const regs = d.registers.map((r) => `${r.name} ${r.before ?? '?'} -> ${r.after ?? '?'}`);
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
  const logState = (s: Side) =>
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
    `${r.start}-${r.end}${r.name ? ` ${r.name}` : ''} (${r.pageCount} pages)`;
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
