// Debian's arm64 kernel under pKVM (kvm-arm.mode=protected), the hypervisor pvmfw runs under: the
// profiles chosen automatically, pKVM's annotations decoded, and checked against what is outside our
// code: pKVM's own invariants between two tables it writes separately (a page the hypervisor owns is
// annotated "owner: hyp" in the host's stage 2; a page it shares from the host is shared-owned in one
// and shared-borrowed in the other: __pkvm_host_share_hyp(), fix_host_ownership() in
// arch/arm64/kvm/hyp/nvhe/), and QEMU's own MMU (gva2gpa) for translations through both stages.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { hex, S_VALID } from '../../src/aarch64';
import {
  leafCovering,
  ownershipSummary,
  pageTable,
  translateQuery,
  type StopPicture,
} from '../../src/analysis';
import type { GdbClient } from '../../src/gdb';
import { pkvmOwnerId, pkvmPageState } from '../../src/profiles';
import type { QemuInstance } from '../harness/qemu';
import { livePicture } from '../harness/livePicture';
import { bootKernelToPanic, PKVM_BOOT } from './kernel-boot';

const repoRoot = resolve(__dirname, '../../..');
const cli = resolve(repoRoot, 'out/src/cli/main.js');

void describe('pKVM: Debian 6.1 with kvm-arm.mode=protected', { timeout: 240_000 }, () => {
  let qemu: QemuInstance | undefined;
  let gdb: GdbClient;
  let picture: StopPicture;

  before(async () => {
    const k = await bootKernelToPanic(PKVM_BOOT);
    qemu = k.qemu;
    gdb = k.gdb;
    picture = await livePicture(gdb);
  });
  after(async () => {
    await gdb?.close().catch(() => undefined);
    await qemu?.kill();
  });

  void test('profiles chosen automatically with their evidence; none of pvmfw’s rules fire', () => {
    const p = picture.profiles;
    assert.deepEqual([p.el1.profile, p.stage2.profile, p.el2.profile], ['linux', 'pkvm-host-s2', 'pkvm-hyp']);
    assert.match(p.el1.evidence, /TTBR1_EL1/);
    assert.match(p.stage2.evidence, /HCR_EL2\.VM = 1/);
    assert.ok(picture.el2, 'the EL2 regime (TTBR0_EL2) is walked');
    assert.ok(picture.stage2, 'the host stage 2 is walked');
    assert.equal(picture.guard.available, false);
    assert.deepEqual(picture.guard.anomalies, []);
  });

  void test('pKVM’s ownership invariants hold between the hypervisor’s tables and the host’s stage 2', () => {
    const hyp = picture.el2!.result.store;
    const host = picture.stage2!.result.store;
    // finalize_host_mappings() (nvhe/setup.c) fixes the host's stage 2 from the hypervisor's linear
    // map only (hyp_phys_to_virt of each memblock): the invariants hold there. Pages mapped only at
    // private VAs (the per-CPU stacks of pkvm_alloc_private_va_range) are left host-owned in 6.1.
    const offsets = new Map<number, number>();
    for (let i = 0; i < hyp.length; i++) {
      const d = hyp.vaOf(i) - hyp.leaf(i).paNum;
      offsets.set(d, (offsets.get(d) ?? 0) + 1);
    }
    const linear = [...offsets.entries()].sort((a, b) => b[1] - a[1])[0][0];
    const seen = { owned: 0, shared: 0 };
    const broken: string[] = [];
    for (let i = 0; i < hyp.length; i++) {
      const l = hyp.leaf(i);
      if (l.state !== S_VALID || l.memType.kind !== 'normal' || l.vaNum - l.paNum !== linear) continue;
      const state = pkvmPageState(l);
      for (let off = 0; off < l.size; off += 4096) {
        const pa = l.paNum + off;
        const h = leafCovering(host, pa);
        if (state === 'owned') {
          // The hypervisor's own memory: the host's entry is invalid and names the owner, hyp (1).
          seen.owned++;
          if (!h || h.valid || pkvmOwnerId(h) !== 1)
            broken.push(`${hex(pa)} owned by hyp, host s2 ${h ? hex(h.desc) : 'none'}`);
        } else if (state === 'shared-owned') {
          seen.shared++;
          if (!h || !h.valid || pkvmPageState(h) !== 'shared-borrowed')
            broken.push(`${hex(pa)} shared-owned by hyp, host s2 ${h ? hex(h.desc) : 'none'}`);
        }
      }
    }
    assert.ok(seen.owned > 100 && seen.shared > 100, `pages checked: ${JSON.stringify(seen)}`);
    assert.deepEqual(broken.slice(0, 5), [], `${broken.length} pages break pKVM's invariants`);
  });

  void test('the ownership summary: what pKVM took from the host, what it shares, in both tables', () => {
    const o = ownershipSummary(picture);
    const pages = (cs: typeof o.hyp, name: string) => cs?.find((c) => c.name === name)?.pages ?? 0;
    assert.ok(pages(o.hostStage2, "hyp (invalid in the host's stage 2)") > 100);
    assert.ok(pages(o.hostStage2, 'host: owned') > 1000);
    // Every page the hypervisor shares from the host is borrowed in the host's view, and only those.
    assert.equal(pages(o.hostStage2, 'host: shared-borrowed'), pages(o.hyp, 'hyp: shared-owned'));
    assert.ok(pages(o.hyp, 'hyp: shared-owned') > 100);
  });

  void test('the host stage 2’s entries carry their meaning: owner ids, page states, the lazy identity map', async () => {
    const root = await pageTable(picture, { regime: 'VTTBR_EL2' });
    assert.ok(root.entries.length > 0);
    // Follow table entries down to level 3 and collect meanings.
    const meanings = new Set<string>();
    const queue = root.entries.filter((e) => e.child).slice(0, 4);
    for (let n = 0; queue.length && n < 64; n++) {
      const e = queue.shift()!;
      const t = await pageTable(picture, { regime: 'VTTBR_EL2', table: e.child!, includeZero: true });
      for (const c of t.entries) {
        if (c.meaning) meanings.add(c.meaning);
        if (c.child) queue.push(c);
      }
    }
    assert.ok(
      [...meanings].some((m) => m.startsWith('owner: hyp')),
      [...meanings].join(' | '),
    );
    assert.ok(meanings.has('shared-borrowed'), [...meanings].join(' | '));
    assert.ok([...meanings].some((m) => /identity-maps it on the host’s next access/.test(m)));
  });

  void test('translations agree with QEMU’s MMU through both stages, stage-2 faults included', async () => {
    const store = picture.el1.result.store;
    const samples: bigint[] = [0xffff_0000_0000_1000n];
    for (let i = 0; i < store.length && samples.length < 12; i += Math.max(1, Math.floor(store.length / 11)))
      if (store.leaf(i).valid) samples.push(store.leaf(i).va + 0x10n);
    let faults = 0;
    for (const va of samples) {
      const answer = (await gdb.monitor(`gva2gpa ${hex(va)}`)).trim();
      const body = await translateQuery(picture, { address: hex(va) });
      if (answer === 'Unmapped') {
        assert.equal(body.ok, false, `${hex(va)}: QEMU says Unmapped, we say ${body.outputAddress}`);
        await assert.rejects(gdb.readMemory(va, 16), /E14|E0/, `${hex(va)}: a virtual read must fault too`);
        if (body.faultStage === 2) {
          faults++;
          assert.ok(body.stage2?.meaning, `${hex(va)}: a stage-2 fault under pKVM says what the entry means`);
        }
      } else {
        assert.equal(body.ok, true, `${hex(va)}: QEMU gives ${answer}, we fault: ${body.fault}`);
        assert.equal(`gpa: ${body.outputAddress}`, answer, hex(va));
        // The CPU's own read through both stages returns the bytes at the PA we computed.
        const virt = Buffer.from(await gdb.readMemory(va, 16)).toString('hex');
        const [phys] = await gdb.readPhysicalBatch([{ address: BigInt(body.outputAddress!), length: 16 }]);
        assert.ok(!(phys instanceof Error));
        assert.equal(Buffer.from(phys).toString('hex'), virt, hex(va));
      }
    }
    assert.ok(faults >= 1, 'the linear map’s first page is not yet mapped at stage 2 (pKVM maps it lazily)');
  });

  void test('the CLI gives the same profiles, no anomalies, and names the stage-2 entry', async () => {
    // The gdbstub takes one client: this one leaves (the panicked kernel spins on), the CLI attaches.
    await gdb.close();
    const run = (...args: string[]) => {
      const r = spawnSync(process.execPath, [cli, ...args, '--gdb', `127.0.0.1:${qemu!.port}`], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const guard = run('guard', '--json');
    assert.equal(guard.code, 0, guard.err);
    const g = JSON.parse(guard.out) as {
      profiles: Record<string, { name: string }>;
      guard: { anomalies: unknown[] };
      regimes: { regime: string; profile?: string }[];
    };
    assert.deepEqual(
      [g.profiles.el1.name, g.profiles.stage2.name, g.profiles.el2.name],
      ['linux', 'pkvm-host-s2', 'pkvm-hyp'],
    );
    assert.deepEqual(g.guard.anomalies, []);
    assert.equal(g.regimes.find((r) => r.regime === 'TTBR0_EL2')?.profile, 'pkvm-hyp');
    const t = run('translate', '--json', '0xffff000000001000');
    const j = JSON.parse(t.out) as {
      pa: string | null;
      fault: { stage: number } | null;
      stage2: { meaning: string | null };
    };
    if (j.fault?.stage === 2) {
      assert.equal(t.code, 4);
      assert.match(j.stage2.meaning ?? '', /identity-maps it on the host’s next access|owner/);
    } else assert.equal(t.code, 0, t.err);
    const walk = run('walk', '--regime', 'stage2');
    assert.equal(walk.code, 0, walk.err);
    assert.match(walk.out, /profile +pkvm-host-s2: /);
    assert.match(walk.out, /invalid +- +- +owner: hyp/);
    assert.match(walk.out, /shared-borrowed$/m);
  });
});
