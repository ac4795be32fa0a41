// The Page Tables tree: regimes -> table entries -> next-level entries, each level fetched only when
// the user expands it, through the adapter's `pageTable` request (a kernel has ~260k leaves: never
// build them all). Node objects are cached by their stable id so `reveal()` and re-renders after a
// stop reuse the same elements, as the tree API requires.
// At a stop the tree does not make VS Code fetch it all again: it asks the adapter for the listings
// on screen (all at once, in parallel, after the MMIO Guard's state is on its way), compares each
// row with what VS Code drew, and refreshes only the rows (or the levels) that differ. A step that
// changes no entry redraws nothing but the header, which names the stop the rows show.

import * as vscode from 'vscode';
import type { Hex, PageTableArguments, PteChange, PteEntry, Regime } from '../shared/protocol';
import { coalesce, type EntryGroup } from './format';
import { SETTING, SETTING_DEFAULT } from './ids';
import type { MmuSessions } from './mmuSession';
import { contextKey, rowKey, treeItem, type ItemContext } from './pageTableItems';
import {
  deepestEntry,
  type EntryNode,
  type Listing,
  type MoreNode,
  type MessageNode,
  type Node,
  type RangeNode,
  type RegimeNode,
} from './pageTableNodes';
import type { StopTiming } from './stopTiming';

export type { EntryNode, MessageNode, MoreNode, Node, RangeNode, RegimeNode } from './pageTableNodes';

export class PageTableTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changeEmitter = new vscode.EventEmitter<Node | Node[] | undefined>();
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
  private treeView: vscode.TreeView<Node> | undefined;
  /** Nodes the user collapsed since they were listed: VS Code does not ask for their children. */
  private readonly collapsed = new Set<string>();
  /** What VS Code last drew each node from (rowKey), and every row from (contextKey). */
  private readonly drawn = new Map<string, string>();
  private drawnContext: string | undefined;
  /** Counts stops: a stop's refresh that a newer stop overtook stops there. */
  private generation = 0;
  /**
   * Listings asked for ahead of VS Code at this stop, by parent id, with the request they answer (a
   * parent whose table moved at this stop asks again).
   */
  private prefetched = new Map<string, { key: string; listing: Promise<Listing> }>();
  /** The latency record of the stop the tree is showing. */
  private timing: StopTiming | undefined;

  constructor(private readonly sessions: MmuSessions) {
    this.disposables.push(
      this.changeEmitter,
      sessions.onDidStop(({ session, change }) => this.onStop(session, change.stopId, change.changes)),
      sessions.onDidChangeSession((s) => {
        this.reset([]);
        this.stale = new Map();
        this.timing = undefined;
        if (!s) this.describe(undefined);
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
    this.generation++;
    this.unsettled = new Map();
    for (const [k, v] of this.listings) this.stale.set(k, v);
    this.listings = new Map();
    this.prefetched = new Map();
    this.changeEmitter.fire(undefined);
  }

  /**
   * A new stop: the listings VS Code holds are asked for again and only what differs is redrawn.
   * When VS Code holds none (the view never opened, or was hidden), it asks as it needs.
   */
  private onStop(session: vscode.DebugSession, stopId: number, changes: readonly PteChange[]): void {
    this.timing = this.sessions.timings.of(session.id, stopId);
    this.sessions.timings.mark(this.timing, 'treeRefreshed');
    // A stop overtaken before its rows were compared: VS Code still shows those parents' rows from
    // before it, so they are compared again now, against what it shows.
    const previous = new Map([...this.unsettled, ...this.listings]);
    if (!previous.size || !this.treeView?.visible) {
      this.unsettled = new Map();
      this.reset(changes);
      return;
    }
    this.unsettled = previous;
    const generation = ++this.generation;
    this.changed = new Map(changes.map((c) => [c.descriptorAddress.toLowerCase(), c.summary]));
    for (const [k, v] of previous) this.stale.set(k, v);
    this.listings = new Map();
    this.prefetched = new Map();
    // After the MMIO Guard's request (queued by the same stop event) has gone out.
    this.refreshing = new Promise((resolve) =>
      setImmediate(() => void this.refreshShown(generation, previous).finally(resolve)),
    );
  }

  /** What VS Code showed when the stop being refreshed arrived, until its rows are compared. */
  private unsettled = new Map<string, Listing>();

  /** The current stop's refreshShown (reveal waits for it: both would fetch the same parents). */
  private refreshing: Promise<void> = Promise.resolve();

  /** Lists `parent` again at this stop, remembered so that VS Code's own ask waits for the same answer. */
  private relist(id: string, parent: RegimeNode | EntryNode | undefined): Promise<Listing> {
    const listing = this.fetch(parent);
    // Settled here too, so a listing nobody waits for leaves no unhandled rejection behind.
    listing.catch(() => undefined);
    this.prefetched.set(id, { key: this.requestKey(parent), listing });
    return listing;
  }

  /**
   * Re-lists what VS Code shows (the previous stop's listings under no collapsed node), then fires a
   * change for each node whose row differs and each parent whose children differ. A parent whose
   * table moved (its entry now points elsewhere) is listed again once its own parent is.
   */
  private async refreshShown(generation: number, previous: Map<string, Listing>): Promise<void> {
    const parentOf = (id: string): RegimeNode | EntryNode | undefined | null => {
      if (id === '') return undefined;
      const n = this.nodes.get(id);
      return n?.kind === 'regime' || (n?.kind === 'entry' && n.entry.child) ? n : null;
    };
    const visible = [...previous.keys()].filter((id) => !this.hidden(this.nodes.get(id)));
    const fresh = new Map<string, { key: string; listing: Listing }>();
    for (let round = 0; round < 4; round++) {
      const todo = visible.filter((id) => {
        const p = parentOf(id);
        return p !== null && fresh.get(id)?.key !== this.requestKey(p);
      });
      if (!todo.length) break;
      await Promise.all(
        todo.map(async (id) => {
          const p = parentOf(id) as RegimeNode | EntryNode | undefined;
          const key = this.requestKey(p);
          fresh.set(id, { key, listing: await this.relist(id, p) });
        }),
      );
      if (generation !== this.generation || !this.sessions.isStopped) return;
    }
    // Only listings still reachable from the root count (an entry that lost its table is gone).
    const reachable = new Set<string>();
    const walk = (id: string): void => {
      const l = fresh.get(id)?.listing;
      if (!l || reachable.has(id)) return;
      reachable.add(id);
      for (const n of l.nodes) {
        walk(n.id);
        if (n.kind === 'range') for (const e of n.group.entries) walk(e.id);
      }
    };
    walk('');
    const fire: Node[] = [];
    let everything = false;
    const ctx = this.itemContext();
    // Widths, the untracked pages, the baseline or a setting changed: any row may read differently.
    if (this.drawnContext !== undefined && contextKey(ctx) !== this.drawnContext) everything = true;
    for (const id of reachable) {
      const listing = (fresh.get(id) as { listing: Listing }).listing;
      this.listings.set(id, listing);
      const before = previous
        .get(id)
        ?.nodes.map((n) => n.id)
        .join('\n');
      if (before !== listing.nodes.map((n) => n.id).join('\n')) {
        const node = this.nodes.get(id);
        if (node) fire.push(node);
        else everything = true;
      }
      for (const n of listing.nodes) {
        const rows = n.kind === 'range' ? [n, ...n.group.entries.map((e) => this.entryNode(e, n))] : [n];
        for (const row of rows) {
          const drawn = this.drawn.get(row.id);
          if (drawn !== undefined && drawn !== rowKey(row, ctx)) fire.push(row);
        }
      }
    }
    // Parents VS Code listed while the target ran (the previous stop's rows, or "Running…"): asked again.
    for (const id of this.askedRunning) {
      const n = this.nodes.get(id);
      if (id === '') everything = true;
      else if (n && !reachable.has(id)) fire.push(n);
    }
    this.askedRunning = new Set();
    // Collapsed nodes VS Code listed before: their children are read again when expanded.
    for (const id of previous.keys()) {
      const n = this.nodes.get(id);
      if (n && this.collapsed.has(n.id) && !reachable.has(id)) fire.push(n);
    }
    this.prefetched = new Map();
    // VS Code reads the fired rows (and lists fired parents) next: a reveal waits until it is quiet.
    if (everything || fire.length) this.lastCall = Date.now();
    if (everything) this.changeEmitter.fire(undefined);
    else if (fire.length) this.changeEmitter.fire([...new Set(fire)]);
    this.unsettled = new Map();
    this.listed();
  }

  /** True when `node` or one of its parents is collapsed. */
  private hidden(node: Node | undefined): boolean {
    for (let n = node; n; n = n.parent) if (this.collapsed.has(n.id)) return true;
    return false;
  }

  /** The tree's view (set once created): expansion is followed to know what VS Code will ask for. */
  get view(): vscode.TreeView<Node> | undefined {
    return this.treeView;
  }

  set view(v: vscode.TreeView<Node> | undefined) {
    this.treeView = v;
    if (!v) return;
    this.disposables.push(
      v.onDidCollapseElement((e) => this.collapsed.add(e.element.id)),
      v.onDidExpandElement((e) => {
        this.collapsed.delete(e.element.id);
        this.expanded(e.element);
      }),
    );
  }

  /**
   * A node opened again after stops it spent collapsed: when VS Code shows its children from before
   * (it does not ask for them), it is told to ask. Checked a moment later, after its own ask if any.
   */
  private expanded(node: Node): void {
    const generation = this.generation;
    setTimeout(() => {
      if (generation !== this.generation || !this.sessions.isStopped) return;
      if (this.listings.has(node.id) || this.asking.has(node.id) || this.prefetched.has(node.id)) return;
      this.changeEmitter.fire(node);
    }, 100);
  }

  /** Parents whose children VS Code is being given right now. */
  private readonly asking = new Set<string>();
  /** Parents VS Code asked for while the target ran (answered from the previous stop). */
  private askedRunning = new Set<string>();

  /** What identifies a listing's request: the parent and the table it reads. */
  private requestKey(parent: RegimeNode | EntryNode | undefined): string {
    return parent ? JSON.stringify(this.tableArgs(parent, 0)) : '';
  }

  /** The input width of `regime` (for padding its addresses), once the regimes were listed. */
  addressBits(regime: Regime): number | undefined {
    return this.widths.get(regime);
  }

  getParent(node: Node): Node | undefined {
    return node.parent;
  }

  getTreeItem(node: Node): vscode.TreeItem {
    const ctx = this.itemContext();
    this.drawn.set(node.id, rowKey(node, ctx));
    this.drawnContext = contextKey(ctx);
    const item = treeItem(node, ctx);
    return item;
  }

  private itemContext(): ItemContext {
    return {
      widths: this.widths,
      changed: this.changed,
      untracked: this.sessions.lastChange?.untracked,
      since: this.sessions.baseline?.since,
      finalPa: this.setting<boolean>(SETTING.finalPa),
    };
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
    await Promise.race([this.refreshing, new Promise((r) => setTimeout(r, maxMs))]);
    while (Date.now() < end && (this.inflight > 0 || Date.now() - this.lastCall < quietMs)) {
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async getChildren(node?: Node): Promise<Node[]> {
    const id = node?.id ?? '';
    this.asking.add(id);
    if (!this.sessions.isStopped) this.askedRunning.add(id);
    this.inflight++;
    this.lastCall = Date.now();
    const stop = this.timing?.stopId;
    try {
      return await this.children(node);
    } finally {
      this.asking.delete(id);
      this.inflight--;
      // The header says which stop the rows show (set once this stop's listings are in): while the
      // target runs, and until the next stop is listed, it still names the one on screen.
      const now = this.timing?.stopId;
      if (
        this.inflight === 0 &&
        stop === now &&
        now !== undefined &&
        this.sessions.isStopped &&
        !this.prefetched.size
      )
        this.listed();
    }
  }

  /** This stop's listings are in: the header names it (the first time is the stop's latency mark). */
  private listed(): void {
    if (!this.timing) return;
    this.sessions.timings.mark(this.timing, 'treeFetched');
    this.describe(`stop ${this.timing.stopId}`);
  }

  private description: string | undefined;
  private describe(text: string | undefined): void {
    if (this.treeView && text !== this.description) this.treeView.description = text;
    this.description = text;
  }

  private async children(node?: Node): Promise<Node[]> {
    if (node?.kind === 'range') return node.group.entries.map((e) => this.entryNode(e, node));
    if (node && node.kind !== 'regime' && !(node.kind === 'entry' && node.entry.child)) return [];
    const key = node?.id ?? '';
    const cached = this.listings.get(key);
    if (cached) return cached.nodes;
    const stopped = this.sessions.isStopped;
    const ahead = this.prefetched.get(key);
    this.prefetched.delete(key);
    const listing =
      ahead && ahead.key === this.requestKey(node) ? await ahead.listing : await this.fetch(node);
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
    const timing = this.timing;
    if (timing && timing.treeFetched === undefined) timing.treeRequests++;
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
      const found = await deepestEntry(root, va, (n) => this.children(n));
      if (found) return found;
    }
    return undefined;
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
