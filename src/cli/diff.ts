// `pvmfw-mmu diff A B`: two snapshots, each analysed as the CLI analyses any stop (cliPicture), and
// what changed between them (the analysis core's diffStops): table entries with the fields that
// changed, MMIO-guard transitions per page run, tracked regions, anomalies, the guard calls made in
// between. Text for a firmware engineer (stopDiffText, the same lines VS Code's Compare Snapshots
// shows), or the same data as one JSON object.
import { diffStops } from '../analysis';
import { diffProgramWarnings, diffSideSummary, stopDiffText, type DiffSide } from '../analysis';
import { openSnapshot } from './source';
import { cliPicture, readProgram, type PictureOptions } from './stop';

export interface DiffOptions extends PictureOptions {
  readonly json: boolean;
  readonly out: (s: string) => void;
}

export async function runDiff(fileA: string, fileB: string, o: DiffOptions): Promise<number> {
  const elf = o.elf ? readProgram(o.elf).identity : undefined;
  const sides: DiffSide[] = [];
  for (const file of [fileA, fileB]) {
    const source = openSnapshot(file);
    const { picture } = await cliPicture(source, o);
    sides.push({
      file,
      picture,
      ...(source.capture ? { capture: source.capture } : {}),
      ...(source.program ? { program: source.program } : {}),
    });
  }
  const [a, b] = sides;
  const d = diffStops(a.picture, b.picture);
  const warnings = diffProgramWarnings(a, b, elf);
  const pa = a.program;
  const pb = b.program;
  if (o.json) {
    o.out(
      `${JSON.stringify({
        a: diffSideSummary(a),
        b: diffSideSummary(b),
        sameProgram: pa && pb ? pa.sha256 === pb.sha256 : null,
        warnings,
        ...d,
      })}\n`,
    );
  } else o.out(stopDiffText(a, b, d, warnings).join('\n') + '\n');
  return 0;
}
