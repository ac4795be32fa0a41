// Runs the mocha suite (test/vscode/suite) inside code-server's real extension host: the workbench URL
// carries extensionDevelopmentPath + extensionTestsPath, and the page exposes codeAutomationLog /
// codeAutomationExit (the hooks the workbench calls in test mode) to get the output and exit code.

import { format } from 'node:util';
import { join } from 'node:path';
import { launchBrowser } from './browser';
import { DEMO_WORKSPACE, REPO, startCodeServer, tail } from './codeServer';

export interface SuiteResult {
  passed: number;
  failed: number;
  exitCode: number | 'timeout';
  output: string[];
}

export async function runExtensionHostSuite(
  root: string,
  timeoutMs: number,
  env: Record<string, string> = {},
): Promise<SuiteResult> {
  const server = await startCodeServer(root, undefined, env);
  const { context, page } = await launchBrowser(root);
  const output: string[] = [];
  try {
    let done: (code: number | 'timeout') => void = () => undefined;
    const exited = new Promise<number | 'timeout'>((r) => (done = r));
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown) => {
      const line = format(...((Array.isArray(args) ? args : [args]) as unknown[]));
      output.push(type === 'error' ? `[error] ${line}` : line);
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => done(code));
    const url = server.url(DEMO_WORKSPACE, [
      ['extensionDevelopmentPath', server.remote(REPO)],
      ['extensionTestsPath', server.remote(join(REPO, 'out', 'test', 'vscode', 'suite', 'index.js'))],
    ]);
    await page.goto(url);
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    const exitCode = await exited;
    clearTimeout(timer);
    await page.screenshot({ path: join(REPO, 'test-artifacts', 'suite-end.png') }).catch(() => undefined);
    const m = output.map((l) => /SUITE_RESULT (\{.*\})/.exec(l)).find(Boolean);
    const counts = m ? (JSON.parse(m[1]) as { passed: number; failed: number }) : { passed: 0, failed: 1 };
    if (exitCode !== 0 && counts.failed === 0) counts.failed = 1;
    if (exitCode !== 0) output.push('--- code-server log ---', tail(server.logFile));
    return { ...counts, exitCode, output };
  } finally {
    await context.close().catch(() => undefined);
    await server.stop();
  }
}
