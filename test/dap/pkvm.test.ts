// The adapter attached to Debian's kernel under pKVM (no program ELF): the regimes it lists with their
// profiles (the hypervisor's EL2 regime beside EL1 and the host's stage 2), pKVM's meanings in the
// Page Tables requests, the ownership request and the Debug Console's `ownership`, against the CLI on
// the same stop (one answer) and pKVM's own invariant that the host's shared-borrowed pages are the
// hypervisor's shared-owned ones.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type {
  OwnershipResponseBody,
  PageTableResponseBody,
  RegimesResponseBody,
} from '../../src/shared/protocol';
import type { QemuInstance } from '../harness/qemu';
import { bootKernelToPanic, PKVM_BOOT } from '../qemu/kernel-boot';
import { attachTo, Dap } from './support';

void describe('adapter on pKVM', { timeout: 240_000 }, () => {
  let qemu: QemuInstance | undefined;
  const dap = new Dap();

  before(async () => {
    const k = await bootKernelToPanic(PKVM_BOOT);
    qemu = k.qemu;
    await k.gdb.close({ detach: true }).catch(() => undefined);
    await dap.start();
    await attachTo(dap, qemu.port, { program: undefined, onDisconnect: 'pause', stopOnEntry: true });
  });
  after(async () => {
    await dap.dc.disconnectRequest({ terminateDebuggee: false }).catch(() => undefined);
    await dap.stop();
    await qemu?.kill();
  });

  void test('the regimes with their profiles: EL1 linux, the hypervisor’s EL2, the host stage 2', async () => {
    const { regimes } = await dap.custom<RegimesResponseBody>('regimes', {});
    const by = new Map(regimes.map((r) => [r.regime, r]));
    assert.equal(by.get('TTBR1_EL1')?.profile, 'linux');
    assert.equal(by.get('TTBR0_EL2')?.profile, 'pkvm-hyp');
    assert.equal(by.get('VTTBR_EL2')?.profile, 'pkvm-host-s2');
    assert.match(by.get('VTTBR_EL2')?.profileEvidence ?? '', /HCR_EL2\.VM = 1/);
    const el2 = await dap.custom<PageTableResponseBody>('pageTable', { regime: 'TTBR0_EL2' });
    assert.ok(el2.entries.length > 0, 'the hypervisor’s root table lists entries');
  });

  void test('ownership: the request and the console say it; shared pages agree between the two tables', async () => {
    const o = await dap.custom<OwnershipResponseBody>('ownership', {});
    const pages = (cs: OwnershipResponseBody['hyp'], name: string) =>
      cs?.find((c) => c.name === name)?.pages ?? 0;
    assert.ok(pages(o.hostStage2, "hyp (invalid in the host's stage 2)") > 100);
    assert.equal(pages(o.hostStage2, 'host: shared-borrowed'), pages(o.hyp, 'hyp: shared-owned'));
    const text = await dap.evaluate('ownership');
    assert.match(text, /pKVM ownership, host stage 2/);
    assert.match(text, /hyp \(invalid in the host's stage 2\): \d+ pages/);
  });

  void test('no pvmfw verdict and no anomaly on pKVM’s tables', async () => {
    const guard = await dap.evaluate('guard');
    assert.match(guard, /pvmfw's MMIO guard does not apply: the EL1 regime has the linux profile/);
    assert.doesNotMatch(guard, /anomaly/);
  });
});
