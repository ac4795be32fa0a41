// "Compare Snapshots…": two snapshot files, A (the earlier stop) then B, each analysed by the core as
// the CLI analyses it (snapshotStopInput), diffed with diffStops and worded by stopDiffText: the lines
// `pvmfw-mmu diff A B` prints, in a read-only document titled "pvmfw MMU: A ↔ B".

import { basename } from 'node:path';
import * as vscode from 'vscode';
import { snapshotPicture } from '../analysis';
import { diffStops } from '../analysis/stopDiff';
import { diffProgramWarnings, stopDiffText, type DiffSide } from '../analysis';
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
    return this.texts.get(uri.toString()) ?? 'This comparison was closed: run Compare Snapshots… again.\n';
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

/** Opens the comparison of A and B; resolves with its document, or undefined when cancelled or failed. */
export async function compareSnapshots(
  docs: SnapshotDiffDocuments,
  argA?: unknown,
  argB?: unknown,
): Promise<vscode.TextDocument | undefined> {
  const [givenA, givenB] = pairArgument(argA, argB);
  const a = givenA ?? (await pickSnapshot('Compare Snapshots: A, the earlier stop', 'Select A'));
  if (!a) return undefined;
  const b =
    givenB ??
    (await pickSnapshot(`Compare Snapshots: B, the stop to compare with ${basename(a.path)}`, 'Select B'));
  if (!b) return undefined;
  const lazyBit = vscode.workspace
    .getConfiguration()
    .get<number>(SETTING.lazyFlagBit, SETTING_DEFAULT[SETTING.lazyFlagBit] as number);
  let text: string;
  try {
    text = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Comparing snapshots…' },
      async () => {
        const sa = await side(a, lazyBit);
        const sb = await side(b, lazyBit);
        const d = diffStops(sa.picture, sb.picture);
        const lines = stopDiffText(sa, sb, d, diffProgramWarnings(sa, sb), {
          more: '`pvmfw-mmu diff --json A B` lists them all',
        });
        return `${lines.join('\n')}\n`;
      },
    );
  } catch (e) {
    void vscode.window.showErrorMessage(`Compare Snapshots: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
  const uri = docs.add(`pvmfw MMU: ${basename(a.path)} ↔ ${basename(b.path)}`, text);
  // The path's extension would pick a language (a `.json` B); the diff is plain text.
  const doc = await vscode.languages.setTextDocumentLanguage(
    await vscode.workspace.openTextDocument(uri),
    'plaintext',
  );
  await vscode.window.showTextDocument(doc, { preview: false });
  return doc;
}
