// The demo firmware's QEMU command line as the DAP and VS Code tests launch it. Kept apart from
// node:test so scripts/selfcheck.mjs boots the exact same command line after setup.
import { resolve } from 'node:path';

export const repoRoot = resolve(__dirname, '../../..');
export const demoElf = resolve(repoRoot, 'guest/build/demo.elf');

/** `-nic none`: -M virt's default NIC needs efi-virtio.rom, which a minimal QEMU install lacks. */
export function demoQemuArgs(scenario?: string): string[] {
  return [
    '-M',
    'virt,virtualization=on',
    '-cpu',
    'max',
    '-m',
    '512M',
    '-nic',
    'none',
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-kernel',
    demoElf,
    ...(scenario ? ['-append', `scenario=${scenario}`] : []),
  ];
}
