// "Compare Snapshots…": two snapshot files, A (the earlier stop) then B, each analysed by the core as
// the CLI analyses it (snapshotStopInput), diffed with diffStops and worded by stopDiffText: the lines
// `pvmfw-mmu diff A B` prints, in a read-only document titled "pvmfw MMU: A ↔ B". The same diff can
// then be shown in the views ("Show in Page Tables": src/ui/snapshotCompareViews.ts).

import { basename } from 'node:path';
import * as vscode from 'vscode';
import {
  diffProgramWarnings,
  diffStops,
  snapshotPicture,
  stopDiffText,
  type DiffSide,
  type StopDiff,
} from '../analysis';
import { DIFF_SCHEME, SETTING, SETTING_DEFAULT } from './ids';
import { fileLabel, pickSnapshot, readSnapshotFile, uriArgument } from './snapshotFiles';

/**
 * The read-only documents of the comparisons: their text lives here until VS Code closes them. A
 * document's URI path is its title (the tab shows the path's last segment), its query tells
 * comparisons of the same two files apart.
 */
export class SnapshotDiffDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly texts = new Map<string, string>();
  private next = 1;
  private readonly closing = vscode.workspace.onDidCloseTextDocument((d) => {
    if (d.uri.scheme === DIFF_SCHEME) this.texts.delete(d.uri.toString());
  });

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? 'This document was closed: run its command again.\n';
  }

  add(title: string, text: string): vscode.Uri {
    // A `/` would start another path segment and cut the title short.
    const uri = vscode.Uri.from({
      scheme: DIFF_SCHEME,
      path: `/${title.replace(/\//g, '∕')}`,
      query: String(this.next++),
    });
    this.texts.set(uri.toString(), text);
    return uri;
  }

  dispose(): void {
    this.closing.dispose();
    this.texts.clear();
  }
}

async function side(uri: vscode.Uri, lazyBit: number): Promise<DiffSide> {
  const s = await readSnapshotFile(uri);
  return {
    file: fileLabel(uri),
    picture: await snapshotPicture(s, { lazyBit }),
    capture: {
      created: s.snapshot.created,
      ...(s.snapshot.source ? { source: s.snapshot.source } : {}),
      version: s.version,
    },
    ...(s.program ? { program: s.program } : {}),
  };
}

/** The two files of a comparison from the command's arguments: (A, B), or Explorer's (clicked, [A, B]). */
function pairArgument(a: unknown, b: unknown): [vscode.Uri | undefined, vscode.Uri | undefined] {
  if (Array.isArray(b) && b.length === 2) return [uriArgument(b[0]), uriArgument(b[1])];
  return [uriArgument(a), Array.isArray(b) ? undefined : uriArgument(b)];
}

/** Two snapshots compared: both sides as the core analysed them, and diffStops(A, B). */
export interface Comparison {
  a: vscode.Uri;
  b: vscode.Uri;
  sideA: DiffSide;
  sideB: DiffSide;
  diff: StopDiff;
}

/**
 * A and B from the command's arguments, or asked for; both analysed and diffed under a progress
 * notification. Undefined when cancelled or failed (the error is shown, prefixed with `title`).
 */
export async function buildComparison(
  title: string,
  argA?: unknown,
  argB?: unknown,
): Promise<Comparison | undefined> {
  const [givenA, givenB] = pairArgument(argA, argB);
  const a = givenA ?? (await pickSnapshot(`${title}: A, the earlier stop`, 'Select A'));
  if (!a) return undefined;
  const b =
    givenB ?? (await pickSnapshot(`${title}: B, the stop to compare with ${basename(a.path)}`, 'Select B'));
  if (!b) return undefined;
  const lazyBit = vscode.workspace
    .getConfiguration()
    .get<number>(SETTING.lazyFlagBit, SETTING_DEFAULT[SETTING.lazyFlagBit] as number);
  try {
    return await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Comparing snapshots…' },
      async () => {
        const sideA = await side(a, lazyBit);
        const sideB = await side(b, lazyBit);
        return { a, b, sideA, sideB, diff: diffStops(sideA.picture, sideB.picture) };
      },
    );
  } catch (e) {
    void vscode.window.showErrorMessage(`${title}: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

/**
 * Opens the comparison of A and B; resolves with its document, or undefined when cancelled or failed.
 * Then offers to show the same comparison in the views (`showInViews`).
 */
export async function compareSnapshots(
  docs: SnapshotDiffDocuments,
  argA: unknown,
  argB: unknown,
  showInViews: (c: Comparison) => Promise<unknown>,
): Promise<vscode.TextDocument | undefined> {
  const c = await buildComparison('Compare Snapshots', argA, argB);
  if (!c) return undefined;
  const { a, b, sideA, sideB, diff } = c;
  const lines = stopDiffText(sideA, sideB, diff, diffProgramWarnings(sideA, sideB), {
    more: '`pvmfw-mmu diff --json A B` lists them all',
  });
  const text = `${lines.join('\n')}\n`;
  const uri = docs.add(`pvmfw MMU: ${basename(a.path)} ↔ ${basename(b.path)}`, text);
  // The path's extension would pick a language (a `.json` B); the diff is plain text.
  const doc = await vscode.languages.setTextDocumentLanguage(
    await vscode.workspace.openTextDocument(uri),
    'plaintext',
  );
  await vscode.window.showTextDocument(doc, { preview: false });
  // Not awaited: the command resolves with the document while the offer stands.
  void vscode.window
    .showInformationMessage(
      `${basename(a.path)} → ${basename(b.path)}: ${diff.entries.length} table entries and ` +
        `${diff.guard.transitions.length} guard-state runs changed.`,
      SHOW_IN_VIEWS,
    )
    .then((choice) => (choice === SHOW_IN_VIEWS ? showInViews(c) : undefined));
  return doc;
}

/** The offer after a comparison: B opened post-mortem, the changes since A marked in the views. */
export const SHOW_IN_VIEWS = 'Show in Page Tables';
