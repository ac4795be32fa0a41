// The demo firmware's QEMU command line as the DAP and VS Code tests launch it. Kept apart from
// node:test so scripts/selfcheck.mjs boots the exact same command line after setup.
import { resolve } from 'node:path';
import { demoQemuArgs as extensionDemoArgs } from '../../src/shared/demoLaunch';

export const repoRoot = resolve(__dirname, '../../..');
export const demoElf = resolve(repoRoot, 'guest/build/demo.elf');

/** The extension's command line (src/shared/demoLaunch.ts) with `-cpu max`, 512 MiB and a scenario. */
export function demoQemuArgs(scenario?: string): string[] {
  return [
    ...extensionDemoArgs(demoElf, { cpu: 'max', memory: '512M' }),
    ...(scenario ? ['-append', `scenario=${scenario}`] : []),
  ];
}
