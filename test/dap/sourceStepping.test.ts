// Source-level stepping on real QEMU, below the DAP session: LineStepper, SourceBreakpoints and the
// disassemble request over the gdb client, on the ELF fixture (plain C/asm) and on the demo firmware
// (handle_mmio_fault: the MAP hypercall line, the page-table update, step out to the fault path).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { disassemble } from '../../src/adapter/disassemble';
import {
  GdbLineTarget,
  LineStepper,
  type StepBreakpoints,
  type StepResult,
} from '../../src/adapter/lineStepping';
import { SourceBreakpoints } from '../../src/adapter/sourceBreakpoints';
import { sharedDisassembler } from '../../src/disasm';
import { ElfImage } from '../../src/elf';
import { BP_SOFTWARE, connectTcp, type GdbClient } from '../../src/gdb';
import { startQemu, type QemuInstance } from '../harness/qemu';
import { walk } from '../qemu/firmware-support';
import { fixture, objdumpDisassembly, ROOT } from '../unit/elf/oracle';

/**
 * The session's breakpoint book-keeping reduced to what the tests need: user breakpoints and the
 * stepper's temporary ones share the stub's one Z0 per address.
 */
class Breakpoints implements StepBreakpoints {
  private readonly owners = new Map<bigint, Set<string>>();
  constructor(private readonly gdb: GdbClient) {}

  async add(owner: string, address: bigint): Promise<void> {
    let set = this.owners.get(address);
    if (!set) {
      await this.gdb.insertBreakpoint(BP_SOFTWARE, address, 4);
      this.owners.set(address, (set = new Set()));
    }
    set.add(owner);
  }
  async remove(owner: string, address: bigint): Promise<void> {
    const set = this.owners.get(address);
    if (!set?.delete(owner) || set.size) return;
    this.owners.delete(address);
    await this.gdb.removeBreakpoint(BP_SOFTWARE, address, 4);
  }
  hasOther(address: bigint, ...except: string[]): boolean {
    return [...(this.owners.get(address) ?? [])].some((o) => !except.includes(o));
  }
  async lift(address: bigint): Promise<(() => Promise<void>) | undefined> {
    if (!this.owners.has(address)) return undefined;
    await this.gdb.removeBreakpoint(BP_SOFTWARE, address, 4);
    return () => this.gdb.insertBreakpoint(BP_SOFTWARE, address, 4);
  }
}

/** Continue to the next user breakpoint (through the production target: a run to nowhere). */
async function cont(gdb: GdbClient, bps: Breakpoints): Promise<bigint> {
  const pc = await gdb.readRegister('pc');
  const restore = await bps.lift(pc);
  try {
    await gdb.step();
  } finally {
    if (restore) await restore();
  }
  const now = await gdb.readRegister('pc');
  if (bps.hasOther(now)) return now;
  await gdb.resume('continue');
  await gdb.waitForStop(20_000);
  return gdb.readRegister('pc');
}

async function readU64(gdb: GdbClient, address: bigint): Promise<bigint> {
  return Buffer.from(await gdb.readMemory(address, 8)).readBigUInt64LE(0);
}

const sourceLine = (file: string, text: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(text)) + 1;

function stepped(r: StepResult): bigint {
  assert.equal(
    r.kind,
    'step',
    JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)),
  );
  return (r as { pc: bigint }).pc;
}

void describe('line stepping on QEMU: ELF fixture (DWARF 5, -O0)', () => {
  const fx = fixture(5, '-O0');
  const image = ElfImage.parse(fx.bytes);
  const mainC = join(ROOT, 'test/fixtures/elf/main.c');
  let qemu: QemuInstance;
  let gdb: GdbClient;
  let bps: Breakpoints;
  let stepper: LineStepper;
  const lineAt = (pc: bigint) => image.lineForAddress(pc)?.line;

  before(async () => {
    qemu = await startQemu({ kernel: fx.path });
    gdb = await connectTcp(qemu.host, qemu.port);
    bps = new Breakpoints(gdb);
    const tid = (await gdb.threads())[0]?.tid ?? 1;
    stepper = new LineStepper(new GdbLineTarget(gdb, bps, tid), image);
  });
  after(async () => {
    await gdb?.close().catch(() => undefined);
    await qemu?.kill();
  });

  void test('a source breakpoint in c_main is hit; next walks its lines in order', async () => {
    const first = sourceLine(mainC, 'sink = accumulate(10)');
    const sources = new SourceBreakpoints(() => image, {
      replace: async (_o, addrs) => {
        for (const a of addrs) await bps.add('user', a);
      },
    });
    const res = await sources.set({ source: { path: mainC }, breakpoints: [{ line: first }] });
    const bpAddr = BigInt(res.breakpoints[0].instructionReference!);
    assert.equal(await cont(gdb, bps), bpAddr);
    assert.equal(lineAt(bpAddr), first);
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) seen.push(lineAt(stepped(await stepper.next()))!);
    assert.deepEqual(seen, [
      sourceLine(mainC, 'sink += helper_add'),
      sourceLine(mainC, 'sink += asm_double'),
      sourceLine(mainC, 'sink += fact(5)'),
      sourceLine(mainC, 'for (;;)'),
    ]);
    await bps.remove('user', bpAddr);
  });

  void test('step in enters accumulate past its prologue; step out returns to the call line', async () => {
    qemu.output();
    await gdb.monitor('system_reset');
    const call = sourceLine(mainC, 'sink = accumulate(10)');
    const at = image.addressesForLine(mainC, call)[0].address;
    await bps.add('user', at);
    assert.equal(await cont(gdb, bps), at);
    await bps.remove('user', at);
    const inFn = stepped(await stepper.stepIn());
    assert.equal(image.functionAt(inFn)?.name, 'accumulate');
    assert.equal(lineAt(inFn), sourceLine(mainC, 'int total = 0'));
    // Into the loop: the body line calls square (not inlined at -O0); next steps over it.
    const loopBody = sourceLine(mainC, 'total += square(i)');
    let pc = inFn;
    for (let i = 0; i < 4 && lineAt(pc) !== loopBody; i++) pc = stepped(await stepper.next());
    assert.equal(lineAt(pc), loopBody);
    const afterBody = stepped(await stepper.next());
    assert.equal(image.functionAt(afterBody)?.name, 'accumulate');
    assert.notEqual(lineAt(afterBody), loopBody);
    // Step out: to the caller's return point, by the frame record (x29 -> {fp, lr}).
    const ret = await readU64(gdb, (await gdb.readRegister('x29')) + 8n);
    const out = stepped(await stepper.stepOut(ret));
    assert.equal(out, ret);
    assert.equal(image.functionAt(out)?.name, 'c_main');
    assert.equal(lineAt(out), call);
  });

  void test('step in to an assembly function stops at its first instruction (no prologue skip)', async () => {
    await gdb.monitor('system_reset');
    const call = sourceLine(mainC, 'sink += asm_double');
    const at = image.addressesForLine(mainC, call)[0].address;
    await bps.add('user', at);
    assert.equal(await cont(gdb, bps), at);
    await bps.remove('user', at);
    const pc = stepped(await stepper.stepIn());
    assert.equal(pc, image.symbolByName('asm_double')?.value);
    assert.ok(image.lineForAddress(pc)?.file.endsWith('asm.S'));
  });
  void test('next over a recursive call stays in the same frame', async () => {
    await gdb.monitor('system_reset');
    const rec = sourceLine(mainC, 'return n * fact(n - 1)');
    const at = image.addressesForLine(mainC, rec)[0].address;
    await bps.add('user', at);
    assert.equal(await cont(gdb, bps), at);
    await bps.remove('user', at);
    const sp = await gdb.readRegister('sp');
    const pc = stepped(await stepper.next());
    assert.equal(image.functionAt(pc)?.name, 'fact');
    assert.equal(await gdb.readRegister('sp'), sp, 'still the outermost fact frame');
    assert.notEqual(lineAt(pc), rec);
  });
  void test('step out of a recursive frame returns to its caller frame, not to itself (SP rule, then frame pointer)', async () => {
    const rec = sourceLine(mainC, 'return n * fact(n - 1)');
    const at = image.addressesForLine(mainC, rec)[0].address;
    for (const useFp of [false, true]) {
      await gdb.monitor('system_reset');
      await bps.add('user', at);
      assert.equal(await cont(gdb, bps), at); // fact(5)
      assert.equal(await cont(gdb, bps), at); // fact(4), called from fact(5)'s call site
      await bps.remove('user', at);
      const fp = await gdb.readRegister('x29');
      const ret = await readU64(gdb, fp + 8n);
      const callerFp = await readU64(gdb, fp);
      const sp = await gdb.readRegister('sp');
      const out = stepped(await stepper.stepOut(ret, useFp ? callerFp : undefined));
      assert.equal(out, ret);
      assert.equal(
        await gdb.readRegister('x29'),
        callerFp,
        'in fact(5), not in fact(4) after its own inner call',
      );
      assert.ok((await gdb.readRegister('sp')) > sp);
    }
  });
  void test('step out from a function breakpoint (first instruction, nothing pushed yet)', async () => {
    await gdb.monitor('system_reset');
    const entry = image.symbolByName('fact')!.value;
    await bps.add('user', entry);
    assert.equal(await cont(gdb, bps), entry);
    await bps.remove('user', entry);
    const ret = await gdb.readRegister('x30');
    const out = stepped(await stepper.stepOut(ret));
    assert.equal(out, ret);
    assert.equal(image.functionAt(out)?.name, 'c_main');
    assert.equal(lineAt(out), sourceLine(mainC, 'sink += fact(5)'));
  });
});

const demoElf = join(ROOT, 'guest/build/demo.elf');

void describe('line stepping on QEMU: demo firmware handle_mmio_fault', () => {
  let image: ElfImage;
  let qemu: QemuInstance;
  let gdb: GdbClient;
  let bps: Breakpoints;
  let stepper: LineStepper;
  const memoryC = join(ROOT, 'guest/src/memory.c');

  before(async () => {
    execFileSync('make', ['-s', '-C', join(ROOT, 'guest')], { stdio: ['ignore', 'ignore', 'inherit'] });
    image = ElfImage.parse(readFileSync(demoElf));
    qemu = await startQemu({
      kernel: demoElf,
      machine: 'virt,virtualization=on',
      cpu: 'max',
      memory: '512M',
    });
    gdb = await connectTcp(qemu.host, qemu.port);
    bps = new Breakpoints(gdb);
    const tid = (await gdb.threads())[0]?.tid ?? 1;
    stepper = new LineStepper(new GdbLineTarget(gdb, bps, tid), image);
  });
  after(async () => {
    await gdb?.close().catch(() => undefined);
    await qemu?.kill();
  });

  void test('breakpoint on the MAP hypercall line, next to the page-table update, step out to sync_exception_current', async () => {
    const mapLine = sourceLine(memoryC, 'if (mmio_guard_map(page))');
    const sources = new SourceBreakpoints(() => image, {
      replace: async (_o, addrs) => {
        for (const a of addrs) await bps.add('user', a);
      },
    });
    const res = await sources.set({ source: { path: memoryC }, breakpoints: [{ line: mapLine }] });
    assert.equal(res.breakpoints[0]?.verified, true, res.breakpoints[0]?.message);
    assert.equal(res.breakpoints[0]?.line, mapLine);
    const bp = BigInt(res.breakpoints[0].instructionReference!);
    assert.equal(await cont(gdb, bps), bp);
    assert.equal(image.functionAt(bp)?.name, 'handle_mmio_fault');
    await bps.remove('user', bp);

    // The faulting page's stage-1 leaf is lazy (not VALID) until map_device runs.
    const page = (await gdb.readRegister('FAR_EL1')) & ~0xfffn;
    const ttbr0 = await gdb.readRegister('TTBR0_EL1');
    const leaf = async () => (await walk(gdb, ttbr0, page)).at(-1)!.value;
    assert.equal((await leaf()) & 1n, 0n, 'lazy before the handler maps it');

    // Next over the hypercall line (bl mmio_guard_map -> hvc #0 -> EL2 stub -> eret): the map_device
    // statement, then the line after it, where the leaf is VALID.
    const update = sourceLine(memoryC, 'int r = scenario');
    const pc1 = stepped(await stepper.next());
    assert.equal(image.lineForAddress(pc1)?.line, update);
    assert.equal((await leaf()) & 1n, 0n);
    const pc2 = stepped(await stepper.next());
    assert.equal(image.lineForAddress(pc2)?.line, sourceLine(memoryC, 'if (r)'));
    assert.equal(image.functionAt(pc2)?.name, 'handle_mmio_fault');
    assert.equal((await leaf()) & 1n, 1n, 'valid after map_device');

    // Step out through the frame record: back in the C fault path.
    const ret = await readU64(gdb, (await gdb.readRegister('x29')) + 8n);
    const out = stepped(await stepper.stepOut(ret));
    assert.equal(image.functionAt(out)?.name, 'sync_exception_current');
    assert.ok(image.lineForAddress(out)?.file.endsWith('exceptions.c'));
  });

  void test('disassemble around PC names the call to mmio_guard_map, as objdump does', async () => {
    const pc = await gdb.readRegister('pc');
    const decoder = await sharedDisassembler();
    const body = await disassemble(
      { memoryReference: `0x${pc.toString(16)}`, instructionOffset: -8, instructionCount: 16 },
      { memory: { readMemory: (a, n) => gdb.readMemory(a, n) }, decoder, symbols: image },
    );
    assert.equal(body.instructions.length, 16);
    const oracle = objdumpDisassembly(demoElf);
    for (const insn of body.instructions) {
      assert.equal(insn.instruction.split(' ')[0], oracle.get(BigInt(insn.address)), insn.address);
    }
    const map = image.symbolByName('handle_mmio_fault')!;
    const fn = await disassemble(
      { memoryReference: `0x${map.value.toString(16)}`, instructionCount: Number(map.size / 4n) },
      { memory: { readMemory: (a, n) => gdb.readMemory(a, n) }, decoder, symbols: image },
    );
    assert.ok(
      fn.instructions.some(
        (i) => i.instruction.startsWith('bl ') && i.instruction.endsWith('<mmio_guard_map>'),
      ),
    );
    assert.ok(fn.instructions.every((i) => i.symbol === 'handle_mmio_fault'));
  });

  void test('next over a line whose load takes the lazy MMIO fault stops at the vector and says why', async () => {
    const el1Main = join(ROOT, 'guest/src/el1_main.c');
    const ldrLine = sourceLine(el1Main, '__asm__ volatile("ldr %w0, [%1]"');
    const at = image.addressesForLine(el1Main, ldrLine)[0].address;
    await bps.add('user', at);
    // The RTC load retried after its fault is mapped now: run on to the first virtio access.
    for (let i = 0; i < 4 && (await gdb.readRegister('x0')) !== 0xa000000n; i++)
      assert.equal(await cont(gdb, bps), at);
    assert.equal(await gdb.readRegister('x0'), 0xa000000n);
    await bps.remove('user', at);
    const r = await stepper.next();
    assert.equal(r.kind, 'step');
    // QEMU 7.2 keeps the AArch32 base name for some system registers.
    const vbar = await gdb.readRegister(gdb.registers.get('VBAR_EL1') ? 'VBAR_EL1' : 'VBAR');
    // Data abort from EL1 on SP_EL0 (the firmware's Rust-like setup): the current-EL SP0 sync entry.
    assert.equal((r as { pc: bigint }).pc, vbar);
    assert.match(
      (r as { why?: string }).why ?? '',
      /exception taken: the instruction at 0x[0-9a-f]+ did not complete/,
    );
    const esr = await gdb.readRegister('ESR_EL1');
    assert.equal(Number((esr >> 26n) & 0x3fn), 0x25, 'EC = data abort, same EL');
  });
});
