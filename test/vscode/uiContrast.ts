// #14 item 13 in the browser: every text colour MMIO Guard draws meets WCAG AA (4.5:1) against what
// is beneath it, in the default dark, light and high-contrast themes. The colours come from the
// rendered page (computed styles inside the webview), so a new class or a theme change is covered
// without a list of colours here.

import type { FrameLocator } from 'playwright-core';
import { poll } from './browser';
import { AA_NORMAL_TEXT, contrastOf, type ContrastResult, type TextSample } from './contrast';
import type { UiContext } from './uiFreshChecks';

/** The themes a user of VS Code 1.100 picks from (labels as the Color Theme picker shows them). */
export const THEMES = [
  { label: 'Light Modern', bodyClass: 'vscode-light' },
  { label: 'Dark High Contrast', bodyClass: 'vscode-high-contrast' },
  { label: 'Light High Contrast', bodyClass: 'vscode-high-contrast-light' },
  { label: 'Dark Modern', bodyClass: 'vscode-dark' },
] as const;

/** Every visible element with text of its own, its computed colour and the backgrounds beneath it. */
export async function textSamples(guard: WebviewContent): Promise<TextSample[]> {
  // Runs in the webview (no DOM lib in this tsconfig: typed loosely).
  return guard.locator('body').evaluate((body: unknown) => {
    interface El {
      childNodes: ArrayLike<{ nodeType: number; textContent: string | null }>;
      tagName: string;
      className: unknown;
      parentElement: El | null;
      getClientRects(): ArrayLike<unknown>;
      querySelectorAll(s: string): ArrayLike<El>;
    }
    const win = globalThis as unknown as {
      getComputedStyle(e: El): { color: string; backgroundColor: string; visibility: string };
    };
    const out: { what: string; color: string; backgrounds: string[] }[] = [];
    const all = Array.from((body as El).querySelectorAll('*'));
    for (const e of all) {
      const own = Array.from(e.childNodes)
        .filter((n) => n.nodeType === 3)
        .map((n) => n.textContent ?? '')
        .join('')
        .trim();
      if (!own || !e.getClientRects().length) continue;
      const style = win.getComputedStyle(e);
      if (style.visibility === 'hidden') continue;
      const backgrounds: string[] = [];
      for (let p: El | null = e; p; p = p.parentElement)
        backgrounds.push(win.getComputedStyle(p).backgroundColor);
      const cls =
        typeof e.className === 'string' && e.className ? `.${e.className.split(' ').join('.')}` : '';
      out.push({
        what: `${e.tagName.toLowerCase()}${cls} "${own.slice(0, 40)}"`,
        color: style.color,
        backgrounds,
      });
    }
    return out;
  });
}

async function pickTheme(
  c: UiContext,
  view: WebviewContent,
  label: string,
  bodyClass: string,
): Promise<void> {
  // F1 → Preferences: Color Theme opens the theme picker in the same quick input.
  await c.page.keyboard.press('F1');
  const input = c.page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill('>Preferences: Color Theme');
  // Click the command itself: Enter takes the highlighted row, which may be "Preferences: Browse
  // Color Themes in Marketplace" (offline here).
  await c.page
    .locator('.quick-input-list .monaco-list-row', { hasText: /Preferences: Color Theme(?!s)/ })
    .first()
    .click();
  await poll(
    'the theme picker',
    async () => ((await input.inputValue()).startsWith('>') ? undefined : true),
    10_000,
    100,
  );
  await input.fill(label);
  const row = c.page
    .locator('.quick-input-list .monaco-list-row', { hasText: label })
    .filter({ hasNotText: 'Browse Additional' });
  await row.first().waitFor({ timeout: 10_000 });
  await row.first().click();
  await c.page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
  await poll(
    `the webview in ${label}`,
    async () => {
      const cls = (await view.locator('body').getAttribute('class')) ?? '';
      return cls.split(/\s+/).includes(bodyClass) ? true : undefined;
    },
    15_000,
    100,
  );
}

/** A webview's content: MMIO Guard's frame (the default), or the Memory view's. */
type WebviewContent = Pick<FrameLocator, 'locator'>;

/**
 * In each theme: every text sample of the webview (MMIO Guard unless `view` is another) at ≥ 4.5:1;
 * screenshots `ui-<name>-<theme>.png`. Ends in Dark Modern (the tests' theme). Returns the lowest
 * ratio per theme.
 */
export async function contrastInThemes(
  c: UiContext,
  name: string,
  view: WebviewContent = c.guard,
  title = 'MMIO Guard',
): Promise<string> {
  const said: string[] = [];
  const failures: string[] = [];
  for (const theme of THEMES) {
    await pickTheme(c, view, theme.label, theme.bodyClass);
    // The grid redraws on the class change; wait for a settled frame before reading colours.
    await c.page.waitForTimeout(300);
    const results: ContrastResult[] = (await textSamples(view)).map((s) => contrastOf(s));
    if (!results.length) throw new Error(`no text in ${title} under ${theme.label}`);
    await c.shot(`${name}-${theme.label.toLowerCase().replace(/\s+/g, '-')}`);
    const low = results.filter((r) => r.ratio < AA_NORMAL_TEXT);
    for (const r of low) failures.push(`${theme.label}: ${r.what} ${r.color} ${r.ratio.toFixed(2)}:1`);
    const min = results.reduce((a, b) => (b.ratio < a.ratio ? b : a));
    said.push(`${theme.label} ${results.length} texts, min ${min.ratio.toFixed(1)}:1`);
  }
  if (failures.length) throw new Error(`below 4.5:1:\n${[...new Set(failures)].slice(0, 12).join('\n')}`);
  return said.join('; ');
}
