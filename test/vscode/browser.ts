// Headless Debian Chromium driven by playwright-core, plus the few workbench gestures the UI test
// uses the way a person would: F1 + command title + Enter, clicking tree rows, reading the webview.

import { chromium, type BrowserContext, type FrameLocator, type Locator, type Page } from 'playwright-core';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export async function launchBrowser(profileDir: string): Promise<{ context: BrowserContext; page: Page }> {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium not found at ${CHROMIUM}: run bash scripts/install-code-server.sh`);
  const context = await chromium.launchPersistentContext(join(profileDir, 'chrome-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1920, height: 1080 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  return { context, page };
}

export async function runCommand(page: Page, title: string): Promise<void> {
  const row = await paletteRow(page, title);
  await row.waitFor();
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
}

/**
 * Opens the Command Palette with `title` typed in and returns the locator of its row (not waited
 * for: a caller may give the extension host time to list its commands). The palette sometimes does
 * not take the text right after the workbench opened (the input is replaced while it is filled): the
 * keystrokes are tried again, three times at most.
 */
export async function paletteRow(page: Page, title: string): Promise<Locator> {
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 1; ; attempt++) {
    try {
      await page.keyboard.press('F1');
      await input.waitFor({ state: 'visible', timeout: 10_000 });
      await input.fill('>' + title, { timeout: 10_000 });
      return page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    } catch (e) {
      if (attempt >= 3) throw e;
      await page.keyboard.press('Escape');
    }
  }
}

/** The content frame of the active webview (VS Code nests it in two iframes). */
export function webviewFrame(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview.ready').frameLocator('#active-frame');
}

export async function poll<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  ms: number,
  every = 200,
): Promise<T> {
  const end = Date.now() + ms;
  let last: Error | undefined;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e instanceof Error ? e : new Error(String(e));
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
