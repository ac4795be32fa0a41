// How a translation-table entry reads in the Page Tables tree: label, description, icon, tooltip,
// and the optional coalescing of runs of alike entries. Pure (no `vscode`), so it is unit tested.

import {
  PAGE_GUARD_STATE_LABEL,
  UNTRACKED_GUARD_LABEL,
  type PageGuardState,
  type PageRun,
  type PteEntry,
  type PteKind,
} from '../shared/protocol';
import { formatAddress, formatDescriptor } from '../shared/format';
import { COLOR } from './ids';

/** Parses what a user types for an address: `0x0901_0000`, `0x9010000`, `151060480`, `9010000h`. */
export function parseAddress(text: string): bigint | undefined {
  const t = text.trim().replace(/_/g, '').toLowerCase();
  if (/^0x[0-9a-f]{1,16}$/.test(t)) return BigInt(t);
  if (/^[0-9a-f]{1,16}h$/.test(t)) return BigInt('0x' + t.slice(0, -1));
  if (/^[0-9]{1,20}$/.test(t)) {
    const v = BigInt(t);
    return v < 1n << 64n ? v : undefined;
  }
  return undefined;
}

export function toHex(v: bigint): string {
  return '0x' + v.toString(16);
}

/**
 * An address as every view writes it (src/shared/format): padded to the `bits` of its regime (a
 * 39-bit VA takes 10 digits), at least 8 digits so columns line up.
 */
export function shortHex(hex: string, bits?: number): string {
  return formatAddress(hex, bits);
}

export function sizeLabel(bytes: number): string {
  const units: [number, string][] = [
    [2 ** 40, 'TiB'],
    [2 ** 30, 'GiB'],
    [2 ** 20, 'MiB'],
    [2 ** 10, 'KiB'],
  ];
  for (const [unit, name] of units) if (bytes >= unit && bytes % unit === 0) return `${bytes / unit} ${name}`;
  return `${bytes} B`;
}

const KIND_LABEL: Record<PteKind, string> = {
  invalid: 'invalid',
  invalidWithBits: 'invalid (bits set)',
  lazy: 'lazy MMIO',
  table: 'table',
  block: 'block',
  page: 'page',
  reserved: 'reserved',
};

/** The panel's words for a page state (one table: src/shared/protocol PAGE_GUARD_STATE_LABEL). */
export function guardStateLabel(s: PageGuardState): string {
  return PAGE_GUARD_STATE_LABEL[s];
}

/**
 * Whether `e` is a valid 4 KiB page whose output address the guard state lists as guard-mapped outside
 * every tracked region (`untracked`: pvmfw's console, mapped eagerly at boot). The core annotates
 * tracked pages itself (`e.guard`); these it reports only as page runs.
 */
export function isUntrackedGuardMapped(e: PteEntry, untracked: readonly PageRun[] | undefined): boolean {
  if (e.guard || e.kind !== 'page' || !e.outputAddress || !untracked?.length) return false;
  const oa = BigInt(e.outputAddress);
  return untracked.some((r) => oa >= BigInt(r.start) && oa < BigInt(r.start) + BigInt(r.pages) * 4096n);
}

/** The guard words of an entry in the tree (description and tooltip), when it has a guard state. */
function guardWords(e: PteEntry, untracked: readonly PageRun[] | undefined): string | undefined {
  if (e.guard) return PAGE_GUARD_STATE_LABEL[e.guard];
  return isUntrackedGuardMapped(e, untracked) ? UNTRACKED_GUARD_LABEL : undefined;
}

/** What Copy Descriptor says it copied: `Copied 0x00e0000009010402: TTBR0_EL1 L3[16] descriptor (VA 0x09010000, lazy MMIO)`. */
export function copiedText(e: PteEntry, bits?: number): string {
  return `Copied ${formatDescriptor(e.descriptor)}: ${e.regime} L${e.level}[${e.index}] descriptor (VA ${shortHex(e.vaStart, bits)}, ${KIND_LABEL[e.kind]})`;
}

/** `L3[16] 0x0009010000`: `bits` is the regime's input width (RegimeInfo.inputBits). */
export function entryLabel(e: PteEntry, bits?: number): string {
  return `L${e.level}[${e.index}] ${shortHex(e.vaStart, bits)}`;
}

/**
 * One line after the label: where it goes, how big, what it is. `untracked`: the pages guard-mapped
 * outside the tracked regions (mmuChanged's `untracked`). The line names only IPAs and PAs, written
 * as every view writes them (the regime's VA width is the label's).
 */
export function entryDescription(
  e: PteEntry,
  changed: boolean,
  untracked?: readonly PageRun[],
  finalPa = false,
): string {
  // The change marker goes first: long descriptions are cut at the right edge of the view.
  const parts: string[] = changed ? ['Δ'] : [];
  if (e.kind === 'table') parts.push(`→ table ${shortHex(e.child?.table ?? e.outputAddress ?? '0x0')}`);
  else if (e.outputAddress) {
    // Under stage 2 a stage-1 leaf outputs an IPA; with Toggle Final PAs, where stage 2 puts it.
    // Output addresses are IPAs or PAs: written as every view writes those, not at the VA width.
    const out = `→ ${e.outputIsIpa ? 'IPA ' : ''}${shortHex(e.outputAddress)}`;
    const pa = e.finalAddress ? `PA ${shortHex(e.finalAddress)}` : 'no stage-2 mapping';
    parts.push(finalPa && e.outputIsIpa ? `${out} (${pa})` : out);
  }
  if (e.kind !== 'table') parts.push(sizeLabel(e.size));
  parts.push(KIND_LABEL[e.kind]);
  // A lazy entry's kind already says "untouched"; any other state is news (the panel's words).
  const guard = guardWords(e, untracked);
  if (guard && !(e.kind === 'lazy' && e.guard === 'lazy')) parts.push(guard);
  if (e.attributes && e.kind !== 'lazy') parts.push(e.attributes.memoryType, e.attributes.permissions);
  // The regime profile's meaning (Linux's PROT_NONE, pKVM's owner) beside the raw decode.
  if (e.meaning && e.kind !== 'lazy') parts.push(e.meaning);
  if (e.anomalies?.length) parts.push(`⚠ ${e.anomalies.length}`);
  return parts.join(' · ');
}

export interface IconChoice {
  /** Codicon id. */
  icon: string;
  /** Theme colour id (contributed in package.json), when the state deserves one. */
  color?: string;
}

/** Anomalies win over guard state, which wins over the architectural kind. */
export function entryIcon(e: PteEntry, untracked?: readonly PageRun[]): IconChoice {
  if (e.anomalies?.length || e.guard === 'anomaly' || e.guard === 'validUnguarded') {
    return { icon: 'warning', color: COLOR.anomaly };
  }
  if (e.kind === 'lazy') {
    return e.guard === 'guardMappedPending'
      ? { icon: 'sync', color: COLOR.guardMapped }
      : { icon: 'clock', color: COLOR.lazy };
  }
  if (e.guard === 'guardMapped' || isUntrackedGuardMapped(e, untracked))
    return { icon: 'shield', color: COLOR.guardMapped };
  switch (e.kind) {
    case 'invalidWithBits':
      return { icon: 'circle-slash', color: COLOR.invalidWithBits };
    case 'reserved':
      return { icon: 'error', color: COLOR.anomaly };
    case 'table':
      return { icon: 'list-tree' };
    case 'block':
      return { icon: 'package' };
    case 'page':
      return { icon: 'file-binary' };
    case 'invalid':
      return { icon: 'circle-outline' };
  }
}

/**
 * Markdown for the tooltip: the full decode the adapter computed, plus the raw bits. `since` names
 * the snapshot the stop is compared with, when it is not compared with its previous stop.
 */
export function entryTooltip(
  e: PteEntry,
  changedSummary?: string,
  since?: string,
  untracked?: readonly PageRun[],
): string {
  const lines: string[] = [];
  lines.push(`**${e.regime} level ${e.level} entry ${e.index}** — ${KIND_LABEL[e.kind]}`);
  lines.push('');
  lines.push(`VA \`${e.vaStart}\` – \`${e.vaEnd}\` (${sizeLabel(e.size)})`);
  if (e.outputAddress) lines.push(`${e.kind === 'table' ? 'Next table' : 'OA'} \`${e.outputAddress}\``);
  lines.push(
    e.outputIsIpa || e.descriptorPa
      ? `Descriptor \`${formatDescriptor(e.descriptor)}\` at IPA \`${formatAddress(e.descriptorAddress)}\`` +
          (e.descriptorPa ? ` (PA \`${formatAddress(e.descriptorPa)}\`)` : ' (no stage-2 mapping)')
      : `Descriptor \`${formatDescriptor(e.descriptor)}\` at PA \`${formatAddress(e.descriptorAddress)}\``,
  );
  if (e.attributes) {
    const a = e.attributes;
    lines.push(`Memory type: ${a.memoryType} (AttrIndx ${a.attrIndx}), ${a.shareability} shareable`);
    lines.push(
      `Permissions: ${a.permissions}${a.executeNeverEl1 ? ', PXN' : ''}${a.executeNeverEl0 ? ', UXN' : ''}`,
    );
    lines.push(`Software bits [58:55]: 0b${a.software.toString(2).padStart(4, '0')}`);
  }
  if (e.guard) lines.push(`MMIO guard: ${PAGE_GUARD_STATE_LABEL[e.guard]}`);
  else if (isUntrackedGuardMapped(e, untracked))
    lines.push(
      `MMIO guard: ${UNTRACKED_GUARD_LABEL}: MMIO_GUARD_MAPped outside every tracked MMIO region (pvmfw maps its console at boot, not through mmio_regions)`,
    );
  if (changedSummary) lines.push(`Changed since ${since ?? 'the previous stop'}: ${changedSummary}`);
  for (const an of e.anomalies ?? []) lines.push(`⚠ ${an.severity}: ${an.message} (${an.code})`);
  if (e.fields.length) {
    lines.push('');
    lines.push('```');
    lines.push(...e.fields);
    lines.push('```');
  }
  // Markdown needs two spaces or a blank line for a break; keep each line its own paragraph line.
  return lines.join('  \n');
}

/** A run of alike neighbours shown as one item when coalescing is on. */
export interface EntryGroup {
  entries: PteEntry[];
}

/** What makes two neighbouring entries "alike": same kind, same guard state, same attribute bits. */
function likeness(e: PteEntry): string {
  // Descriptor bits outside OA [47:12]; the OA itself must be contiguous, checked separately.
  const d = BigInt(e.descriptor) & ~0x0000_ffff_ffff_f000n;
  return `${e.kind}|${e.guard ?? ''}|${d.toString(16)}|${e.anomalies?.length ?? 0}`;
}

function continues(prev: PteEntry, next: PteEntry): boolean {
  if (next.index !== prev.index + 1 || likeness(prev) !== likeness(next)) return false;
  if (prev.kind === 'table') return false; // tables are what users expand: never hide them in a range
  if (!prev.outputAddress || !next.outputAddress) return prev.outputAddress === next.outputAddress;
  return BigInt(next.outputAddress) - BigInt(prev.outputAddress) === BigInt(prev.size);
}

/** Groups runs of at least `minRun` alike, index-consecutive, OA-contiguous entries. */
export function coalesce(entries: readonly PteEntry[], minRun = 3): (PteEntry | EntryGroup)[] {
  const out: (PteEntry | EntryGroup)[] = [];
  let run: PteEntry[] = [];
  const flush = (): void => {
    if (run.length >= minRun) out.push({ entries: run });
    else out.push(...run);
    run = [];
  };
  for (const e of entries) {
    if (run.length && !continues(run[run.length - 1], e)) flush();
    run.push(e);
  }
  flush();
  return out;
}

export function groupLabel(g: EntryGroup, bits?: number): string {
  const first = g.entries[0];
  const last = g.entries[g.entries.length - 1];
  return `L${first.level}[${first.index}–${last.index}] ${shortHex(first.vaStart, bits)}–${shortHex(last.vaEnd, bits)}`;
}

export function groupDescription(g: EntryGroup): string {
  const first = g.entries[0];
  return `${g.entries.length} × ${sizeLabel(first.size)} ${KIND_LABEL[first.kind]}`;
}
