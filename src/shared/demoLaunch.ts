// The QEMU command line that boots the demo firmware, shared by the extension's generated launch
// configuration (src/ui) and the tests that check it. Pure: no `vscode`.

/**
 * QEMU arguments that boot the demo firmware: EL2 on, so its MMIO-guard stub runs; `-nic none`
 * because `-M virt` otherwise creates a virtio NIC whose option ROM (efi-virtio.rom) may not be
 * installed, and QEMU then exits before its gdbstub listens.
 */
export function demoQemuArgs(elf: string, machine = { cpu: 'cortex-a57', memory: '256M' }): string[] {
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
  ];
}
