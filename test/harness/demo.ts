// The demo firmware's QEMU command line as the DAP and VS Code tests launch it. Kept apart from
// node:test so scripts/selfcheck.mjs boots the exact same command line after setup.
import { resolve } from 'node:path';
import {
  demoAppend,
  demoElfName,
  demoQemuArgs as extensionDemoArgs,
  type DemoStage2,
  type DemoVariant,
} from '../../src/shared/demoLaunch';

export const repoRoot = resolve(__dirname, '../../..');
export const demoElf = resolve(repoRoot, 'guest/build/demo.elf');

/** guest/build/<variant's ELF>. */
export function demoElfFor(variant: DemoVariant = 'seed'): string {
  return resolve(repoRoot, 'guest/build', demoElfName(variant));
}

/**
 * The extension's command line (src/shared/demoLaunch.ts) with `-cpu max`, 512 MiB and a scenario;
 * `opts` picks another firmware variant or pKVM's stage-2 representation.
 */
export function demoQemuArgs(
  scenario?: string,
  opts: { variant?: DemoVariant; s2?: DemoStage2 } = {},
): string[] {
  return extensionDemoArgs(
    demoElfFor(opts.variant),
    { cpu: 'max', memory: '512M' },
    demoAppend(scenario, opts.s2),
  );
}
