// The QEMU command line that boots the demo firmware, shared by the extension's generated launch
// configuration (src/ui) and the tests that check it. Pure: no `vscode`.

/**
 * The demo firmware builds (guest/README.md), one per pvmfw generation:
 * - `seed`: guest/build/demo.elf, pvmfw at the seed change (2023, 4 KiB guard granule);
 * - `2024`: guest/build/demo-2024.elf, late-2023 encodings (DEVICE_LAZY, VALID set in place);
 * - `16k`: guest/build/demo-16k.elf, the same under a 16 KiB stage 2 and MMIO-guard granule.
 */
export type DemoVariant = 'seed' | '2024' | '16k';

export const DEMO_VARIANTS: readonly DemoVariant[] = ['seed', '2024', '16k'];

/** File name of a variant's ELF in guest/build. */
export function demoElfName(variant: DemoVariant = 'seed'): string {
  return variant === 'seed' ? 'demo.elf' : `demo-${variant}.elf`;
}

/**
 * How the EL2 stub records a guard map at stage 2: a valid device page (default), or pKVM's invalid
 * annotated entry (`pkvm`: KVM_INVALID_PTE_MMIO_NOTE bit 11; `pkvm-legacy`: the entry 0x9a9a929e).
 */
export type DemoStage2 = 'valid' | 'pkvm' | 'pkvm-legacy';

/** The kernel command line (QEMU `-append`) of a scenario and stage-2 representation, or undefined. */
export function demoAppend(scenario?: string, s2: DemoStage2 = 'valid'): string | undefined {
  const words = [
    ...(scenario && scenario !== 'normal' ? [`scenario=${scenario}`] : []),
    ...(s2 !== 'valid' ? [`s2=${s2}`] : []),
  ];
  return words.length ? words.join(' ') : undefined;
}

/**
 * QEMU arguments that boot the demo firmware: EL2 on, so its MMIO-guard stub runs; `-nic none`
 * because `-M virt` otherwise creates a virtio NIC whose option ROM (efi-virtio.rom) may not be
 * installed, and QEMU then exits before its gdbstub listens. `append` becomes /chosen/bootargs.
 */
export function demoQemuArgs(
  elf: string,
  machine = { cpu: 'cortex-a57', memory: '256M' },
  append?: string,
): string[] {
  return [
    '-M',
    'virt,virtualization=on',
    '-cpu',
    machine.cpu,
    '-m',
    machine.memory,
    '-nic',
    'none',
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-kernel',
    elf,
    ...(append ? ['-append', append] : []),
  ];
}
