// The shipped command's loader (src/cli/codeCache.ts) in real node processes: a bundle runs through it
// as a CommonJS module (its argv, require, __dirname, exit code), the code cache is written once per
// command and build and then used (not rewritten), a new build replaces its file, a corrupt file is
// rejected by V8 and rewritten without changing what the bundle does, and PVMFW_MMU_CODE_CACHE=off
// writes nothing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';

const loader = resolve(__dirname, '../../../src/cli/codeCache.js');
const dir = mkdtempSync(join(tmpdir(), 'pvmfw-code-cache-'));
const cacheHome = join(dir, 'cache');
const bundle = join(dir, 'cli-main.js');
const entry = join(dir, 'cli.js');

function writeBundle(extra = ''): void {
  writeFileSync(
    bundle,
    `#!/usr/bin/env node
const { join } = require('node:path');
const { createHash } = require('node:crypto');
function square(n) { return n * n; }
${extra}
module.exports.loaded = true;
process.stdout.write(JSON.stringify({
  argv: process.argv.slice(2),
  dirname: __dirname,
  filename: __filename,
  joined: join('a', 'b'),
  hash: createHash('sha256').update('x').digest('hex').slice(0, 8),
  square: square(7),
  exportsLoaded: module.exports.loaded,
}));
process.exitCode = Number(process.argv[3] ?? 0);
`,
  );
}
writeFileSync(
  entry,
  `require(${JSON.stringify(loader)}).boot(${JSON.stringify(bundle)}, process.argv.slice(2));\n`,
);

function run(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [entry, ...args], {
    encoding: 'utf8',
    env: { ...process.env, XDG_CACHE_HOME: cacheHome, ...env },
    timeout: 30_000,
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const cacheFiles = (): string[] => {
  try {
    return readdirSync(join(cacheHome, 'pvmfw-mmu')).sort();
  } catch {
    return [];
  }
};
const stamp = (f: string) => {
  const s = statSync(join(cacheHome, 'pvmfw-mmu', f));
  return `${s.ino}:${s.mtimeMs}`;
};

void describe('the CLI loader and its code cache', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  void test('runs the bundle as a module, writes the cache once per command, then uses it', () => {
    writeBundle();
    const first = run(['walk', '3']);
    assert.equal(first.status, 3, first.err);
    const seen = JSON.parse(first.out) as Record<string, unknown>;
    assert.deepEqual(seen, {
      argv: ['walk', '3'],
      dirname: dir,
      filename: bundle,
      joined: join('a', 'b'),
      hash: '2d711642',
      square: 49,
      exportsLoaded: true,
    });
    const files = cacheFiles();
    assert.equal(files.length, 1, files.join(', '));
    assert.match(files[0], /^cli-walk-[0-9a-z]+-[0-9a-z]+-[0-9a-z_]+-[0-9a-z]+\.v8cache$/);
    assert.ok(statSync(join(cacheHome, 'pvmfw-mmu', files[0])).size > 0);
    const before = stamp(files[0]);
    // Accepted: the second run gives the same output and leaves the file alone.
    const second = run(['walk', '3']);
    assert.equal(second.status, 3);
    assert.equal(second.out, first.out);
    assert.equal(stamp(files[0]), before);
    // Another command has its own file; an unknown word is 'other'.
    assert.equal(run(['guard']).status, 0);
    assert.equal(run(['--help']).status, 0);
    assert.deepEqual(
      cacheFiles().map((f) => f.split('-')[1]),
      ['guard', 'other', 'walk'],
    );
  });

  void test('a new build replaces its command file; a corrupt file is rewritten; off writes nothing', () => {
    const old = cacheFiles().find((f) => f.startsWith('cli-walk-'))!;
    writeBundle('function unused() { return 1; }');
    utimesSync(bundle, new Date(), new Date(Date.now() + 5000));
    const r = run(['walk']);
    assert.equal(r.status, 0, r.err);
    const walkFiles = cacheFiles().filter((f) => f.startsWith('cli-walk-'));
    assert.equal(walkFiles.length, 1);
    assert.notEqual(walkFiles[0], old);

    const file = join(cacheHome, 'pvmfw-mmu', walkFiles[0]);
    writeFileSync(file, Buffer.alloc(4096, 0x5a));
    const corrupt = run(['walk', '1']);
    assert.equal(corrupt.status, 1, corrupt.err);
    assert.equal((JSON.parse(corrupt.out) as { square: number }).square, 49);
    // V8 rejected it: the run wrote a real cache in its place, which the next run then uses.
    const data = readFileSync(file);
    assert.ok(!data.equals(Buffer.alloc(4096, 0x5a)), 'the corrupt file was replaced');
    const before = stamp(walkFiles[0]);
    assert.equal(run(['walk']).status, 0);
    assert.equal(stamp(walkFiles[0]), before);

    rmSync(join(cacheHome, 'pvmfw-mmu'), { recursive: true, force: true });
    const off = run(['walk'], { PVMFW_MMU_CODE_CACHE: 'off' });
    assert.equal(off.status, 0);
    assert.deepEqual(cacheFiles(), []);
    // A cache directory that cannot be written: the command runs all the same.
    writeFileSync(join(dir, 'not-a-dir'), '');
    const ro = spawnSync(process.execPath, [entry, 'walk'], {
      encoding: 'utf8',
      env: { ...process.env, XDG_CACHE_HOME: join(dir, 'not-a-dir') },
    });
    assert.equal(ro.status, 0, ro.stderr);
    assert.equal(ro.stderr, '');
  });
});
