// The same mocha suite in desktop VS Code, for machines that can download it (@vscode/test-electron
// fetches VS Code from Microsoft's update server; this machine and CI cannot, so run.ts uses
// code-server). Usage: node out/test/vscode/runDesktop.js
import { join } from 'node:path';
import { runTests } from '@vscode/test-electron';

const repo = join(__dirname, '..', '..', '..');

runTests({
  version: '1.100.3',
  extensionDevelopmentPath: repo,
  extensionTestsPath: join(repo, 'out', 'test', 'vscode', 'suite', 'index.js'),
  launchArgs: [join(repo, 'demo'), '--disable-extensions', '--disable-workspace-trust'],
}).then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
