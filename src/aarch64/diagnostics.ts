// What a walk reports about entries it did not follow, kept in bounded memory. A crafted table graph
// (512-way fan-out at every level pointing at one table) yields tens of millions of identical
// findings: the first few of each kind are kept as objects, the rest are only counted and summed up
// in one closing entry per kind ("… and 123,456 more diagnostics of kind tableCap").

import type { BaseRegister } from './regime';

export type DiagnosticKind = 'cycle' | 'outsideRam' | 'unreadable' | 'addressSize' | 'tableCap';

export interface WalkDiagnostic {
  readonly kind: DiagnosticKind;
  readonly base: BaseRegister;
  readonly level: number;
  /** Input address of the entry concerned (for a summary: of the first entry it stands for). */
  readonly va: bigint;
  readonly descAddr?: bigint;
  readonly desc?: bigint;
  /** The address the entry points at (table or output address). */
  readonly target?: bigint;
  readonly message: string;
  /** Set on a summary: the number of diagnostics of this kind counted but not listed. */
  readonly omitted?: number;
}

/** Diagnostics kept per kind by default; the rest are counted. */
export const DEFAULT_MAX_DIAGNOSTICS = 100;

const KINDS: readonly DiagnosticKind[] = ['cycle', 'outsideRam', 'unreadable', 'addressSize', 'tableCap'];

/** Counts every diagnostic, keeps the first `perKind` of each kind. */
export class DiagnosticLog {
  readonly list: WalkDiagnostic[] = [];
  private readonly counts = new Map<DiagnosticKind, number>();
  /** Where the first unlisted diagnostic of a kind was (the summary names it). */
  private readonly firstOmitted = new Map<
    DiagnosticKind,
    { base: BaseRegister; level: number; va: number }
  >();

  constructor(readonly perKind: number = DEFAULT_MAX_DIAGNOSTICS) {}

  /**
   * Counts one diagnostic; true when the caller should build and `add` it. Callers ask first so
   * that millions of unlisted ones cost a counter each, not an object with BigInts and a message.
   */
  note(kind: DiagnosticKind, base: BaseRegister, level: number, va: number): boolean {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    if (n <= this.perKind) return true;
    if (n === this.perKind + 1) this.firstOmitted.set(kind, { base, level, va });
    return false;
  }

  add(d: WalkDiagnostic): void {
    this.list.push(d);
  }

  /** Every diagnostic counted, by kind (listed and not). */
  totals(): Partial<Record<DiagnosticKind, number>> {
    const out: Partial<Record<DiagnosticKind, number>> = {};
    for (const k of KINDS) {
      const n = this.counts.get(k);
      if (n !== undefined) out[k] = n;
    }
    return out;
  }

  /** The kept diagnostics followed by one summary per kind that had more than `perKind`. */
  finish(): WalkDiagnostic[] {
    for (const kind of KINDS) {
      const omitted = (this.counts.get(kind) ?? 0) - this.perKind;
      const at = this.firstOmitted.get(kind);
      if (omitted <= 0 || at === undefined) continue;
      this.list.push({
        kind,
        base: at.base,
        level: at.level,
        va: BigInt(at.va),
        message: `… and ${omitted.toLocaleString('en-US')} more diagnostics of kind ${kind} (the first at ${at.base} level ${at.level} 0x${at.va.toString(16)})`,
        omitted,
      });
    }
    return this.list;
  }
}
