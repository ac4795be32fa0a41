// The same mocha suite in desktop VS Code, for machines that can download it (@vscode/test-electron
// fetches VS Code from Microsoft's update server; this machine and CI cannot, so run.ts uses
// code-server). Usage: node out/test/vscode/runDesktop.js
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';
import { prepareKernelSnapshot } from './kernelSnapshot';

const repo = join(__dirname, '..', '..', '..');

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-desktop-'));
  try {
    const env = await prepareKernelSnapshot(scratch, (s) => console.log(s));
    await runTests({
      version: '1.100.3',
      extensionDevelopmentPath: repo,
      extensionTestsPath: join(repo, 'out', 'test', 'vscode', 'suite', 'index.js'),
      extensionTestsEnv: env,
      launchArgs: [
        join(repo, 'demo', 'pvmfw-demo.code-workspace'),
        '--disable-extensions',
        '--disable-workspace-trust',
      ],
    });
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
