// The webviews' one page (src/ui/webviewHtml.ts): a strict Content-Security-Policy with this load's
// nonce on the only script, and nothing else allowed to load.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { newNonce, webviewHtml } from '../../../src/ui/webviewHtml';

const page = {
  cspSource: 'https://file+.vscode-resource.vscode-cdn.net',
  script: 'https://file+.vscode-resource.vscode-cdn.net/ext/dist/memoryView.js',
  style: 'https://file+.vscode-resource.vscode-cdn.net/ext/media/memory.css',
  title: 'Memory',
  appId: 'memory-app',
};

const policyOf = (html: string): string[] =>
  (/http-equiv="Content-Security-Policy" content="([^"]*)"/.exec(html)?.[1] ?? '').split('; ');

void describe('webview page', () => {
  void test('default-src none, styles from the extension, scripts only with this nonce', () => {
    const html = webviewHtml(page, 'abc123==');
    assert.deepEqual(policyOf(html), [
      "default-src 'none'",
      `style-src ${page.cspSource}`,
      "script-src 'nonce-abc123=='",
    ]);
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    assert.deepEqual(scripts, [`<script nonce="abc123==" src="${page.script}">`]);
    assert.match(html, /<main id="memory-app">/);
    assert.match(html, /<title>Memory<\/title>/);
  });

  void test('images only where asked; a fresh nonce per load', () => {
    assert.equal(
      policyOf(webviewHtml({ ...page, images: true }, 'n')).at(-1),
      `img-src ${page.cspSource} data:`,
    );
    assert.ok(!webviewHtml(page, 'n').includes('img-src'));
    const a = newNonce();
    assert.notEqual(a, newNonce());
    assert.equal(Buffer.from(a, 'base64').length, 16);
  });
});
