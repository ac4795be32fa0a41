// The AArch64 assembly language (#14 item 8): `.S`/`.s` files get a language with a grammar and
// breakpoints, and the files it names ship in the .vsix. The rendering and the binding are checked
// inside VS Code (test/vscode: the suite stops at a breakpoint in el1_entry.S, the UI test reads the
// language mode and the gutter).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ASM_LANGUAGE } from '../../../src/ui/ids';

interface Manifest {
  contributes: {
    languages?: { id: string; aliases?: string[]; extensions?: string[]; configuration?: string }[];
    grammars?: { language: string; scopeName: string; path: string }[];
    breakpoints: { language: string }[];
    debuggers: { languages: string[] }[];
  };
}

interface Grammar {
  scopeName: string;
  patterns: { include: string }[];
  repository: Record<string, unknown>;
}

const root = join(__dirname, '..', '..', '..', '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
const c = manifest.contributes;

void describe('AArch64 assembly language', () => {
  void test('.S and .s open as the contributed language, named as the status bar shows it', () => {
    const lang = c.languages?.find((l) => l.id === ASM_LANGUAGE.id);
    assert.ok(lang, `language ${ASM_LANGUAGE.id} contributed`);
    assert.deepEqual(lang.extensions, ['.S', '.s']);
    assert.equal(lang.aliases?.[0], ASM_LANGUAGE.name);
    const conf = JSON.parse(readFileSync(join(root, lang.configuration ?? ''), 'utf8')) as {
      comments: { lineComment: string; blockComment: string[] };
    };
    // GNU as for AArch64: `//` line comments (`@` and `;` are other architectures' syntax).
    assert.equal(conf.comments.lineComment, '//');
    assert.deepEqual(conf.comments.blockComment, ['/*', '*/']);
  });

  void test('its grammar exists, has the scope package.json names and every rule it includes', () => {
    const g = c.grammars?.find((x) => x.language === ASM_LANGUAGE.id);
    assert.ok(g, 'grammar contributed');
    assert.equal(g.scopeName, ASM_LANGUAGE.scopeName);
    const grammar = JSON.parse(readFileSync(join(root, g.path), 'utf8')) as Grammar;
    assert.equal(grammar.scopeName, ASM_LANGUAGE.scopeName);
    const text = JSON.stringify(grammar);
    for (const [, name] of text.matchAll(/"include":"#([^"]+)"/g))
      assert.ok(name in grammar.repository, `#${name} is defined`);
    for (const rule of ['comments', 'preprocessor', 'label', 'directive', 'instruction', 'operands'])
      assert.ok(
        grammar.patterns.some((p) => p.include === `#${rule}`),
        rule,
      );
  });

  void test('breakpoints are allowed in it and the debugger claims it', () => {
    assert.ok(c.breakpoints.some((b) => b.language === ASM_LANGUAGE.id));
    assert.ok(c.debuggers[0].languages.includes(ASM_LANGUAGE.id));
  });

  void test('the .vsix ships the grammar and the language configuration', () => {
    const ignore = readFileSync(join(root, '.vscodeignore'), 'utf8').split('\n');
    assert.ok(ignore.includes('!syntaxes/*.json'), '.vscodeignore keeps syntaxes/*.json');
    for (const p of [c.grammars?.[0]?.path, c.languages?.[0]?.configuration])
      assert.ok(p && existsSync(join(root, p)), `${p} exists`);
  });
});
