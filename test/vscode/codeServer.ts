// Starts code-server (VS Code 1.100.3 server + web workbench) on a free 127.0.0.1 port with throwaway
// user-data, extensions and XDG dirs, and stops its whole process group (extension hosts, debug
// adapters and the QEMUs they started) at the end.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REPO = join(__dirname, '..', '..', '..');
export const CODE_SERVER =
  process.env.CODE_SERVER ?? join(REPO, '.vscode-test', 'code-server', 'node_modules', '.bin', 'code-server');

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface CodeServer {
  port: number;
  /** Process group of code-server and everything it started (extension hosts, adapters, QEMUs). */
  pgid: number;
  base: string;
  root: string;
  extensionsDir: string;
  logFile: string;
  stop(): Promise<void>;
  /**
   * URL of the workbench on `folder` (a `.code-workspace` file opens as a multi-root workspace), with an
   * optional payload (extensionDevelopmentPath, ...).
   */
  url(folder: string, payload?: [string, string][]): string;
  /** `vscode-remote://` URI of a path on this server, as payload entries need. */
  remote(path: string): string;
}

function env(root: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  // code-server writes a config (with a random password) under XDG_CONFIG_HOME: keep it throwaway.
  return {
    ...process.env,
    ...extra,
    XDG_CONFIG_HOME: join(root, 'xdg-config'),
    XDG_DATA_HOME: join(root, 'xdg-data'),
  };
}

/** Runs the code-server CLI (install an extension, list them) against a given extensions dir. */
export function codeServerCli(
  root: string,
  extensionsDir: string,
  args: string[],
): { status: number; output: string } {
  const r = spawnSync(
    CODE_SERVER,
    ['--extensions-dir', extensionsDir, '--user-data-dir', join(root, 'user-data'), ...args],
    {
      env: env(root),
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  return { status: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** The demo workspace: demo/ (its launch.json) and the firmware sources (guest/), as scripts/demo.sh opens it. */
export const DEMO_WORKSPACE = join(REPO, 'demo', 'pvmfw-demo.code-workspace');

export function newRoot(name: string): string {
  mkdirSync(join(tmpdir(), 'pvmfw-mmu-vscode'), { recursive: true });
  return mkdtempSync(join(tmpdir(), 'pvmfw-mmu-vscode', `${name}-`));
}

async function waitHealthy(url: string, child: ChildProcess, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`code-server exited with ${child.exitCode}`);
    try {
      const r = await fetch(url);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`code-server did not answer ${url} within ${ms} ms`);
}

/** `extraEnv` reaches the extension hosts (the suite reads its inputs from there). */
export async function startCodeServer(
  root: string,
  extensionsDir = join(root, 'extensions'),
  extraEnv: Record<string, string> = {},
): Promise<CodeServer> {
  if (!existsSync(CODE_SERVER)) {
    throw new Error(`code-server not found at ${CODE_SERVER}: run bash scripts/install-code-server.sh`);
  }
  const port = await freePort();
  // A first-run profile opens the welcome walkthrough over everything; a person would close it once.
  const userDir = join(root, 'user-data', 'User');
  mkdirSync(userDir, { recursive: true });
  if (!existsSync(join(userDir, 'settings.json'))) {
    writeFileSync(
      join(userDir, 'settings.json'),
      JSON.stringify(
        {
          'workbench.startupEditor': 'none',
          'workbench.colorTheme': 'Default Dark Modern',
          'workbench.tips.enabled': false,
          'extensions.autoCheckUpdates': false,
          'extensions.autoUpdate': false,
          'telemetry.telemetryLevel': 'off',
          'git.openRepositoryInParentFolders': 'never',
          // The demo workspace is this repository's demo/ and guest/ sources: a stray key in an editor
          // must never be written to them (VS Code saves dirty editors when a debug session starts).
          'debug.saveBeforeStart': 'none',
          'files.autoSave': 'off',
        },
        null,
        2,
      ),
    );
  }
  const logFile = join(root, 'code-server.log');
  const log = openSync(logFile, 'a');
  const child = spawn(
    CODE_SERVER,
    [
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      '--user-data-dir',
      join(root, 'user-data'),
      '--extensions-dir',
      extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
    ],
    // Its own process group, so stop() reaches the extension hosts, adapters and QEMUs under it.
    { env: env(root, extraEnv), detached: true, stdio: ['ignore', log, log] },
  );
  const base = `http://127.0.0.1:${port}`;
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const onExit = (): void => killGroup('SIGKILL');
  process.on('exit', onExit);
  await waitHealthy(`${base}/healthz`, child, 30_000);
  const authority = `127.0.0.1:${port}`;
  return {
    port,
    pgid: child.pid ?? 0,
    base,
    root,
    extensionsDir,
    logFile,
    remote: (p) => `vscode-remote://${authority}${p}`,
    url: (folder, payload) =>
      `${base}/?${folder.endsWith('.code-workspace') ? 'workspace' : 'folder'}=${encodeURIComponent(folder)}` +
      (payload ? `&payload=${encodeURIComponent(JSON.stringify(payload))}` : ''),
    async stop() {
      killGroup('SIGTERM');
      const end = Date.now() + 3000;
      while (Date.now() < end && groupAlive(child.pid)) await new Promise((r) => setTimeout(r, 100));
      killGroup('SIGKILL');
      process.off('exit', onExit);
    },
  };
}

function groupAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Command lines of the QEMUs running in a process group (the ones a session started). */
export function qemusInGroup(pgid: number): string[] {
  const ps = spawnSync('ps', ['-eo', 'pgid=,args='], { encoding: 'utf8' });
  return (ps.stdout ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(`${pgid} `) && /qemu-system/.test(l));
}

export function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

export function removeRoot(root: string): void {
  rmSync(root, { recursive: true, force: true });
}
