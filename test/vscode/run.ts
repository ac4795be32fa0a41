// The VS Code test layer (scripts/run-tests.mjs runs out/test/vscode/run.js): real VS Code 1.100.3
// (code-server) driven by headless Chromium.
//   1. the mocha suite in the extension host (test/vscode/suite), with a snapshot of Debian's arm64
//      kernel taken beforehand (test/vscode/kernelSnapshot.ts),
//   2. `vsce package` + `code-server --install-extension`,
//   3. the UI scenario against that installed .vsix (test/vscode/uiScenario.ts).
// Prints `vscode: N passed, N failed` and exits non-zero on any failure.
// PVMFW_VSCODE_PHASES=suite,package,ui selects phases (default all; ui needs package).

import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { CHROMIUM } from './browser';
import { CODE_SERVER, REPO, newRoot, removeRoot } from './codeServer';
import { runExtensionHostSuite } from './extensionHostSuite';
import { prepareKernelSnapshot } from './kernelSnapshot';
import { packageAndInstall } from './packaging';
import { runUiScenario } from './uiScenario';

const T0 = Date.now();
const log = (s: string): void => console.log(`[vscode ${((Date.now() - T0) / 1000).toFixed(1)}s] ${s}`);

async function main(): Promise<number> {
  const phases = new Set((process.env.PVMFW_VSCODE_PHASES ?? 'suite,package,ui').split(','));
  let passed = 0;
  let failed = 0;
  const keep: string[] = [];

  for (const f of [
    'dist/extension.js',
    'dist/webview.js',
    'out/test/vscode/suite/index.js',
    'guest/build/demo.elf',
  ]) {
    if (!existsSync(join(REPO, f))) {
      log(`missing ${f}: run npm run build && npm run build:guest first`);
      console.log('vscode: 0 passed, 1 failed');
      return 1;
    }
  }
  mkdirSync(join(REPO, 'test-artifacts'), { recursive: true });
  if (!existsSync(CODE_SERVER) || !existsSync(CHROMIUM)) {
    // scripts/setup.sh installs both; a checkout that skipped it gets them here (about a minute).
    log('code-server or Chromium missing: running scripts/install-code-server.sh');
    const r = spawnSync('bash', [join(REPO, 'scripts', 'install-code-server.sh')], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (r.status !== 0) {
      console.log('vscode: 0 passed, 1 failed');
      return 1;
    }
  }

  if (phases.has('suite')) {
    const root = newRoot('suite');
    log(`extension-host suite (code-server + mocha), work dir ${root}`);
    const t = Date.now();
    try {
      // Before code-server starts: the kernel boots under QEMU (TCG), which wants the cores to itself.
      const env = await prepareKernelSnapshot(root, (s) => log(`  ${s}`));
      const r = await runExtensionHostSuite(root, 240_000, env);
      // The workbench's own chatter (failed gallery look-ups and so on) only matters when something failed.
      const shown = r.failed
        ? r.output
        : r.output.filter((l) => /✔|✗|^\s+\d+\) |passing|failing|pending/.test(l));
      for (const line of shown) console.log(`  | ${line}`);
      passed += r.passed;
      failed += r.failed;
      log(`suite: ${r.passed} passed, ${r.failed} failed, exit ${r.exitCode}, ${Date.now() - t} ms`);
      if (r.failed) keep.push(root);
      else removeRoot(root);
    } catch (e) {
      failed++;
      keep.push(root);
      log(`suite: could not run: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  if (phases.has('package') || phases.has('ui')) {
    const root = newRoot('ui');
    const extensionsDir = join(root, 'extensions');
    let installed = false;
    const t = Date.now();
    try {
      const p = packageAndInstall(root, extensionsDir);
      passed++;
      installed = true;
      log(
        `  ok   vsce package (${(p.bytes / 1024).toFixed(0)} KiB) installs into code-server (${Date.now() - t} ms)`,
      );
    } catch (e) {
      failed++;
      keep.push(root);
      log(`  FAIL packaging: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (phases.has('ui') && installed) {
      log('UI scenario in Chromium against the installed .vsix');
      try {
        const checks = await runUiScenario(root, extensionsDir, log);
        passed += checks.filter((c) => c.ok).length;
        failed += checks.filter((c) => !c.ok).length;
        if (checks.some((c) => !c.ok)) keep.push(root);
      } catch (e) {
        failed++;
        keep.push(root);
        log(`UI scenario could not run: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    if (!keep.includes(root)) removeRoot(root);
  }

  for (const k of keep) log(`kept for inspection: ${k} (code-server.log inside)`);
  log(`screenshots in ${join(REPO, 'test-artifacts')}`);
  console.log(`vscode: ${passed} passed, ${failed} failed`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    console.log('vscode: 0 passed, 1 failed');
    process.exit(1);
  },
);
