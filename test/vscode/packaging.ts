// Packages the extension as a user gets it (`vsce package`) and installs the .vsix into code-server's
// extensions dir with code-server's own CLI, then checks what landed on disk.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { codeServerCli, REPO } from './codeServer';

export interface PackageResult {
  vsix: string;
  bytes: number;
  installedDir: string;
}

export function packageAndInstall(root: string, extensionsDir: string): PackageResult {
  const vsix = join(root, 'pvmfw-mmu.vsix');
  const vsce = join(REPO, 'node_modules', '.bin', 'vsce');
  const p = spawnSync(vsce, ['package', '--no-dependencies', '-o', vsix], {
    cwd: REPO,
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (p.status !== 0) throw new Error(`vsce package failed:\n${p.stdout}${p.stderr}`);
  const bytes = statSync(vsix).size;

  const install = codeServerCli(root, extensionsDir, ['--install-extension', vsix, '--force']);
  if (install.status !== 0) throw new Error(`code-server --install-extension failed:\n${install.output}`);
  const list = codeServerCli(root, extensionsDir, ['--list-extensions', '--show-versions']);
  const manifest = JSON.parse(
    spawnSync(process.execPath, ['-p', 'JSON.stringify(require("./package.json"))'], {
      cwd: REPO,
      encoding: 'utf8',
    }).stdout,
  ) as { publisher: string; name: string; version: string };
  const id = `${manifest.publisher}.${manifest.name}`;
  if (!list.output.includes(`${id}@${manifest.version}`)) {
    throw new Error(`${id}@${manifest.version} not listed after install:\n${list.output}`);
  }
  const installedDir = readdirSync(extensionsDir)
    .map((d) => join(extensionsDir, d))
    .find((d) => d.includes(`${id}-${manifest.version}`));
  if (!installedDir) throw new Error(`no ${id}-${manifest.version} folder in ${extensionsDir}`);
  for (const f of ['package.json', 'dist/extension.js', 'dist/webview.js', 'media/guard.css']) {
    if (!existsSync(join(installedDir, f))) throw new Error(`the installed extension lacks ${f}`);
  }
  // .vscodeignore keeps sources and tests out.
  for (const f of ['src', 'test', 'node_modules', 'out']) {
    if (existsSync(join(installedDir, f))) throw new Error(`the .vsix ships ${f}/`);
  }
  return { vsix, bytes, installedDir };
}
