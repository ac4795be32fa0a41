// Custom DAP requests and events of the pvmfw-mmu debug adapter: the contract between the adapter
// (src/adapter), the VS Code views (src/ui, media/) and any other DAP client (tests, nvim-dap).
//
// Everything here is plain JSON. 64-bit quantities (addresses, descriptors, registers) travel as
// `Hex` strings ("0x00e0000009010403"): JSON numbers lose bits above 2^53 and BigInt does not
// serialise. One interface per message; `CustomRequests` / `CustomEvents` map each command or event
// name to its payload types so a caller can write a typed helper:
//
//   async function request<C extends CustomRequestCommand>(s: DebugSession, c: C, a: CustomRequestArguments<C>)
//     : Promise<CustomResponseBody<C>> { return (await s.customRequest(c, a)) as CustomResponseBody<C>; }

import type { Hex } from './values';

export type { Hex, Regime } from './values';
export * from './guardProtocol';

/** The debug type registered by the extension and announced by the adapter. */
export const DEBUG_TYPE = 'pvmfw-mmu';

// ---------------------------------------------------------------------------------------------
// Translation regimes

import type { Regime } from './values';
import type { Anomaly, GuardCall, GuardRegion, PageGuardState, PageRun } from './guardProtocol';

export interface RegimeInfo {
  regime: Regime;
  /** False when the regime is disabled (TCR.EPDn, SCTLR.M = 0, HCR_EL2.VM = 0) or its registers are unreadable. */
  enabled: boolean;
  /** Why `enabled` is false, in words ("TCR_EL1.EPD1 = 1: TTBR1 walks disabled"). */
  reason?: string;
  /** Raw base register value. */
  ttbr?: Hex;
  /** Physical address of the root table (TTBR BADDR). */
  rootTable?: Hex;
  asid?: number;
  vmid?: number;
  /** Translation granule in bytes (4096 for pvmfw). */
  granule?: number;
  /** Level the walk starts at (1 for T0SZ = 25). */
  startLevel?: number;
  /** Input address size in bits (64 - TnSZ). */
  inputBits?: number;
  /** Lowest and highest input address the regime covers (inclusive). */
  vaStart?: Hex;
  vaEnd?: Hex;
  /** The profile that gives the software bits their meaning ("pvmfw", "linux", "pkvm-hyp", ...). */
  profile?: string;
  /** Why that profile applies, in a sentence (or "set by the user"). */
  profileEvidence?: string;
}

// ---------------------------------------------------------------------------------------------
// Translation table entries

/**
 * What a descriptor is, architecturally and for pvmfw:
 * - `invalid`: all zero (never shown unless asked for).
 * - `invalidWithBits`: VALID clear but other bits set and not a lazy entry (stale or corrupt).
 * - `lazy`: VALID clear, MMIO_LAZY_MAP_FLAG (bit 55) set: a pvmfw lazy MMIO entry waiting for its fault.
 * - `table`, `block`, `page`: valid descriptors (page only at level 3, block at levels 1–2).
 * - `reserved`: valid with bit 1 clear at level 3 (architecturally reserved: faults).
 */
export type PteKind = 'invalid' | 'invalidWithBits' | 'lazy' | 'table' | 'block' | 'page' | 'reserved';

/** Stage-1 attributes decoded through MAIR (leaves only). */
export interface PteAttributes {
  /** MAIR-resolved memory type: "Device-nGnRE", "Normal WB RW-alloc", ... */
  memoryType: string;
  attrIndx: number;
  /** Effective permissions, e.g. "EL1 RW, EL0 none". */
  permissions: string;
  readOnly: boolean;
  user: boolean;
  executeNeverEl1: boolean;
  executeNeverEl0: boolean;
  accessed: boolean;
  nonGlobal: boolean;
  shareability: 'non' | 'outer' | 'inner' | 'reserved';
  contiguous: boolean;
  dirtyBitModifier: boolean;
  /** Software bits [58:55] as a 4-bit number (bit 0 = SWFLAG_0 = pvmfw's lazy flag). */
  software: number;
}

/** Where a table entry's child table is, so a client can ask for it with `pageTable`. */
export interface TableRef {
  /** Physical address of the table. */
  table: Hex;
  level: number;
  /** Input address mapped by entry 0 of the table. */
  vaBase: Hex;
}

export interface PteEntry {
  /** Stable id: `${regime}/${level}/${descriptorAddress}`; unchanged across stops while the table is. */
  id: string;
  regime: Regime;
  level: number;
  index: number;
  /**
   * Address of the descriptor itself, as the walk reads it: a PA, or for EL1&0 under an active stage 2
   * (`outputIsIpa`) an IPA, whose PA is `descriptorPa`.
   */
  descriptorAddress: Hex;
  /** Under an active stage 2: the PA stage 2 maps `descriptorAddress` to (absent where it maps none). */
  descriptorPa?: Hex;
  /** Raw 64-bit descriptor. */
  descriptor: Hex;
  kind: PteKind;
  /** Input address range covered, [vaStart, vaEnd] inclusive. */
  vaStart: Hex;
  vaEnd: Hex;
  /** Bytes covered by the entry (4096, 2 MiB, 1 GiB, ...). */
  size: number;
  /** Output address (for table entries: the next-level table; for lazy entries: the PA it will map). */
  outputAddress?: Hex;
  /** Set when the regime is EL1&0 under an active stage 2: `outputAddress` is an IPA. */
  outputIsIpa?: boolean;
  /** Under stage 2, for a leaf: the PA stage 2 maps its output IPA to (absent where it maps none). */
  finalAddress?: Hex;
  /** Set for `table` entries. */
  child?: TableRef;
  /** Set for leaves (block, page, lazy). */
  attributes?: PteAttributes;
  /** pvmfw / guard view of this entry (device pages only). */
  guard?: PageGuardState;
  /** Problems found on this entry by the pvmfw rules (invariants of the seed change). */
  anomalies?: Anomaly[];
  /** True when the descriptor differs from the previous stop. */
  changed?: boolean;
  /** Decoded fields, one per line, for tooltips ("AttrIndx = 0 (Device-nGnRE)"). */
  fields: string[];
  /**
   * What the regime's software meant by the software bits or the invalid entry's contents, under the
   * regime's profile: "PROT_NONE (…)", "swap type 0 offset 0x1234", "owner: hyp", "shared-borrowed".
   */
  meaning?: string;
}

// ---------------------------------------------------------------------------------------------
// Faults and walks

export interface EsrInfo {
  raw: Hex;
  /** Exception class (ESR.EC) and its name ("Data Abort, same EL"). */
  ec: number;
  ecName: string;
  il: boolean;
  iss: Hex;
  /** Data/instruction fault status code and its name ("Translation fault, level 3"). */
  fsc?: number;
  fscName?: string;
  /** Write not Read (data aborts). */
  wnr?: boolean;
  /** One decoded field per line. */
  fields: string[];
}

export interface WalkStep {
  level: number;
  /** Physical address of the table read at this level. */
  table: Hex;
  index: number;
  descriptorAddress: Hex;
  descriptor?: Hex;
  kind?: PteKind;
  /** Why the walk stopped here, if it did ("invalid entry", "unreadable table"). */
  stop?: string;
}

/** pvmfw's view of a fault: what sync_exception_current / handle_mmio_fault will do with it. */
export interface FaultVerdict {
  /** `handled`: a lazy-MMIO fault the handler has already served (the verdict follows it). */
  kind:
    | 'lazyMmio'
    | 'handled'
    | 'invalidPte'
    | 'unsupportedFlags'
    | 'permission'
    | 'externalAbort'
    | 'notMmio'
    | 'other';
  /** One line: "lazy MMIO: handle_mmio_fault will MMIO_GUARD_MAP 0x09010000". */
  summary: string;
  /** Page IPA the handler will pass to MMIO_GUARD_MAP, for lazyMmio. */
  mapIpa?: Hex;
  /** Level (1 or 2) of the lazy block the handler splits to map the page, when it is a block. */
  splitLevel?: number;
  /** The longer explanation (what the handler does step by step, or why it fails). */
  detail?: string;
}

export interface FaultInfo {
  /** Exception vector entered ("Synchronous, current EL with SP0"), when known. */
  vector?: string;
  esr: EsrInfo;
  far: Hex;
  elr: Hex;
  /** Symbol+offset of ELR (the faulting instruction). */
  elrSymbol?: string;
  walk: WalkStep[];
  verdict: FaultVerdict;
  /**
   * A stage-2 abort taken to EL2 (ESR_EL2 EC 0x20/0x24 from a lower EL): the faulting IPA
   * (HPFAR_EL2.FIPA with FAR_EL2's page offset), whether it hit a stage-1 table fetch (S1PTW), the
   * stage-2 walk of that IPA and what the stage-2 profile makes of the entry it ends on.
   */
  stage2?: {
    ipa: Hex;
    s1ptw: boolean;
    walk: WalkStep[];
    fault?: string;
    meaning?: string;
  };
}

export interface TranslateArguments {
  /** Input address: a number (safe integers only) or hex / decimal text. */
  address: Hex | number;
  /** Default: picked from the address (TTBR1 for upper-half addresses, else TTBR0). */
  regime?: Regime;
}

export interface TranslateResponseBody {
  address: Hex;
  regime: Regime;
  /** True when the access translates: through stage 1 and, where it applies, stage 2. */
  ok: boolean;
  /**
   * The physical address: the final one (through stage 2 when it applies), when ok or when an
   * invalid (lazy) leaf names an address that translates. For a VTTBR_EL2 request, the IPA's PA.
   */
  outputAddress?: Hex;
  /**
   * Under stage 2 (HCR_EL2.VM = 1): the stage-1 output address (or the one an invalid leaf names),
   * an intermediate physical address.
   */
  ipa?: Hex;
  /** The stage-1 walk. Under stage 2 its `table` and `descriptorAddress` are IPAs. */
  walk: WalkStep[];
  /** Under stage 2: the PA of each stage-1 descriptor in `walk` (null where its IPA does not translate). */
  walkPhysical?: (Hex | null)[];
  /** The leaf reached (valid or lazy). */
  leaf?: PteEntry;
  /**
   * Why translation fails, in Arm terms ("Translation fault, level 3", "stage-2 translation fault,
   * level 2 (IPA 0x9010000)").
   */
  fault?: string;
  /** Which stage refused the access (with `fault`). */
  faultStage?: 1 | 2;
  /** Verdict for an access to this address right now (lazy MMIO and so on); about stage 1. */
  verdict?: FaultVerdict;
  /**
   * Stage-2 walk when stage 2 applies: of `ipa`, or, for a fault on the stage-1 walk itself
   * (`s1ptw`), of the stage-1 table's IPA that did not translate.
   */
  stage2?: {
    ok: boolean;
    /** The IPA walked. */
    ipa?: Hex;
    outputAddress?: Hex;
    walk: WalkStep[];
    fault?: string;
    faultKind?:
      'translation' | 'addressSize' | 'accessFlag' | 'permission' | 'unreadable' | 'disabled' | 'unknown';
    /** Stage-2 level of the fault. */
    level?: number;
    /**
     * A stage-2 fault on a stage-1 descriptor fetch (S1PTW): the stage-1 level and its table's IPA
     * (`ipa` is the descriptor's).
     */
    s1ptw?: { level: number; tableIpa: Hex };
    /** The stage-2 leaf's own MemAttr type and S2AP/XN permissions. */
    memoryType?: string;
    permissions?: string;
    /**
     * The stage-2 profile's meaning of the entry the walk ended on: "not mapped yet: pKVM
     * identity-maps it on the host's next access", "owner: hyp", "guard-mapped MMIO (pKVM …)".
     */
    meaning?: string;
  };
  /**
   * The attributes the access gets: the two stages' memory types and permissions combined (Arm
   * rules; HCR_EL2.FWB), or stage 1's alone without stage 2. Permissions as "RW-/---" (EL1/EL0).
   */
  combined?: { memoryType: string; permissions: string };
}

// ---------------------------------------------------------------------------------------------
// Requests

export interface PageTableArguments {
  regime: Regime;
  /** Table to list; omitted = the regime's root table. Pass an entry's `child` to expand it. */
  table?: TableRef;
  /** Only entries overlapping this input-address window. */
  vaStart?: Hex;
  vaEnd?: Hex;
  /** Paging over the table's entries in index order (default start 0, count 512). */
  start?: number;
  count?: number;
  /** Include all-zero entries (default false: a table lists only entries with bits set). */
  includeZero?: boolean;
}

export interface PageTableResponseBody {
  regime: RegimeInfo;
  table: TableRef;
  /** Entries in index order, filtered by the window and `includeZero`. */
  entries: PteEntry[];
  /** Index to pass as `start` for the next page, when more entries remain. */
  nextStart?: number;
  /** Number of entries with any bit set in the whole table. */
  nonZeroEntries: number;
  /** Problems hit while reading the table (unreadable, cycle). */
  error?: string;
}

export type RegimesArguments = Record<string, never>;

export interface RegimesResponseBody {
  regimes: RegimeInfo[];
}

export interface GuardStateArguments {
  /** Omit the guard-call log (it can be long); default false. */
  omitLog?: boolean;
}

export interface GuardStateResponseBody {
  /** False when the ELF has no guard-call log symbol or the stub log is unreadable. */
  available: boolean;
  reason?: string;
  /** The stub saw MMIO_GUARD_ENROLL. */
  enrolled: boolean;
  /** Guard granule from MMIO_GUARD_INFO, when called. */
  granule?: number;
  regions: GuardRegion[];
  /**
   * Pages guard-mapped outside every tracked region (pvmfw maps its console eagerly, not through
   * `mmio_regions`): from stage 2 when it is active, else from the guard-call log.
   */
  untracked: PageRun[];
  log: GuardCall[];
  anomalies: Anomaly[];
  /**
   * Which pvmfw the stop shows, read from the machine: the lazy encoding's generation ('seed2023',
   * 'late2023'), the handler style, the guard granule and where it came from, stage 2's
   * representation of a guard map ('valid', pKVM's 'pkvmNote' or 'pkvmLegacy').
   */
  firmware?: {
    generation: string;
    handler: string;
    granule: number;
    granuleFrom: string;
    stage2?: string;
  };
  /** The fault the vCPU is stopped in, if any. */
  fault?: FaultInfo;
  /** Increments at every stop; matches `MmuChangedEventBody.stopId`. */
  stopId: number;
}

// ---------------------------------------------------------------------------------------------
// Events

export type PteChangeKind =
  'becameValid' | 'becameInvalid' | 'split' | 'merged' | 'modified' | 'added' | 'removed';

export interface PteChange {
  kind: PteChangeKind;
  regime: Regime;
  level: number;
  descriptorAddress: Hex;
  vaStart: Hex;
  vaEnd: Hex;
  before?: Hex;
  after?: Hex;
  /** For `split`: the new next-level table that replaced the block. */
  newTable?: TableRef;
  /** One line for logs and tooltips ("L2 block 0x0a000000 split into table 0x7fe0b000"). */
  summary: string;
  /**
   * The descriptor fields that differ between `before` and `after`, named as the Arm ARM names them
   * (`VALID`, `AF`, `AP[2:1]`, `OA`; `LAZY` for pvmfw's MMIO_LAZY_MAP_FLAG), values as hex (OA and
   * table addresses as addresses). Set by the analysis's diffStops(); absent when not computed.
   */
  changedFields?: { name: string; msb: number; lsb: number; before: Hex; after: Hex }[];
}

export interface MmuChangedEventBody {
  /** Increments at every stop. */
  stopId: number;
  /** DAP stop reason of this stop ("step", "breakpoint", "exception", ...). */
  reason: string;
  threadId: number;
  pc: Hex;
  /** Changes since the previous stop (empty on the first stop: everything is new). */
  changes: PteChange[];
  /** Anomalies not present at the previous stop. */
  newAnomalies: Anomaly[];
  /** Guard calls appended to the stub's log since the previous stop. */
  newGuardCalls: GuardCall[];
  regimes: RegimeInfo[];
  /** Bits the views write this stop's VAs at: the EL1 regime's regimeVaBits (64 with TTBR1 in use). */
  vaBits?: number;
  /** Set when stopped in an exception. */
  fault?: FaultInfo;
  /** Page-state counts over all tracked regions. */
  guardCounts?: Record<PageGuardState, number>;
  /**
   * Pages guard-mapped outside every tracked region (pvmfw's console: mapped eagerly at boot, not
   * through `mmio_regions`): the guard state's `untracked`, so views count and mark them without
   * asking for the whole guard state.
   */
  untracked?: PageRun[];
  /** Milliseconds from the stop report to this event (walk + diff). */
  computeMs: number;
  /**
   * How guest RAM was read (live sessions): `shared-memory` or `proc-mem` (the local fast path, QEMU
   * on this host) or `gdbstub`; `detail` says what and, for the gdbstub, why.
   */
  memoryPath?: { path: 'shared-memory' | 'proc-mem' | 'gdbstub'; detail: string };
}

// ---------------------------------------------------------------------------------------------
// Typed maps

/** `snapshot`: the current stop as a snapshot file's content (docs/snapshot.md), for Export Snapshot. */
export type SnapshotArguments = Record<string, never>;
export interface SnapshotResponseBody {
  /** The snapshot JSON object (format `pvmfw-mmu-snapshot`); the client writes it, gzip-compressed. */
  snapshot: object;
  /** Bytes of guest memory it holds. */
  bytes: number;
}

/** One class of pages in pKVM's ownership summary ("host: owned", "hyp (invalid in the host's stage 2)"). */
export interface OwnershipClass {
  name: string;
  pages: number;
  /** The first ranges [start, end) of input addresses, in order. */
  ranges: { start: Hex; end: Hex }[];
  /** Ranges beyond the listed ones. */
  moreRanges: number;
}

/** Who owns the memory of a pKVM machine (empty when no pKVM profile applies). */
export interface OwnershipResponseBody {
  /** The host's stage 2, by IPA (= PA): what the host may touch and what pKVM took from it. */
  hostStage2?: OwnershipClass[];
  /** The hypervisor's EL2 stage 1, by hyp VA: its own and its shared pages. */
  hyp?: OwnershipClass[];
}

/** The vCPU the user selected in the Call Stack: the views follow it (its regimes can differ). */
export interface SelectThreadArguments {
  threadId: number;
}

export interface SelectThreadResponseBody {
  /** True when the views now show that vCPU (an mmuChanged event with its picture follows). */
  changed: boolean;
}

export interface CustomRequests {
  pageTable: { arguments: PageTableArguments; body: PageTableResponseBody };
  snapshot: { arguments: SnapshotArguments; body: SnapshotResponseBody };
  translate: { arguments: TranslateArguments; body: TranslateResponseBody };
  guardState: { arguments: GuardStateArguments; body: GuardStateResponseBody };
  regimes: { arguments: RegimesArguments; body: RegimesResponseBody };
  ownership: { arguments: Record<string, never>; body: OwnershipResponseBody };
  selectThread: { arguments: SelectThreadArguments; body: SelectThreadResponseBody };
}

export type CustomRequestCommand = keyof CustomRequests;
export type CustomRequestArguments<C extends CustomRequestCommand> = CustomRequests[C]['arguments'];
export type CustomResponseBody<C extends CustomRequestCommand> = CustomRequests[C]['body'];

/** Discriminated union of the custom requests, as a DAP client sends them. */
export type CustomRequest = {
  [C in CustomRequestCommand]: { command: C; arguments: CustomRequestArguments<C> };
}[CustomRequestCommand];

export interface CustomEvents {
  mmuChanged: MmuChangedEventBody;
}

export type CustomEventName = keyof CustomEvents;

/** Discriminated union of the custom events, as a DAP client receives them. */
export type CustomEvent = { [E in CustomEventName]: { event: E; body: CustomEvents[E] } }[CustomEventName];

export const CUSTOM_REQUESTS: readonly CustomRequestCommand[] = [
  'pageTable',
  'translate',
  'guardState',
  'regimes',
  'snapshot',
  'ownership',
  'selectThread',
];
export const CUSTOM_EVENTS: readonly CustomEventName[] = ['mmuChanged'];

/** Custom exception breakpoint filters (DAP `exceptionBreakpointFilters`). */
export type ExceptionFilterId = 'lazyMmioFault' | 'syncException' | 'guardHypercall';

/**
 * Memory references handed out by the adapter (variables, evaluate, readMemory):
 * `0x...` or `v:0x...` is virtual (through the stopped vCPU's current regime), `p:0x...` physical.
 */
export type MemoryReference = string;

export function isCustomRequestCommand(c: string): c is CustomRequestCommand {
  return (CUSTOM_REQUESTS as readonly string[]).includes(c);
}
