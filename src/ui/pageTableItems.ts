// The tree item of each Page Tables node (label, description, icon, tooltip, decoration), from the
// node's data and the stop it belongs to. Pure of state: the tree compares what these give at two
// stops to redraw only the rows that changed.

import * as vscode from 'vscode';
import type { Hex, PageRun, Regime } from '../shared/protocol';
import {
  entryDescription,
  entryIcon,
  entryLabel,
  entryTooltip,
  groupDescription,
  groupLabel,
  shortHex,
} from './format';
import { CONTEXT_VALUE } from './ids';
import { changedUri } from './changeDecorations';
import type { Node } from './pageTableNodes';

/** What an item shows besides its node's own data. */
export interface ItemContext {
  /** Input address width of each regime (entry addresses are padded to it). */
  widths: ReadonlyMap<Regime, number>;
  /** Descriptor addresses changed at this stop, with the change's one-line summary. */
  changed: ReadonlyMap<Hex, string>;
  /** Pages guard-mapped outside the tracked regions (the stop's own list). */
  untracked: readonly PageRun[] | undefined;
  /** The snapshot the stop is compared with, when not its previous stop. */
  since: string | undefined;
  finalPa: boolean;
}

export function treeItem(node: Node, ctx: ItemContext): vscode.TreeItem {
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
      const changed = e.changed === true || ctx.changed.has(e.descriptorAddress.toLowerCase());
      const bits = ctx.widths.get(e.regime);
      const item = new vscode.TreeItem(
        entryLabel(e, bits),
        e.child ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None,
      );
      item.id = node.id;
      item.contextValue = CONTEXT_VALUE.entry;
      // Pages guard-mapped outside the tracked regions (the console): the stop's own list.
      const untracked = ctx.untracked;
      item.description = entryDescription(e, changed, untracked, ctx.finalPa);
      const icon = entryIcon(e, untracked);
      item.iconPath = new vscode.ThemeIcon(
        icon.icon,
        icon.color ? new vscode.ThemeColor(icon.color) : undefined,
      );
      const since = ctx.since;
      item.tooltip = new vscode.MarkdownString(
        entryTooltip(e, ctx.changed.get(e.descriptorAddress.toLowerCase()), since, untracked),
      );
      // The resource URI only carries the "changed" decoration (label colour + badge).
      if (changed) item.resourceUri = changedUri(node.id, since);
      return item;
    }
    case 'range': {
      const bits = ctx.widths.get(node.group.entries[0].regime);
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

/**
 * What a row is drawn from besides the context (contextKey): the node's own data and, for an entry,
 * the summary of its change at this stop. Equal keys in an equal context draw the same row; cheaper
 * than building the item (an entry's tooltip) for every row at every stop.
 */
export function rowKey(node: Node, ctx: ItemContext): string {
  switch (node.kind) {
    case 'entry':
      return `${JSON.stringify(node.entry)}|${ctx.changed.get(node.entry.descriptorAddress.toLowerCase()) ?? ''}`;
    case 'regime':
      return JSON.stringify(node.info);
    case 'range':
      return JSON.stringify(node.group);
    case 'more':
      return `more ${node.start}`;
    case 'message':
      return `${node.text}|${node.detail ?? ''}`;
  }
}

/** What every row is drawn from: when it differs from the last draw, every row may differ. */
export function contextKey(ctx: ItemContext): string {
  return JSON.stringify([[...ctx.widths], ctx.untracked ?? null, ctx.since ?? null, ctx.finalPa]);
}
