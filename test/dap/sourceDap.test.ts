// Source-level debugging end to end through the adapter, real QEMU + the demo firmware: a source
// breakpoint on the line of handle_mmio_fault that issues the MAP hypercall, hit; step over lines to
// the page-table update (the entry turns VALID); step out to sync_exception_current; the Disassembly
// view's request around PC; a logpoint on the next fault. Lines come from the source text, addresses
// and mnemonics from binutils: nothing is hard-coded.
import type { DebugProtocol } from '@vscode/debugprotocol';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { objdumpDisassembly } from '../unit/elf/oracle';
import { buildGuest, Dap, demoElf, demoLaunch, repoRoot, entryFor } from './support';

const memoryC = join(repoRoot, 'guest/src/memory.c');
const lineIn = (file: string, text: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(text)) + 1;
const RTC = 0x9010000n;
const VIRTIO = 0xa000000n;

void describe('source-level debugging of handle_mmio_fault (DAP, QEMU, demo firmware)', () => {
  const dap = new Dap();
  const mapLine = lineIn(memoryC, 'if (mmio_guard_map(page))');
  let bpId: number | undefined;

  before(async () => {
    buildGuest();
    await dap.start();
  });
  after(async () => {
    await dap.dc.disconnectRequest({ terminateDebuggee: true }).catch(() => undefined);
    await dap.stop();
  });

  const step = async (kind: 'next' | 'stepIn' | 'stepOut') => {
    const m = dap.mark();
    if (kind === 'next') await dap.dc.nextRequest({ threadId: 1 });
    else if (kind === 'stepIn') await dap.dc.stepInRequest({ threadId: 1 });
    else await dap.dc.stepOutRequest({ threadId: 1 });
    const stop = await dap.nextStop(m);
    return { stop, frame: await dap.topFrame() };
  };

  void test('a breakpoint on the MAP hypercall line is verified at that line and hit for the RTC page', async () => {
    await dap.launch(demoLaunch(), async () => {
      const r = await dap.dc.setBreakpointsRequest({
        source: { path: memoryC },
        breakpoints: [{ line: mapLine }],
      });
      const bp = r.body.breakpoints[0];
      assert.equal(bp?.verified, true, bp?.message);
      assert.equal(bp.line, mapLine);
      bpId = bp.id;
    });
    const m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    const stop = await dap.nextStop(m);
    assert.equal(stop.reason, 'breakpoint');
    assert.ok(bpId !== undefined && stop.hitBreakpointIds?.includes(bpId));
    const f = await dap.topFrame();
    assert.match(f.name, /^handle_mmio_fault/);
    assert.equal(f.source?.path, memoryC);
    assert.equal(f.line, mapLine);
    const leaf = await entryFor(dap, RTC);
    assert.equal(leaf?.kind, 'lazy', 'the RTC leaf is lazy before the handler maps it');
    assert.equal(BigInt(leaf.descriptor) & 1n, 0n);
  });

  void test('next steps over the hypercall to the page-table update, then past it: the leaf is VALID', async () => {
    const a = await step('next');
    assert.equal(a.stop.reason, 'step');
    assert.equal(a.frame.line, lineIn(memoryC, 'int r = scenario'));
    assert.equal((await entryFor(dap, RTC))?.kind, 'lazy');
    const b = await step('next');
    assert.equal(b.frame.line, lineIn(memoryC, 'if (r)'));
    assert.equal(b.frame.source?.path, memoryC);
    const leaf = await entryFor(dap, RTC);
    assert.equal(leaf?.kind, 'page', 'a VALID page after map_device');
    assert.equal(BigInt(leaf.descriptor) & 1n, 1n);
  });

  void test('step out returns to sync_exception_current in exceptions.c', async () => {
    const { stop, frame } = await step('stepOut');
    assert.equal(stop.reason, 'step');
    assert.match(frame.name, /^sync_exception_current/);
    assert.equal(frame.source?.path, join(repoRoot, 'guest/src/exceptions.c'));
    assert.ok(frame.line > 0);
  });

  void test('disassemble around PC: labels, lines and the mnemonics objdump prints', async () => {
    const frame = await dap.topFrame();
    const pc = BigInt(frame.instructionPointerReference!);
    const r = await dap.dc.customRequest('disassemble', {
      memoryReference: frame.instructionPointerReference,
      instructionOffset: -8,
      instructionCount: 16,
      resolveSymbols: true,
    });
    const insns = (
      r.body as { instructions: { address: string; instruction: string; symbol?: string; line?: number }[] }
    ).instructions;
    assert.equal(insns.length, 16);
    assert.equal(BigInt(insns[8].address), pc);
    assert.equal(insns[8].symbol, 'sync_exception_current');
    assert.equal(insns[8].line, frame.line);
    const oracle = objdumpDisassembly(demoElf);
    for (const i of insns)
      assert.equal(i.instruction.split(' ')[0], oracle.get(BigInt(i.address)), i.address);
    // The call just before the return address names its target.
    assert.ok(insns.slice(0, 8).some((i) => /^bl .*<handle_mmio_fault>$/.test(i.instruction)));
  });

  void test('a logpoint on the handler entry prints the next fault address without stopping there', async () => {
    const entryLine = lineIn(memoryC, 'uint64_t page = addr &');
    const r = await dap.dc.setBreakpointsRequest({
      source: { path: memoryC },
      breakpoints: [{ line: entryLine, logMessage: 'lazy fault at {$x0}' }, { line: mapLine }],
    });
    assert.ok(r.body.breakpoints.every((b) => b.verified));
    const m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    const stop = await dap.nextStop(m);
    assert.equal(stop.reason, 'breakpoint');
    assert.equal((await dap.topFrame()).line, mapLine);
    assert.match(dap.output.join(''), new RegExp(`lazy fault at 0x${VIRTIO.toString(16)}`));
  });

  void test('Disassembly view: an instruction breakpoint on the call to mmio_guard_map, then an instruction step over it', async () => {
    const sym = (await dap.evaluate('handle_mmio_fault')).match(/0x[0-9a-f]+/)?.[0];
    assert.ok(sym, 'the console evaluates a symbol to its address');
    const listing = await dap.dc.customRequest('disassemble', { memoryReference: sym, instructionCount: 64 });
    const insns = (listing.body as { instructions: { address: string; instruction: string }[] }).instructions;
    const call = insns.find((i) => /^bl .*<mmio_guard_map>$/.test(i.instruction));
    assert.ok(call, 'bl mmio_guard_map in the listing');
    const set = (await dap.dc.customRequest('setInstructionBreakpoints', {
      breakpoints: [{ instructionReference: call.address }],
    })) as DebugProtocol.SetInstructionBreakpointsResponse;
    assert.equal(set.body.breakpoints[0]?.verified, true);
    let m = dap.mark();
    await dap.dc.continueRequest({ threadId: 1 });
    assert.equal((await dap.nextStop(m)).reason, 'breakpoint');
    const at = await dap.topFrame();
    assert.equal(BigInt(at.instructionPointerReference!), BigInt(call.address));
    assert.equal(at.line, mapLine);
    m = dap.mark();
    await dap.dc.nextRequest({ threadId: 1, granularity: 'instruction' });
    assert.equal((await dap.nextStop(m)).reason, 'step');
    const after = await dap.topFrame();
    assert.equal(BigInt(after.instructionPointerReference!), BigInt(call.address) + 4n);
    assert.match(after.name, /^handle_mmio_fault/);
    await dap.dc.customRequest('setInstructionBreakpoints', { breakpoints: [] });
  });
});
