// Every id the extension contributes (commands, views, settings, context values), in one typed place.
// package.json `contributes` must name exactly these: test/unit/ui-contributions checks it. This file
// imports nothing from `vscode` so that test runs in plain Node.

export const DEBUG_TYPE = 'pvmfw-mmu';

export const VIEW = {
  pageTables: 'pvmfwMmu.pageTables',
} as const;

/** The MMIO Guard webview panel (an editor-area panel: a 1 GiB grid needs the room). */
export const WEBVIEW = {
  guardState: 'pvmfwMmu.guardState',
  /** The Memory view (hex and ASCII over DAP readMemory). */
  memory: 'pvmfwMmu.memory',
} as const;

export const COMMAND = {
  refresh: 'pvmfwMmu.refresh',
  translateAddress: 'pvmfwMmu.translateAddress',
  revealPte: 'pvmfwMmu.revealPte',
  openGuard: 'pvmfwMmu.openGuard',
  exportSnapshot: 'pvmfwMmu.exportSnapshot',
  openSnapshot: 'pvmfwMmu.openSnapshot',
  compareSnapshots: 'pvmfwMmu.compareSnapshots',
  compareSnapshotsInViews: 'pvmfwMmu.compareSnapshotsInViews',
  copyDescriptor: 'pvmfwMmu.copyDescriptor',
  watchPte: 'pvmfwMmu.watchPte',
  toggleCoalesce: 'pvmfwMmu.toggleCoalesce',
  showOwnership: 'pvmfwMmu.showOwnership',
  toggleFinalPa: 'pvmfwMmu.toggleFinalPa',
  showLatency: 'pvmfwMmu.showLatency',
  openMemory: 'pvmfwMmu.openMemory',
  openMappedPage: 'pvmfwMmu.openMappedPage',
  openEntryTable: 'pvmfwMmu.openEntryTable',
} as const;

export type CommandId = (typeof COMMAND)[keyof typeof COMMAND];

/** Titles shown in the Command Palette; the UI test types them, package.json shows them. */
export const COMMAND_TITLE: Record<CommandId, string> = {
  [COMMAND.refresh]: 'Refresh Page Tables',
  [COMMAND.translateAddress]: 'Translate Address…',
  [COMMAND.revealPte]: 'Reveal PTE for Address…',
  [COMMAND.openGuard]: 'Open MMIO Guard',
  [COMMAND.exportSnapshot]: 'Export Snapshot…',
  [COMMAND.openSnapshot]: 'Open Snapshot…',
  [COMMAND.compareSnapshots]: 'Compare Snapshots…',
  [COMMAND.compareSnapshotsInViews]: 'Compare Snapshots in Page Tables…',
  [COMMAND.copyDescriptor]: 'Copy Descriptor',
  [COMMAND.watchPte]: 'Break When This Entry Is Written',
  [COMMAND.toggleCoalesce]: 'Toggle Coalesced Ranges',
  [COMMAND.showOwnership]: 'Show pKVM Page Ownership',
  [COMMAND.toggleFinalPa]: 'Toggle Final PAs (through stage 2)',
  [COMMAND.showLatency]: 'Show Stop Latency',
  [COMMAND.openMemory]: 'Open Memory View…',
  [COMMAND.openMappedPage]: 'Open Memory of the Page It Maps',
  [COMMAND.openEntryTable]: 'Open Memory of the Table It Lives In',
};

export const COMMAND_CATEGORY = 'pvmfw MMU';

export const SETTING = {
  lazyFlagBit: 'pvmfwMmu.lazyFlagBit',
  walkLimit: 'pvmfwMmu.walkLimit',
  entriesPerRequest: 'pvmfwMmu.pageTables.entriesPerRequest',
  coalesce: 'pvmfwMmu.pageTables.coalesce',
  finalPa: 'pvmfwMmu.pageTables.finalPa',
  openGuardOnFault: 'pvmfwMmu.guard.openOnLazyFault',
  profile: 'pvmfwMmu.profile',
} as const;

export type SettingId = (typeof SETTING)[keyof typeof SETTING];

/** Defaults, also the `default` of each setting in package.json. */
export const SETTING_DEFAULT: Record<SettingId, number | boolean | string> = {
  [SETTING.profile]: 'auto',
  [SETTING.lazyFlagBit]: 55,
  [SETTING.walkLimit]: 1_000_000,
  [SETTING.entriesPerRequest]: 512,
  [SETTING.coalesce]: false,
  [SETTING.finalPa]: false,
  [SETTING.openGuardOnFault]: false,
};

/** `contextValue` of tree items; menus in package.json match them with `viewItem == ...`. */
export const CONTEXT_VALUE = {
  regime: 'pvmfwMmu.regime',
  table: 'pvmfwMmu.table',
  entry: 'pvmfwMmu.entry',
  range: 'pvmfwMmu.range',
  more: 'pvmfwMmu.more',
  message: 'pvmfwMmu.message',
} as const;

/** Theme colour ids contributed for the tree's icons (and mirrored by the webview's CSS). */
export const COLOR = {
  lazy: 'pvmfwMmu.lazyPending',
  guardMapped: 'pvmfwMmu.guardMapped',
  anomaly: 'pvmfwMmu.anomaly',
  invalidWithBits: 'pvmfwMmu.invalidWithBits',
  changed: 'pvmfwMmu.changed',
} as const;

export const CONFIG_SNIPPET_LABEL = {
  launch: 'Launch demo firmware in QEMU',
  launch2024: 'Launch demo firmware in QEMU (pvmfw late 2023: DEVICE_LAZY, VALID set in place)',
  launch16k: 'Launch demo firmware in QEMU (pvmfw 2024: 16 KiB MMIO-guard granule)',
  launchPkvm: 'Launch demo firmware in QEMU (pKVM stage 2: annotated invalid guard entries)',
  attach: 'Attach to a QEMU gdbstub',
  snapshot: 'Open a snapshot (post-mortem)',
  pkvm: 'Launch Debian’s arm64 kernel under pKVM (kvm-arm.mode=protected)',
} as const;

/** What Export Snapshot names its files (gzip-compressed JSON, docs/snapshot.md); Open and Compare offer them. */
export const SNAPSHOT_EXTENSION = 'pvmfw-snapshot';

/** URI scheme of the read-only documents Compare Snapshots opens. */
export const DIFF_SCHEME = 'pvmfw-mmu-diff';

/** The AArch64 assembly language contributed for `.S`/`.s` files (syntaxes/), so their gutter sets breakpoints. */
export const ASM_LANGUAGE = {
  id: 'arm64',
  name: 'AArch64 Assembly',
  scopeName: 'source.arm64',
} as const;
