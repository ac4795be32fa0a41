// Boots the demo firmware in every scenario under real QEMU and checks the UART transcript.
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { withQemu } from '../harness/node-test';
import { buildGuest, demoQemu, loadSymbols, sym, type Scenario, type Symbols } from './firmware-support';

const PARKED = /parked at (scenario_done|panic_park)\r?\n/;

async function transcript(
  t: Parameters<typeof withQemu>[0],
  scenario: Scenario,
  extra: Parameters<typeof demoQemu>[1] = {},
): Promise<string> {
  return withQemu(t, { ...demoQemu(scenario, { running: true, ...extra }) }, async (q) => {
    const out = await q.waitForOutput(PARKED, 15000);
    return out.replace(/\r\n/g, '\n');
  });
}

const count = (text: string, re: RegExp): number =>
  (text.match(new RegExp(re.source, `${re.flags}g`)) ?? []).length;

void describe('demo firmware UART transcript', () => {
  let symbols: Symbols;
  before(() => {
    buildGuest();
    symbols = loadSymbols();
  });

  void test('normal: four faults, one split per lazy block on the path, every guard map undone', async (t) => {
    const out = await transcript(t, 'normal');
    assert.match(out, /hvc MMIO_GUARD_INFO -> 4096/);
    assert.match(out, /console 0x9000000: level-3 entry 0x00e0000009000403/);
    assert.match(out, /scenario: normal/);
    // The console's 2 MiB block was split at boot, so the RTC faults at level 3 with no new split.
    assert.match(out, /fault #1: FAR=0x9010000 ESR=0x96000007 \(translation fault, level 3, read\)/);
    assert.match(out, /mapped page 0x9010000: level-3 entry 0x00e0000009010403/);
    assert.match(out, /fault #2: FAR=0xa000000 ESR=0x96000006 \(translation fault, level 2, read\)/);
    assert.match(out, /split level-2 lazy block 0xa000000 \(0x00e000000a000400\) into a level-3 table/);
    assert.match(out, /fault #3: FAR=0x9020000 ESR=0x96000007/);
    assert.match(out, /fault #4: FAR=0x4010000000 ESR=0x96000005 \(translation fault, level 1, read\)/);
    assert.match(out, /split level-1 lazy block 0x4000000000 \(0x00e0004000000400\) into a level-2 table/);
    assert.match(out, /split level-2 lazy block 0x4010000000 \(0x00e0004010000400\) into a level-3 table/);
    assert.match(out, /mapped page 0x4010000000: level-3 entry 0x00e0004010000403/);
    assert.equal(count(out, /^fault #/m), 4, 'virtio-mmio #1 shares #0 page: no fifth fault');
    // Device identities prove the accesses reached the devices through both stages.
    assert.equal(count(out, /read 0x74726976/), 2, 'virtio-mmio magic "virt" twice');
    assert.match(out, /read 0x554d4551/, 'fw_cfg signature "QEMU"');
    assert.match(out, /read 0x00081b36/, 'PCIe host bridge vendor 0x1b36 device 0x0008');
    const unmaps = [...out.matchAll(/hvc MMIO_GUARD_UNMAP ipa=(0x[0-9a-f]+) -> 0/g)].map((m) => m[1]);
    assert.deepEqual(unmaps, ['0x9010000', '0x9020000', '0xa000000', '0x4010000000']);
    assert.match(
      out,
      /summary: scenario=n faults=4 guard_maps=5 guard_unmaps=4 splits=5 still_guard_mapped=1/,
    );
    assert.doesNotMatch(out, /panic|LEAK|BUG/);
    assert.match(out, /parked at scenario_done\n$/);
  });

  void test('a: a valid 2 MiB block that was never split trips the seed assertion in mmio_unmap_all', async (t) => {
    const out = await transcript(t, 'a');
    assert.match(out, /BUG\(a\): level-2 lazy block made valid without splitting: 0x00e000000a000401/);
    assert.doesNotMatch(out, /split level-2 lazy block 0xa000000/);
    assert.match(out, /level-2 leaf 0x00e000000a000401 covers \[0xa000000, 0xa200000\)/);
    assert.match(out, /panic: assertion `left == right` failed: Failed to break down block mapping/);
    assert.doesNotMatch(out, /MMIO_GUARD_UNMAP ipa=0xa000000/);
    assert.match(out, /parked at panic_park\n$/);
  });

  void test('b: a device page made valid without MAP gets the injected external abort', async (t) => {
    const out = await transcript(t, 'b');
    assert.match(out, /BUG\(b\): 0x9020000 mapped valid without MMIO_GUARD_MAP/);
    assert.doesNotMatch(out, /MMIO_GUARD_MAP ipa=0x9020000/);
    assert.match(out, /\[el2\] stage-2 fault: IPA 0x9020000 is not MMIO-guard mapped/);
    assert.match(out, /fault: FAR=0x9020000 ESR=0x96000010 \(synchronous external abort\)/);
    assert.match(out, /panic: sync_exception_current: external abort\nparked at panic_park\n$/);
  });

  void test('c: the lazy flag on a normal-memory page makes MMIO_GUARD_MAP fail with -3', async (t) => {
    const out = await transcript(t, 'c');
    const page = sym(symbols, 'bug_c_page');
    const pa = page.toString(16);
    const pte = (0x00e0_0000_0000_0f06n | page).toString(16).padStart(16, '0');
    assert.match(out, new RegExp(`stage 1 0x${pa}: level-3 entry 0x${pte}`));
    assert.match(
      out,
      new RegExp(`fault #5: FAR=0x${pa} ESR=0x96000047 \\(translation fault, level 3, write\\)`),
    );
    assert.match(out, new RegExp(`hvc MMIO_GUARD_MAP ipa=0x${pa} -> -3 \\(INVALID_PARAMETER\\)`));
    assert.match(out, /failed: Hypervisor .*hypervisor error -3/);
    assert.match(out, /parked at panic_park\n$/);
  });

  void test('d: skipping mmio_unmap_all leaks the four guard mappings', async (t) => {
    const out = await transcript(t, 'd');
    assert.match(out, /BUG\(d\): mmio_unmap_all skipped/);
    assert.doesNotMatch(out, /MMIO_GUARD_UNMAP/);
    assert.match(out, /guard_maps=5 guard_unmaps=0 .*still_guard_mapped=5 \(console \+ 4 leaked\)/);
    assert.match(out, /LEAK: 4 MMIO pages are still guard-mapped in stage 2/);
    assert.match(out, /parked at scenario_done\n$/);
  });

  void test('cortex-a57 with two vCPUs: the secondary is started and parked, the scenario is the same', async (t) => {
    const out = await transcript(t, 'normal', { cpu: 'cortex-a57', smp: 2 });
    assert.match(out, /\[el2\] PSCI CPU_ON cpu1 -> 0 \(parked at secondary_park\)/);
    assert.match(out, /summary: scenario=n faults=4 guard_maps=5 guard_unmaps=4 splits=5/);
  });

  void test('an unknown scenario name falls back to normal and says so', async (t) => {
    const out = await withQemu(
      t,
      { ...demoQemu('normal', { running: true, extraArgs: ['-append', 'scenario=zz'] }) },
      (q) => q.waitForOutput(PARKED, 15000),
    );
    assert.match(out, /unknown scenario in bootargs 'scenario=zz': running normal/);
    assert.match(out, /parked at scenario_done/);
  });

  void test('without virtualization=on it explains why and parks', async (t) => {
    const out = await withQemu(t, { ...demoQemu('normal', { running: true, machine: 'virt' }) }, (q) =>
      q.waitForOutput(/parked at not_el2_park/, 15000),
    );
    assert.match(out, /not started at EL2: run with -M virt,virtualization=on/);
  });
});
