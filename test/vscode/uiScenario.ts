// The UI test, as a person would do it in the browser: open Run and Debug, start "Launch demo firmware
// in QEMU", tick "Lazy MMIO fault", continue to the first lazy fault, read the lazy entry in Page
// Tables, open MMIO Guard and read the page states, step until the page turns guard-mapped and see
// both views change. Each step is a named check; screenshots go to test-artifacts/.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { launchBrowser, paletteRow, poll, runCommand, webviewFrame } from './browser';
import { DEMO_WORKSPACE, qemusInGroup, REPO, startCodeServer } from './codeServer';
import { formatAddress } from '../../src/shared/format';
import {
  consoleCommands,
  consolePageInPanel,
  consolePageShown,
  copyDescriptor,
  countOf,
  exportAndReveal,
  restartClean,
  startAgainClean,
  stopWithoutRedLine,
  watchEntry,
  type UiContext,
} from './uiFreshChecks';
import { assemblyBreakpointSession, openSources } from './uiSourceChecks';
import { contrastInThemes } from './uiContrast';
import { gridByKeyboard, groupedDiffAndLog } from './uiGuardScale';
import { treeByKeyboard } from './uiTreeKeyboard';
import { memoryViewSession } from './uiMemoryView';
import { stepLatency } from './uiLatency';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  ms: number;
}

const ARTIFACTS = join(REPO, 'test-artifacts');

function pane(page: Page, title: string): Locator {
  return page.locator(`.pane:has(> .pane-header[aria-label^="${title}"])`);
}

async function expandPane(page: Page, title: string): Promise<Locator> {
  const header = page.locator(`.pane-header[aria-label^="${title}"]`).first();
  await header.waitFor({ timeout: 30_000 });
  if ((await header.getAttribute('aria-expanded')) === 'false') await header.click();
  return pane(page, title);
}

async function collapsePane(page: Page, title: string): Promise<void> {
  const header = page.locator(`.pane-header[aria-label^="${title}"]`).first();
  if ((await header.count()) && (await header.getAttribute('aria-expanded')) === 'true') await header.click();
}

/** Waits for the Call Stack header to say why the session paused; returns it with the top frame. */
async function pausedState(page: Page, why: RegExp, top: RegExp): Promise<string> {
  const header = page.locator('.pane-header[aria-label^="Call Stack"]', { hasText: why });
  await header.waitFor({ timeout: 60_000 });
  const row = pane(page, 'Call Stack').locator('.monaco-list-row').first();
  await pane(page, 'Call Stack')
    .locator('.monaco-list-row', { hasText: top })
    .first()
    .waitFor({ timeout: 20_000 });
  const frame = await row.innerText();
  return `${(await header.innerText()).replace(/\s+/g, ' ')} at ${frame.replace(/\s+/g, ' ')}`;
}

/** Drags the sash between the side bar and the editor, as a person makes room for long tree rows. */
async function widenSidebar(page: Page, x: number): Promise<void> {
  const sidebar = await page.locator('.part.sidebar').boundingBox();
  if (!sidebar) return;
  const edge = sidebar.x + sidebar.width;
  const y = sidebar.y + sidebar.height / 2;
  await page.mouse.move(edge, y);
  await page.mouse.down();
  await page.mouse.move(x, y, { steps: 8 });
  await page.mouse.up();
}

export async function runUiScenario(
  root: string,
  extensionsDir: string,
  log: (s: string) => void,
): Promise<Check[]> {
  const checks: Check[] = [];
  const sourcesBefore = workspaceSources();
  const server = await startCodeServer(root, extensionsDir);
  const { context, page } = await launchBrowser(root);
  let failed = false;
  const shot = async (name: string): Promise<void> => {
    await page.screenshot({ path: join(ARTIFACTS, `ui-${name}.png`) }).catch(() => undefined);
  };
  const check = async (name: string, fn: () => Promise<string>): Promise<void> => {
    const t0 = Date.now();
    if (failed) {
      checks.push({ name, ok: false, detail: 'skipped: an earlier step failed', ms: 0 });
      return;
    }
    try {
      const detail = await fn();
      checks.push({ name, ok: true, detail, ms: Date.now() - t0 });
      log(`  ok   ${name} (${Date.now() - t0} ms) ${detail}`);
    } catch (e) {
      failed = true;
      const detail = e instanceof Error ? e.message.split('\n').slice(0, 6).join('\n') : String(e);
      checks.push({ name, ok: false, detail, ms: Date.now() - t0 });
      log(`  FAIL ${name} (${Date.now() - t0} ms) ${detail}`);
      await shot(`failure-${checks.length}`);
    }
  };
  const guard = webviewFrame(page);
  const stopNumber = async (): Promise<number> =>
    Number(/stop (\d+)/.exec(await guard.locator('.meta').first().innerText())?.[1] ?? -1);
  const pageTablesRow = (text: string | RegExp): Locator =>
    pane(page, 'Page Tables').locator('.monaco-list-row', { hasText: text });
  const ui: UiContext = { page, guard, shot, pane: (title) => pane(page, title) };

  try {
    await check('the workbench opens the demo workspace with the installed extension', async () => {
      await page.goto(server.url(DEMO_WORKSPACE));
      await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
      await page
        .locator('.activitybar .action-label[aria-label^="Run and Debug"]')
        .click({ timeout: 30_000 });
      await widenSidebar(page, 760);
      const start = page.locator('.start-debug-action-item');
      await start.waitFor({ timeout: 30_000 });
      const selected = await poll(
        'the launch configuration in the Run view',
        async () => {
          // Runs in the page: the select's selected option text (typed loosely: this tsconfig has no DOM lib).
          const t = await start
            .locator('select')
            .evaluate(
              (s: { options: { text: string }[]; selectedIndex: number }) =>
                s.options[s.selectedIndex]?.text ?? '',
            );
          return t.includes('Launch demo firmware in QEMU') ? t : undefined;
        },
        30_000,
      );
      await shot('01-run-view');
      return `configuration: ${selected}`;
    });

    await check(
      'the Command Palette offers Open Snapshot… and Compare Snapshots… before any session',
      async () => {
        const found: string[] = [];
        for (const title of ['pvmfw MMU: Open Snapshot…', 'pvmfw MMU: Compare Snapshots…']) {
          const row = await paletteRow(page, title);
          // The palette lists the extension's commands once the extension host has scanned it: on a
          // loaded 2-core machine that took 10–25 s after the workbench opened.
          await row.waitFor({ timeout: 60_000 });
          found.push((await row.innerText()).replace(/\s+/g, ' '));
          await page.keyboard.press('Escape');
          await page.locator('.quick-input-widget').waitFor({ state: 'hidden' });
        }
        return found.join(' | ');
      },
    );

    await check('Quick Open finds memory.c; el1_entry.S opens as AArch64 Assembly, highlighted', () =>
      openSources(ui),
    );

    await check('Start Debugging stops on entry', async () => {
      await page.locator('.start-debug-action-item .codicon-debug-start').click();
      await page.locator('.debug-toolbar').waitFor({ timeout: 30_000 });
      const qemus = qemusInGroup(server.pgid);
      if (qemus.length !== 1) throw new Error(`expected one QEMU for the session, found ${qemus.length}`);
      return `${await pausedState(page, /Paused on entry/i, /_start/)}; QEMU: ${qemus[0].slice(0, 60)}…`;
    });

    await check(
      'tick "Lazy MMIO fault" and continue: the session stops at the first lazy fault',
      async () => {
        const bps = await expandPane(page, 'Breakpoints');
        const row = bps.locator('.monaco-list-row', { hasText: 'Lazy MMIO fault' });
        await row.waitFor({ timeout: 20_000 });
        const box = row.locator('input[type=checkbox]');
        if (!(await box.isChecked())) await box.click();
        if (!(await box.isChecked())) throw new Error('the checkbox did not tick');
        // VS Code sends setExceptionBreakpoints asynchronously and nothing on screen confirms it; a
        // person takes a moment before pressing Continue, and so do we.
        await page.waitForTimeout(1000);
        await collapsePane(page, 'Watch');
        await expandPane(page, 'Page Tables');
        await page.locator('.debug-toolbar .codicon-debug-continue').click();
        return pausedState(page, /Lazy MMIO fault at 0x/, /vector_table_el1/);
      },
    );

    let farRow = '';
    await check('Page Tables selects the lazy entry for FAR', async () => {
      const selected = pane(page, 'Page Tables').locator('.monaco-list-row.selected', {
        hasText: 'lazy MMIO',
      });
      await selected.waitFor({ timeout: 30_000 });
      farRow = (await selected.innerText()).replace(/\s+/g, ' ');
      await shot('02-lazy-fault');
      // Make room for the tree, as a person would once the registers have been read.
      await collapsePane(page, 'Variables');
      await collapsePane(page, 'Breakpoints');
      await selected.scrollIntoViewIfNeeded();
      await shot('03-lazy-fault-page-tables');
      return farRow;
    });

    await check(
      'the console page reads guard-mapped, untracked in Page Tables and counts in the status bar',
      () => consolePageShown(ui),
    );

    let before = '';
    await check('MMIO Guard shows the fault and the page states', async () => {
      // The Debug Console spans the editor area; close it so the panel gets the full height.
      await runCommand(page, 'View: Hide Panel');
      await runCommand(page, 'pvmfw MMU: Open MMIO Guard');
      const summary = guard.locator('#summary');
      await summary.waitFor({ timeout: 30_000 });
      before = await summary.innerText();
      if (!/untouched \(lazy\) \d+/.test(before)) throw new Error(`summary: ${before}`);
      const fault = await guard.locator('#fault').innerText();
      if (!/FAR 0x/.test(fault)) throw new Error(`fault section: ${fault}`);
      await shot('04-mmio-guard-at-fault');
      await guard.locator('.regions').scrollIntoViewIfNeeded();
      await shot('04b-mmio-guard-regions');
      await guard.locator('#summary').scrollIntoViewIfNeeded();
      return `${before} | ${fault.split('\n').slice(1, 3).join(' ')}`;
    });

    await check(
      'MMIO Guard at the fault: every text colour meets WCAG AA in the light, dark and high-contrast themes',
      () => contrastInThemes(ui, 'contrast-fault'),
    );

    await check('MMIO Guard lists the console page outside the tracked regions', () =>
      consolePageInPanel(ui),
    );

    let after = '';
    let pendingRow = '';
    await check('step until the page turns guard-mapped: both views change', async () => {
      const mapped = (s: string): number => Number(/guard-mapped (\d+)/.exec(s)?.[1] ?? 0);
      const start = mapped(before);
      const address = /0x[0-9a-f]{8,}/.exec(farRow)?.[0] ?? '';
      let steps = 0;
      for (; steps < 40; steps++) {
        const n = await stopNumber();
        await page.locator('.debug-toolbar .codicon-debug-step-over').click();
        await poll(
          'the next stop in MMIO Guard',
          async () => ((await stopNumber()) > n ? true : undefined),
          30_000,
          100,
        );
        after = await guard.locator('#summary').innerText();
        if (/stage 1 pending/.test(after)) {
          await shot('05-guard-map-pending');
          // The tree says it in the panel's words (not just with an icon).
          const row = pageTablesRow(address).filter({ hasText: 'mapped, stage 1 pending' }).first();
          await row.waitFor({ timeout: 10_000 });
          pendingRow = (await row.innerText()).replace(/\s+/g, ' ');
        }
        if (mapped(after) > start) break;
      }
      if (mapped(after) <= start) throw new Error(`after ${steps} steps: ${after}`);
      const diff = await guard.locator('#diff').innerText();
      if (!/→ guard-mapped/.test(diff)) throw new Error(`diff: ${diff}`);
      // The status bar item follows the same stop, counting the console page too.
      const all = mapped(after) + countOf(after, 'guard-mapped, untracked');
      const status = page.locator('.statusbar-item', { hasText: `${all} guard-mapped` });
      await status.first().waitFor({ timeout: 10_000 });
      await shot('06-mmio-guard-mapped');
      await guard.locator('#diff').scrollIntoViewIfNeeded();
      await shot('06b-mmio-guard-diff');
      return `${steps + 1} step(s): ${before} -> ${after}; diff: ${diff.split('\n')[1] ?? ''}${pendingRow ? `; pending row: ${pendingRow}` : ''}`;
    });

    await check(
      'MMIO Guard after the map (diff, fresh guard calls): every text colour meets WCAG AA in each theme',
      () => contrastInThemes(ui, 'contrast-mapped'),
    );

    await check('Page Tables shows the page valid and changed', async () => {
      const address = /0x[0-9a-f]{8,}/.exec(farRow)?.[0] ?? '';
      await poll(
        'the Page Tables row of the fault page turning valid',
        async () => {
          // Expansion state survives the refresh; the row text reflects the new descriptor.
          const rows = await pane(page, 'Page Tables').locator('.monaco-list-row').allInnerTexts();
          return rows.find(
            (r) => r.includes(address) && /page/.test(r) && /guard-mapped/.test(r) && /Δ/.test(r),
          );
        },
        30_000,
      );
      const row = pageTablesRow(address).filter({ hasText: 'guard-mapped' }).first();
      await row.scrollIntoViewIfNeeded();
      await shot('07-page-tables-guard-mapped');
      return (await row.innerText()).replace(/\s+/g, ' ');
    });

    await check('Copy Descriptor says in the status bar what it copied', () =>
      copyDescriptor(ui, /0x[0-9a-f]{8,}/.exec(farRow)?.[0] ?? '?'),
    );

    await check(
      'Page Tables by keyboard only: focus, Home, arrows, → expands, Shift+F10 → Copy Descriptor',
      () => treeByKeyboard(ui),
    );

    await check(
      'the Debug Console dumps memory (x/2gx), checks a write (translate --write) and completes',
      () => consoleCommands(ui),
    );

    await check('MMIO Guard keeps its state when hidden and shown again', async () => {
      // Hide the panel behind another editor in its group (the webview is torn down: no
      // retainContextWhenHidden), then bring it back. The diff needs the previous stop's page states,
      // which only the webview's saved state holds.
      await page.locator('.tab', { hasText: 'MMIO Guard' }).click();
      // Open the workspace README from the Explorer into the panel's group, as a person would.
      await page.locator('.activitybar .action-label[aria-label^="Explorer"]').click();
      await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'README.md' }).first().click();
      await page.locator('.tab.active', { hasText: 'README.md' }).waitFor({ timeout: 10_000 });
      await page.locator('.tab', { hasText: 'MMIO Guard' }).click();
      const diff = guard.locator('#diff');
      await diff.waitFor({ timeout: 20_000 });
      const text = await diff.innerText();
      if (!/untouched \(lazy\) → guard-mapped/.test(text)) throw new Error(`diff after restore: ${text}`);
      const summary = await guard.locator('#summary').innerText();
      if (summary !== after) throw new Error(`summary after restore: ${summary} (was ${after})`);
      // Back to Run and Debug; first move focus out of the webview so F1 reaches the workbench.
      await page.locator('.editor-group-container .monaco-editor .view-lines').first().click();
      await runCommand(page, 'View: Show Run and Debug');
      await page.locator('.pane-header[aria-label^="Page Tables"]').waitFor({ timeout: 10_000 });
      return 'diff and counters unchanged';
    });

    await check('clicking a page in the MMIO Guard grid reveals its PTE', async () => {
      // The virtio-mmio window is still one lazy 2 MiB block: its first page's PTE is that L2 entry.
      const region = guard.locator('.region', { hasText: 'virtio' }).first();
      const start = (await region.getAttribute('data-start')) ?? '';
      // Inside the grid's 4 px margin, on page 0.
      await region.locator('canvas').click({ position: { x: 7, y: 7 } });
      // The tree pads addresses to the regime's width (39-bit VAs: 10 digits), as every view does.
      const want = formatAddress(BigInt(start), 39);
      const selected = pane(page, 'Page Tables').locator('.monaco-list-row.selected', { hasText: want });
      await selected.waitFor({ timeout: 20_000 });
      await shot('08-grid-click-reveal');
      return (await selected.innerText()).replace(/\s+/g, ' ');
    });

    await check(
      'MMIO Guard at scale: a 1 GiB region as a strip; Tab, arrows, + and Enter drive a grid with a read-out cursor',
      () =>
        gridByKeyboard(ui, (t) =>
          pane(page, 'Page Tables').locator('.monaco-list-row.selected', { hasText: t }),
        ),
    );

    await check('MMIO Guard groups the diff by region and kind; the log has no empty column', () =>
      groupedDiffAndLog(ui),
    );

    await check('Export Snapshot offers Open and Reveal in Explorer, which selects the file', () =>
      exportAndReveal(ui),
    );

    await check(
      'F10 x15: both views show each new stop; key -> drawn figures and their breakdown',
      async () => (await stepLatency(ui, server.root, log, 15)).text,
    );

    await check('Restart: the Call Stack forgets the fault, MMIO Guard starts again at stop 1', () =>
      restartClean(ui),
    );

    await check(
      'Break When This Entry Is Written (tree menu) stops on the store: the Call Stack says lazy → page',
      () => watchEntry(ui),
    );

    await check('no error notification was shown', async () => {
      const errors = await page
        .locator(
          '.notifications-toasts .notification-list-item:has(.codicon-error) .notification-list-item-message',
        )
        .allInnerTexts();
      if (errors.length) throw new Error(errors.join(' | '));
      return 'none';
    });

    await check('Stop ends the session and QEMU', async () => {
      await page.locator('.debug-toolbar .codicon-debug-stop').click();
      await page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 30_000 });
      const left = await poll(
        'QEMU to exit',
        () => Promise.resolve(qemusInGroup(server.pgid).length ? undefined : true),
        10_000,
      ).catch(() => false);
      if (!left) throw new Error(`QEMU still running: ${qemusInGroup(server.pgid).join(' | ')}`);
      await shot('09-session-ended');
      return 'debug toolbar gone, no QEMU left in the code-server process group';
    });

    await check('the Stop left no red line: QEMU\'s "terminating on signal 15" is not an error', () =>
      stopWithoutRedLine(ui),
    );

    await check("Start again: the new session does not inherit the old one's changes", () =>
      startAgainClean(ui, () => qemusInGroup(server.pgid)),
    );

    await check("a click in el1_entry.S's gutter sets a breakpoint; Start and Continue stop there", () =>
      assemblyBreakpointSession(ui, () => qemusInGroup(server.pgid)),
    );

    await check(
      'Memory view: from the console, a variable and PTEs, bytes as xp, ?? with reasons, changes, keys',
      () => memoryViewSession(ui, () => qemusInGroup(server.pgid)),
    );
  } finally {
    await context.close().catch(() => undefined);
    await server.stop();
  }
  // The workspace is this repository's demo/ and guest/: a keystroke that lands in an editor instead
  // of a view must not change the firmware the other tests build (it once added a line to el1_main.c).
  const sourcesAfter = workspaceSources();
  const unchanged = sourcesAfter === sourcesBefore;
  const name = 'the scenario left the workspace sources (demo/, guest/) as they were';
  checks.push({ name, ok: unchanged, detail: unchanged ? 'git diff unchanged' : sourcesAfter, ms: 0 });
  log(`  ${unchanged ? 'ok  ' : 'FAIL'} ${name}${unchanged ? '' : `: ${sourcesAfter.slice(0, 600)}`}`);
  return checks;
}

/** `git diff` of the demo workspace's folders: what a stray edit would change. */
function workspaceSources(): string {
  const r = spawnSync('git', ['-C', REPO, 'diff', '--', 'demo', 'guest/src', 'guest/include'], {
    encoding: 'utf8',
  });
  return r.status === 0 ? r.stdout : `git diff failed: ${r.stderr}`;
}
