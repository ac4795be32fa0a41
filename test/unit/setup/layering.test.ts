// The shape of src/: no import circles (a helper importing the session that imports it is how the
// adapter's files used to reach into each other), and small files with one job. The direction of
// imports between folders is checked by lint (eslint.config.mjs); circles inside a folder are not,
// so they are checked here, `import type` included.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = join(__dirname, '../../../..');
const src = join(root, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : n.endsWith('.ts') && !n.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports of a file (static `import`/`export ... from`, type-only ones included). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+'(\.[^']+)'/gms)) {
    const target = resolve(dirname(file), m[1]);
    for (const candidate of [`${target}.ts`, join(target, 'index.ts')]) {
      try {
        if (statSync(candidate).isFile()) {
          out.push(candidate);
          break;
        }
      } catch {
        // not this one
      }
    }
  }
  return out;
}

/** Strongly connected components with more than one file (Tarjan). */
function circles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.map((f) => relative(root, f)).sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

void describe('src/ layering', () => {
  const all = files(src);
  const graph = new Map(all.map((f) => [f, importsOf(f)]));

  void test('the import graph of src/ has no circles', () => {
    assert.ok(graph.size > 100, `read ${graph.size} files`);
    assert.ok(
      [...graph.values()].some((deps) => deps.length > 0),
      'imports were found',
    );
    assert.deepEqual(circles(graph), []);
  });

  void test('a circle is detected (self-check of the checker)', () => {
    const a = join(src, 'a.ts');
    const b = join(src, 'b.ts');
    assert.equal(
      circles(
        new Map([
          [a, [b]],
          [b, [a]],
        ]),
      ).length,
      1,
    );
  });

  void test('every file under src/ stays small (one job per file)', () => {
    const big = all
      .map((f) => ({ f: relative(root, f), lines: readFileSync(f, 'utf8').split('\n').length }))
      .filter((x) => x.lines > 520);
    assert.deepEqual(big, []);
  });
});
