// Source-level stepping on real QEMU, below the DAP session: LineStepper, SourceBreakpoints and the
// disassemble request over the gdb client, on the ELF fixture (plain C/asm) and on the demo firmware
// (handle_mmio_fault: the MAP hypercall line, the page-table update, step out to the fault path).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { disassemble } from '../../src/adapter/disassemble';
import { LineStepper, type Halt, type LineStepTarget, type StepResult } from '../../src/adapter/lineStepping';
import { SourceBreakpoints } from '../../src/adapter/sourceBreakpoints';
import { sharedDisassembler } from '../../src/disasm';
import { ElfImage } from '../../src/elf';
import { BP_SOFTWARE, connectTcp, type GdbClient, type StopEvent } from '../../src/gdb';
import { startQemu, type QemuInstance } from '../harness/qemu';
import { fixture, objdumpDisassembly, ROOT } from '../unit/elf/oracle';

/** A LineStepTarget over the real gdb client (what the session does over its RunControl). */
class GdbLineTarget implements LineStepTarget {
  /** Addresses of "user" breakpoints (inserted by the test) that a step must report. */
  readonly user = new Set<bigint>();
  steps = 0;

  constructor(private readonly gdb: GdbClient) {}

  private async halt(ev: StopEvent, target?: bigint): Promise<Halt> {
    if (ev.kind !== 'signal') return { kind: 'exited' };
    const pc = await this.gdb.readRegister('pc');
    return { kind: 'stopped', pc, breakpoint: this.user.has(pc) || (target !== undefined && pc !== target) };
  }

  /** Lifts a user breakpoint under PC for the duration of `f`, so the step leaves it. */
  private async offBreakpoint<T>(f: () => Promise<T>): Promise<T> {
    const pc = await this.gdb.readRegister('pc');
    const lifted = this.user.has(pc);
    if (lifted) await this.gdb.removeBreakpoint(BP_SOFTWARE, pc, 4);
    try {
      return await f();
    } finally {
      if (lifted) await this.gdb.insertBreakpoint(BP_SOFTWARE, pc, 4);
    }
  }

  async stepInstruction(): Promise<Halt> {
    this.steps++;
    return this.halt(await this.offBreakpoint(() => this.gdb.step()));
  }

  async runTo(address: bigint): Promise<Halt> {
    const temp = !this.user.has(address);
    if (temp) await this.gdb.insertBreakpoint(BP_SOFTWARE, address, 4);
    try {
      const first = await this.offBreakpoint(() => this.gdb.step());
      if (first.kind !== 'signal') return { kind: 'exited' };
      let pc = await this.gdb.readRegister('pc');
      if (pc !== address && !this.user.has(pc)) {
        await this.gdb.resume('continue');
        const ev = await this.gdb.waitForStop(20_000);
        if (ev.kind !== 'signal') return { kind: 'exited' };
        pc = await this.gdb.readRegister('pc');
      }
      return { kind: 'stopped', pc, breakpoint: this.user.has(pc) || pc !== address };
    } finally {
      if (temp) await this.gdb.removeBreakpoint(BP_SOFTWARE, address, 4);
    }
  }

  readRegister(name: 'pc' | 'sp' | 'x30'): Promise<bigint> {
    return this.gdb.readRegister(name);
  }

  async readInstruction(address: bigint): Promise<number | undefined> {
    try {
      return Buffer.from(await this.gdb.readMemory(address, 4)).readUInt32LE(0);
    } catch {
      return undefined;
    }
  }

  async readU64(address: bigint): Promise<bigint> {
    return Buffer.from(await this.gdb.readMemory(address, 8)).readBigUInt64LE(0);
  }

  async addUser(address: bigint): Promise<void> {
    await this.gdb.insertBreakpoint(BP_SOFTWARE, address, 4);
    this.user.add(address);
  }

  async removeUser(address: bigint): Promise<void> {
    await this.gdb.removeBreakpoint(BP_SOFTWARE, address, 4);
    this.user.delete(address);
  }

  /** Continue until a stop (a user breakpoint). */
  async cont(): Promise<bigint> {
    await this.offBreakpoint(async () => {
      const ev = await this.gdb.step();
      if (ev.kind !== 'signal') throw new Error('guest exited');
    });
    const pc = await this.gdb.readRegister('pc');
    if (this.user.has(pc)) return pc;
    await this.gdb.resume('continue');
    const ev = await this.gdb.waitForStop(20_000);
    if (ev.kind !== 'signal') throw new Error('guest exited');
    return this.gdb.readRegister('pc');
  }
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
  let target: GdbLineTarget;
  let stepper: LineStepper;
  const lineAt = (pc: bigint) => image.lineForAddress(pc)?.line;

  before(async () => {
    qemu = await startQemu({ kernel: fx.path });
    gdb = await connectTcp(qemu.host, qemu.port);
    target = new GdbLineTarget(gdb);
    stepper = new LineStepper(target, image);
  });
  after(async () => {
    await gdb?.close().catch(() => undefined);
    await qemu?.kill();
  });

  void test('a source breakpoint in c_main is hit; next walks its lines in order', async () => {
    const first = sourceLine(mainC, 'sink = accumulate(10)');
    const bps = new SourceBreakpoints(() => image, {
      replace: async (_o, addrs) => {
        for (const a of addrs) await target.addUser(a);
      },
    });
    const res = await bps.set({ source: { path: mainC }, breakpoints: [{ line: first }] });
    const bpAddr = BigInt(res.breakpoints[0].instructionReference!);
    assert.equal(await target.cont(), bpAddr);
    assert.equal(lineAt(bpAddr), first);
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) seen.push(lineAt(stepped(await stepper.next()))!);
    assert.deepEqual(seen, [
      sourceLine(mainC, 'sink += helper_add'),
      sourceLine(mainC, 'sink += asm_double'),
      sourceLine(mainC, 'for (;;)'),
    ]);
    await target.removeUser(bpAddr);
  });

  void test('step in enters accumulate past its prologue; step out returns to the call line', async () => {
    qemu.output();
    await gdb.monitor('system_reset');
    const call = sourceLine(mainC, 'sink = accumulate(10)');
    const at = image.addressesForLine(mainC, call)[0].address;
    await target.addUser(at);
    assert.equal(await target.cont(), at);
    await target.removeUser(at);
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
    const ret = await target.readU64((await gdb.readRegister('x29')) + 8n);
    const out = stepped(await stepper.stepOut(ret));
    assert.equal(out, ret);
    assert.equal(image.functionAt(out)?.name, 'c_main');
    assert.equal(lineAt(out), call);
  });

  void test('step in to an assembly function stops at its first instruction (no prologue skip)', async () => {
    await gdb.monitor('system_reset');
    const call = sourceLine(mainC, 'sink += asm_double');
    const at = image.addressesForLine(mainC, call)[0].address;
    await target.addUser(at);
    assert.equal(await target.cont(), at);
    await target.removeUser(at);
    const pc = stepped(await stepper.stepIn());
    assert.equal(pc, image.symbolByName('asm_double')?.value);
    assert.ok(image.lineForAddress(pc)?.file.endsWith('asm.S'));
  });
});

const demoElf = join(ROOT, 'guest/build/demo.elf');

void describe('line stepping on QEMU: demo firmware handle_mmio_fault', () => {
  let image: ElfImage;
  let qemu: QemuInstance;
  let gdb: GdbClient;
  let target: GdbLineTarget;
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
    target = new GdbLineTarget(gdb);
    stepper = new LineStepper(target, image);
  });
  after(async () => {
    await gdb?.close().catch(() => undefined);
    await qemu?.kill();
  });

  void test('breakpoint on the MAP hypercall line, next to the page-table update, step out to sync_exception_current', async () => {
    const mapLine = sourceLine(memoryC, 'if (mmio_guard_map(page))');
    const bps = new SourceBreakpoints(() => image, {
      replace: async (_o, addrs) => {
        for (const a of addrs) await target.addUser(a);
      },
    });
    const res = await bps.set({ source: { path: memoryC }, breakpoints: [{ line: mapLine }] });
    assert.equal(res.breakpoints[0]?.verified, true, res.breakpoints[0]?.message);
    assert.equal(res.breakpoints[0]?.line, mapLine);
    const bp = BigInt(res.breakpoints[0].instructionReference!);
    assert.equal(await target.cont(), bp);
    assert.equal(image.functionAt(bp)?.name, 'handle_mmio_fault');
    await target.removeUser(bp);

    // Next over the hypercall (bl mmio_guard_map -> hvc #0 -> EL2 stub -> eret) lands on a later line.
    const update = sourceLine(memoryC, ': map_device(page, page + PAGE_SIZE)');
    let pc = stepped(await stepper.next());
    const visited = [image.lineForAddress(pc)?.line];
    for (let i = 0; i < 4 && !visited.includes(update) && !visited.includes(update - 1); i++) {
      pc = stepped(await stepper.next());
      visited.push(image.lineForAddress(pc)?.line);
    }
    assert.ok(
      visited.includes(update) || visited.includes(update - 1),
      `visited lines ${visited.join(', ')}`,
    );
    assert.equal(image.functionAt(pc)?.name, 'handle_mmio_fault');

    // Step out through the frame record: back in the C fault path.
    const ret = await target.readU64((await gdb.readRegister('x29')) + 8n);
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
});
