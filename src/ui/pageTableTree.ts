// The Page Tables tree: regimes -> table entries -> next-level entries, each level fetched only when
// the user expands it, through the adapter's `pageTable` request (a kernel has ~260k leaves: never
// build them all). Node objects are cached by their stable id so `reveal()` and re-renders after a
// stop reuse the same elements, as the tree API requires.

import * as vscode from 'vscode';
import type {
  Hex,
  PageTableArguments,
  PteChange,
  PteEntry,
  Regime,
  RegimeInfo,
  TableRef,
} from '../shared/protocol';
import {
  coalesce,
  entryDescription,
  entryIcon,
  entryLabel,
  entryTooltip,
  groupDescription,
  groupLabel,
  shortHex,
  type EntryGroup,
} from './format';
import { CONTEXT_VALUE, SETTING, SETTING_DEFAULT } from './ids';
import type { MmuSessions } from './mmuSession';
import { changedUri } from './changeDecorations';

interface BaseNode {
  readonly id: string;
  parent: Node | undefined;
}
export interface RegimeNode extends BaseNode {
  kind: 'regime';
  info: RegimeInfo;
}
export interface EntryNode extends BaseNode {
  kind: 'entry';
  entry: PteEntry;
}
export interface RangeNode extends BaseNode {
  kind: 'range';
  group: EntryGroup;
}
export interface MoreNode extends BaseNode {
  kind: 'more';
  regime: Regime;
  table: TableRef | undefined;
  start: number;
}
export interface MessageNode extends BaseNode {
  kind: 'message';
  text: string;
  detail?: string;
}
export type Node = RegimeNode | EntryNode | RangeNode | MoreNode | MessageNode;

/** Children already fetched at this stop, per parent id ('' = root). */
interface Listing {
  nodes: Node[];
  /** Entries fetched so far (pages appended by "Load more"), before coalescing. */
  entries: PteEntry[];
  nextStart?: number;
}

export class PageTableTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changeEmitter.event;

  private readonly nodes = new Map<string, Node>();
  private listings = new Map<string, Listing>();
  /** The previous stop's listings, shown while the target runs (a "Running…" item would collapse the tree). */
  private stale = new Map<string, Listing>();
  /** Input address width of each regime (RegimeInfo.inputBits): entry addresses are padded to it. */
  private readonly widths = new Map<Regime, number>();
  /** Descriptor addresses changed at the last stop, with the change's one-line summary. */
  private changed = new Map<Hex, string>();
  private readonly disposables: vscode.Disposable[] = [];
  view: vscode.TreeView<Node> | undefined;

  constructor(private readonly sessions: MmuSessions) {
    this.disposables.push(
      this.changeEmitter,
      sessions.onDidStop(({ change }) => this.reset(change.changes)),
      sessions.onDidChangeSession(() => {
        this.reset([]);
        this.stale = new Map();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SETTING.coalesce) || e.affectsConfiguration(SETTING.entriesPerRequest)) {
          this.reset();
        }
        // Only the descriptions change: redraw, without asking the adapter again.
        if (e.affectsConfiguration(SETTING.finalPa)) this.changeEmitter.fire(undefined);
      }),
    );
  }

  /**
   * Forgets every listing: the next expansion asks the adapter again (ids stay, so expansion state
   * does). `changes` replaces the changed-since-previous-stop set; omitted keeps it (settings change).
   */
  reset(changes?: readonly PteChange[]): void {
    if (changes) this.changed = new Map(changes.map((c) => [c.descriptorAddress.toLowerCase(), c.summary]));
    // Node objects are kept (and updated in place by the next fetch): the tree API rejects a new object
    // under an id it still holds, and a reveal can race the refresh this fires.
    for (const [k, v] of this.listings) this.stale.set(k, v);
    this.listings = new Map();
    this.changeEmitter.fire(undefined);
  }

  /** The input width of `regime` (for padding its addresses), once the regimes were listed. */
  addressBits(regime: Regime): number | undefined {
    return this.widths.get(regime);
  }

  getParent(node: Node): Node | undefined {
    return node.parent;
  }

  getTreeItem(node: Node): vscode.TreeItem {
    switch (node.kind) {
      case 'regime': {
        const r = node.info;
        // Stage 1 of EL1 is what pvmfw programs: open it by default (VS Code remembers the user's choice by id).
        const item = new vscode.TreeItem(
          r.regime,
          r.regime === 'TTBR0_EL1'
            ? vscode.TreeItemCollapsibleState.Expanded
            : vscode.TreeItemCollapsibleState.Collapsed,
        );
        item.id = node.id;
        item.contextValue = CONTEXT_VALUE.regime;
        item.iconPath = new vscode.ThemeIcon(r.enabled ? 'symbol-namespace' : 'circle-slash');
        item.description = r.enabled
          ? `root ${shortHex(r.rootTable ?? '0x0')} · L${r.startLevel ?? '?'} start · ${r.inputBits ?? '?'}-bit VA` +
            (r.asid !== undefined ? ` · ASID ${r.asid}` : '') +
            (r.profile ? ` · ${r.profile}` : '')
          : (r.reason ?? 'disabled');
        if (!r.enabled) item.collapsibleState = vscode.TreeItemCollapsibleState.None;
        item.tooltip = new vscode.MarkdownString(
          [
            `**${r.regime}** ${r.enabled ? '' : '(disabled)'}`,
            ...(r.profile ? [`profile **${r.profile}**: ${r.profileEvidence ?? ''}`] : []),
            r.reason,
            r.ttbr && `${r.regime} = \`${r.ttbr}\``,
            r.vaStart && `Input range \`${r.vaStart}\` – \`${r.vaEnd}\``,
            r.granule && `Granule ${r.granule / 1024} KiB`,
          ]
            .filter(Boolean)
            .join('  \n'),
        );
        return item;
      }
      case 'entry': {
        const e = node.entry;
        const changed = e.changed === true || this.changed.has(e.descriptorAddress.toLowerCase());
        const bits = this.widths.get(e.regime);
        const item = new vscode.TreeItem(
          entryLabel(e, bits),
          e.child ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
        );
        item.id = node.id;
        item.contextValue = CONTEXT_VALUE.entry;
        // Pages guard-mapped outside the tracked regions (the console): the stop's own list.
        const untracked = this.sessions.lastChange?.untracked;
        item.description = entryDescription(
          e,
          changed,
          untracked,
          bits,
          this.setting<boolean>(SETTING.finalPa),
        );
        const icon = entryIcon(e, untracked);
        item.iconPath = new vscode.ThemeIcon(
          icon.icon,
          icon.color ? new vscode.ThemeColor(icon.color) : undefined,
        );
        const since = this.sessions.baseline?.since;
        item.tooltip = new vscode.MarkdownString(
          entryTooltip(e, this.changed.get(e.descriptorAddress.toLowerCase()), since, untracked),
        );
        // The resource URI only carries the "changed" decoration (label colour + badge).
        if (changed) item.resourceUri = changedUri(node.id, since);
        return item;
      }
      case 'range': {
        const bits = this.widths.get(node.group.entries[0].regime);
        const item = new vscode.TreeItem(
          groupLabel(node.group, bits),
          vscode.TreeItemCollapsibleState.Collapsed,
        );
        item.id = node.id;
        item.contextValue = CONTEXT_VALUE.range;
        item.description = groupDescription(node.group);
        const icon = entryIcon(node.group.entries[0]);
        item.iconPath = new vscode.ThemeIcon(
          icon.icon,
          icon.color ? new vscode.ThemeColor(icon.color) : undefined,
        );
        return item;
      }
      case 'more': {
        const item = new vscode.TreeItem('Load more…', vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.contextValue = CONTEXT_VALUE.more;
        item.iconPath = new vscode.ThemeIcon('ellipsis');
        item.command = { command: 'pvmfwMmu.internal.loadMore', title: 'Load more', arguments: [node] };
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.id = node.id;
        item.contextValue = CONTEXT_VALUE.message;
        item.tooltip = node.detail;
        item.iconPath = new vscode.ThemeIcon('info');
        return item;
      }
    }
  }

  /** getChildren calls in flight, and when the last one started (see whenIdle). */
  private inflight = 0;
  private lastCall = 0;

  /**
   * Resolves once VS Code has stopped re-fetching after a refresh. `reveal()` fetches the parents it
   * needs too; when both fetch the same parent at once, VS Code rejects the second as a duplicate id.
   */
  async whenIdle(quietMs = 150, maxMs = 3000): Promise<void> {
    const end = Date.now() + maxMs;
    while (Date.now() < end && (this.inflight > 0 || Date.now() - this.lastCall < quietMs)) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async getChildren(node?: Node): Promise<Node[]> {
    this.inflight++;
    this.lastCall = Date.now();
    try {
      return await this.children(node);
    } finally {
      this.inflight--;
    }
  }

  private async children(node?: Node): Promise<Node[]> {
    if (node?.kind === 'range') return node.group.entries.map((e) => this.entryNode(e, node));
    if (node && node.kind !== 'regime' && !(node.kind === 'entry' && node.entry.child)) return [];
    const key = node?.id ?? '';
    const cached = this.listings.get(key);
    if (cached) return cached.nodes;
    const stopped = this.sessions.isStopped;
    const listing = await this.fetch(node);
    if (stopped && this.sessions.isStopped) this.listings.set(key, listing);
    return listing.nodes;
  }

  /** Fetches the children of `parent` from the adapter; errors become a message item, never a popup. */
  private async fetch(parent: RegimeNode | EntryNode | undefined): Promise<Listing> {
    if (!this.sessions.session)
      return { nodes: [this.message(parent, 'No pvmfw-mmu debug session')], entries: [] };
    if (!this.sessions.isStopped) {
      // A step is under way: keep showing the last stop's tables (they refresh at the next stop).
      const previous = this.stale.get(parent?.id ?? '');
      if (previous) return previous;
      return { nodes: [this.message(parent, 'Running… (tables shown at the next stop)')], entries: [] };
    }
    try {
      if (!parent) {
        const { regimes } = await this.sessions.request('regimes', {});
        for (const r of regimes) if (r.inputBits) this.widths.set(r.regime, r.inputBits);
        return {
          nodes: regimes.map((info) =>
            this.upsert<RegimeNode>(`regime:${info.regime}`, { kind: 'regime', info, parent }),
          ),
          entries: [],
        };
      }
      const args = this.tableArgs(parent, 0);
      const body = await this.sessions.request('pageTable', args);
      const listing: Listing = { nodes: [], entries: body.entries, nextStart: body.nextStart };
      this.layout(parent, listing);
      if (body.error) listing.nodes.unshift(this.message(parent, body.error));
      if (!listing.nodes.length) listing.nodes.push(this.message(parent, 'No entries with bits set'));
      return listing;
    } catch (err) {
      return {
        nodes: [
          this.message(parent, `Cannot read tables: ${String(err instanceof Error ? err.message : err)}`),
        ],
        entries: [],
      };
    }
  }

  private tableArgs(parent: RegimeNode | EntryNode, start: number): PageTableArguments {
    const count = this.setting<number>(SETTING.entriesPerRequest);
    if (parent.kind === 'regime') return { regime: parent.info.regime, start, count };
    return { regime: parent.entry.regime, table: parent.entry.child, start, count };
  }

  /** Turns fetched entries into nodes (coalesced or not) plus a "Load more" item when paged. */
  private layout(parent: RegimeNode | EntryNode, listing: Listing): void {
    const items = this.setting<boolean>(SETTING.coalesce) ? coalesce(listing.entries) : listing.entries;
    listing.nodes = items.map((x) =>
      'entries' in x ? this.rangeNode(x, parent) : this.entryNode(x, parent),
    );
    if (listing.nextStart !== undefined) {
      const regime = parent.kind === 'regime' ? parent.info.regime : parent.entry.regime;
      const table = parent.kind === 'regime' ? undefined : parent.entry.child;
      listing.nodes.push(
        this.upsert<MoreNode>(`${parent.id}/more`, {
          kind: 'more',
          regime,
          table,
          start: listing.nextStart,
          parent,
        }),
      );
    }
  }

  /** "Load more…": appends the next page of entries to the parent's listing. */
  async loadMore(more: MoreNode): Promise<void> {
    const parent = more.parent;
    if (!parent || (parent.kind !== 'regime' && parent.kind !== 'entry')) return;
    const listing = this.listings.get(parent.id);
    if (!listing) return;
    const body = await this.sessions.request('pageTable', this.tableArgs(parent, more.start));
    listing.entries = [...listing.entries, ...body.entries];
    listing.nextStart = body.nextStart;
    this.nodes.delete(more.id);
    this.layout(parent, listing);
    this.changeEmitter.fire(parent);
  }

  private entryNode(entry: PteEntry, parent: Node): EntryNode {
    return this.upsert<EntryNode>(entry.id, { kind: 'entry', entry, parent });
  }

  private rangeNode(group: EntryGroup, parent: Node): RangeNode {
    const first = group.entries[0];
    const last = group.entries[group.entries.length - 1];
    const node = this.upsert<RangeNode>(`${parent.id}/range/${first.index}-${last.index}`, {
      kind: 'range',
      group,
      parent,
    });
    for (const e of group.entries) this.entryNode(e, node);
    return node;
  }

  private message(parent: Node | undefined, text: string): MessageNode {
    return this.upsert<MessageNode>(`${parent?.id ?? ''}/message/${text}`, { kind: 'message', text, parent });
  }

  /** One object per id for the whole stop; later fetches refresh its data in place. */
  private upsert<T extends Node>(id: string, data: Omit<T, 'id'>): T {
    const existing = this.nodes.get(id) as T | undefined;
    if (existing && existing.kind === data.kind) {
      Object.assign(existing, data);
      return existing;
    }
    const node = { id, ...data } as T;
    this.nodes.set(id, node);
    return node;
  }

  /**
   * Finds (fetching as needed) the deepest entry whose VA range holds `va` in `regime`, so the view can
   * reveal it. Walks the same cached listings the tree shows, so the nodes are the tree's own.
   */
  async findEntry(va: bigint, regime?: Regime): Promise<EntryNode | undefined> {
    const roots = await this.children();
    const regimes = roots.filter((n): n is RegimeNode => n.kind === 'regime' && n.info.enabled);
    const candidates = regime ? regimes.filter((r) => r.info.regime === regime) : regimes;
    for (const root of candidates) {
      const found = await this.descend(root, va);
      if (found) return found;
    }
    return undefined;
  }

  private async descend(
    parent: RegimeNode | EntryNode | RangeNode,
    va: bigint,
  ): Promise<EntryNode | undefined> {
    let best: EntryNode | undefined;
    let level: Node[] = await this.children(parent);
    for (;;) {
      const hit = level.find((n) => this.covers(n, va));
      if (!hit) return best;
      if (hit.kind === 'range') {
        level = await this.children(hit);
        continue;
      }
      if (hit.kind !== 'entry') return best;
      best = hit;
      if (!hit.entry.child) return best;
      level = await this.children(hit);
    }
  }

  private covers(n: Node, va: bigint): boolean {
    const range = (s: Hex, e: Hex): boolean => BigInt(s) <= va && va <= BigInt(e);
    if (n.kind === 'entry') return range(n.entry.vaStart, n.entry.vaEnd);
    if (n.kind === 'range') {
      const g = n.group.entries;
      return range(g[0].vaStart, g[g.length - 1].vaEnd);
    }
    return false;
  }

  /** Entries currently fetched (for tests and the webview's click-to-reveal). */
  fetchedEntries(): PteEntry[] {
    return [...this.nodes.values()].filter((n): n is EntryNode => n.kind === 'entry').map((n) => n.entry);
  }

  private setting<T extends number | boolean>(id: keyof typeof SETTING_DEFAULT): T {
    const [section, ...rest] = id.split('.');
    return vscode.workspace.getConfiguration(section).get<T>(rest.join('.'), SETTING_DEFAULT[id] as T);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
