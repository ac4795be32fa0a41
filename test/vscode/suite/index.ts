// Entry point of the mocha suite inside VS Code's extension host: the `extensionTestsPath` of
// @vscode/test-electron on desktop, or of code-server's workbench here (test/vscode/run.ts).
// Ends with one `SUITE_RESULT {...}` line the launcher parses.

import Mocha from 'mocha';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

export function run(): Promise<void> {
  // PVMFW_VSCODE_GREP (passed through code-server's environment) runs only the matching tests.
  const grep = process.env.PVMFW_VSCODE_GREP;
  const mocha = new Mocha({
    ui: 'tdd',
    color: false,
    timeout: 90_000,
    reporter: 'spec',
    ...(grep ? { grep } : {}),
  });
  for (const f of readdirSync(__dirname).sort())
    if (f.endsWith('.test.js')) mocha.addFile(join(__dirname, f));
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const passed = runner.stats?.passes ?? 0;
      console.log(`SUITE_RESULT ${JSON.stringify({ passed, failed: failures })}`);
      if (failures) reject(new Error(`${failures} test(s) failed`));
      else resolve();
    });
  });
}
