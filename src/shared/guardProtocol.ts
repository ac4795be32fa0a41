// The MMIO guard part of the adapter's custom protocol (src/shared/protocol.ts re-exports it): page
// states, guard calls, regions and the anomalies of pvmfw's invariants.
import type { Hex, Regime } from './values';

// ---------------------------------------------------------------------------------------------
// MMIO guard

/**
 * State of one 4 KiB device page, from stage 1 (pvmfw's tables) and the stub's guard-call log:
 * - `lazy`: lazy stage-1 entry, never MMIO_GUARD_MAPped: untouched.
 * - `guardMapped`: MMIO_GUARD_MAPped and valid at stage 1: the normal state after the fault.
 * - `guardMappedPending`: MMIO_GUARD_MAPped but its stage-1 entry is still lazy (inside the handler,
 *   between the hypercall and the descriptor store).
 * - `validUnguarded`: valid at stage 1 but never MAPped: an access gets a synchronous external abort.
 * - `unmapped`: MMIO_GUARD_UNMAPped (after mmio_unmap_all).
 * - `anomaly`: breaks one of the seed's invariants (see `anomalies`).
 */
/** Every page state, in the order views list them (one list: counts, legends and validation use it). */
export const PAGE_GUARD_STATES = [
  'lazy',
  'guardMapped',
  'guardMappedPending',
  'validUnguarded',
  'unmapped',
  'anomaly',
] as const;
export type PageGuardState = (typeof PAGE_GUARD_STATES)[number];

/**
 * How every view names a page state (tree, MMIO Guard panel, status bar, Debug Console): one set of
 * words, so the tree never says "lazy MMIO" where the panel says "mapped, stage 1 pending".
 */
export const PAGE_GUARD_STATE_LABEL: Readonly<Record<PageGuardState, string>> = {
  lazy: 'untouched (lazy)',
  guardMapped: 'guard-mapped',
  guardMappedPending: 'mapped, stage 1 pending',
  validUnguarded: 'valid, unguarded',
  unmapped: 'unmapped',
  anomaly: 'anomaly',
};

/** What views add to `guard-mapped` for a page outside every tracked region (pvmfw's console). */
export const UNTRACKED_GUARD_LABEL = 'guard-mapped, untracked';

/** A run of consecutive pages in the same state: pages [start, start + pages * 4096). */
export interface PageRun {
  start: Hex;
  pages: number;
  state: PageGuardState;
}

export interface GuardRegion {
  /** Device name from the firmware or the memory map ("pl031 rtc", "virtio-mmio"), when known. */
  name?: string;
  start: Hex;
  /** Exclusive end. */
  end: Hex;
  pageCount: number;
  /** Run-length encoded page states covering the whole region in order. A 1 GiB region is 262,144 pages. */
  runs: PageRun[];
  counts: Record<PageGuardState, number>;
}

export type GuardFunction = 'INFO' | 'ENROLL' | 'MAP' | 'UNMAP' | 'UNKNOWN';

/** One hypercall recorded by the EL2 stub in its guard-call log (oldest first). */
export interface GuardCall {
  /** Sequence number the stub gave the call (1-based, monotonic; the ring keeps the latest ones). */
  seq: number;
  fn: GuardFunction;
  /** SMCCC function id (0xC6000007 for MAP). */
  functionId: Hex;
  /** x1: the page IPA for MAP/UNMAP. */
  arg: Hex;
  /** x0 on return (0 success, -1 not supported, -3 invalid parameter), as signed decimal text. */
  result: string;
  /** ELR_EL2 of the HVC, when the stub records it. */
  pc?: Hex;
  /** Symbol of `pc`, when the ELF has one. */
  symbol?: string;
}

export type AnomalyCode =
  | 'invalidPte' // a leaf on the fault walk lacks the lazy flag or is valid: handle_mmio_fault fails with InvalidPte
  | 'unsupportedFlags' // bits outside aarch64-paging 0.4.0's Attributes: Descriptor::flags() returns None
  | 'validUnguarded' // stage-1 valid device page that was never MMIO_GUARD_MAPped
  | 'guardedNotMapped' // MAPped at stage 2 but never made valid at stage 1 after the handler returned
  | 'lazyNotPage' // a valid lazy-flagged leaf that is not 4 KiB (mmio_unmap_all asserts on it)
  | 'doubleMap' // MMIO_GUARD_MAP of an already mapped page
  | 'unmapNotMapped' // MMIO_GUARD_UNMAP of a page that was not mapped
  | 'hypercallError' // a guard hypercall returned an error
  | 'lazyOnNormalMemory' // MMIO_LAZY_MAP_FLAG on a normal-memory entry: a fault would MMIO_GUARD_MAP RAM
  | 'guardLeak' // pages still MMIO_GUARD_MAPped when the firmware is done (mmio_unmap_all skipped)
  | 'walkError' // cycle, bad table pointer, unreadable table
  | 'other';

export interface Anomaly {
  code: AnomalyCode;
  severity: 'error' | 'warning' | 'info';
  message: string;
  regime?: Regime;
  va?: Hex;
  ipa?: Hex;
  /** Descriptor address of the entry concerned, when there is one. */
  descriptorAddress?: Hex;
}
