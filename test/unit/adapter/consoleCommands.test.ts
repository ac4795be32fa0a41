// The Debug Console's newer commands, pure: `x/NFU` and `translate --write/--exec` parsing, the
// completions, and which QEMU output is an error.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ExpressionError, parseExpression } from '../../../src/adapter/evaluate';
import { consoleCompletions } from '../../../src/adapter/consoleCompletions';
import { QemuOutputLines, qemuOutput } from '../../../src/adapter/qemuConsole';

const sources = {
  registers: ['x0', 'pc', 'TTBR0_EL1', 'TTBR1_EL1'],
  symbols: (prefix: string) => ['handle_mmio_fault', 'el1_entry'].filter((n) => n.startsWith(prefix)),
};
const labels = (text: string, column = text.length + 1): string[] =>
  consoleCompletions(text, column, sources).map((t) => t.label);

void describe('console commands', () => {
  void test('x/NFU: count, unit and format in any order, p: for physical, bounded', () => {
    const e = parseExpression('x/16gx pt_root + 8');
    assert.equal(e.kind, 'examine');
    if (e.kind !== 'examine') return;
    assert.deepEqual([e.count, e.unit, e.format, e.physical], [16, 8, 'x', false]);
    assert.equal(e.address.terms.length, 2);
    const b = parseExpression('x/32xb p:0x9000000');
    assert.ok(b.kind === 'examine' && b.unit === 1 && b.count === 32 && b.physical);
    const d = parseExpression('x $sp');
    assert.ok(d.kind === 'examine' && d.count === 1 && d.unit === 8 && d.format === 'x');
    assert.ok(parseExpression('x/4wd 0x10').kind === 'examine');
    assert.throws(() => parseExpression('x/4gq 0x10'), /usage: x\/NFU/);
    assert.throws(() => parseExpression('x/4gw 0x10'), /two unit sizes/);
    assert.throws(() => parseExpression('x/0x 0x10'), /at least 1/);
    assert.throws(
      () => parseExpression('x/513gx 0x10'),
      /at most 4096 bytes at a time: 513 units of 8 bytes is 4104/,
    );
    assert.throws(() => parseExpression('x/4gx'), ExpressionError);
    // Not a command: a symbol named x is still a value.
    assert.equal(parseExpression('x1').kind, 'value');
  });

  void test('translate takes --write or --exec anywhere, one at a time', () => {
    const w = parseExpression('translate $x0 + 8 --write');
    assert.ok(w.kind === 'translate' && w.access === 'write' && w.address.terms.length === 2);
    const x = parseExpression('translate --exec el1_entry');
    assert.ok(x.kind === 'translate' && x.access === 'exec');
    const r = parseExpression('translate el1_entry');
    assert.ok(r.kind === 'translate' && r.access === undefined);
    assert.throws(() => parseExpression('translate el1_entry --write --exec'), /pick one/);
    assert.throws(() => parseExpression('translate el1_entry --wr'), /unknown option '--wr'/);
    assert.throws(() => parseExpression('translate --write'), /usage: translate ADDRESS/);
  });

  void test('watch-pte ADDRESS [--level N], watch-pte, watch-pte clear', () => {
    const w = parseExpression('watch-pte $x0 + 8 --level 2');
    assert.ok(w.kind === 'watchPte' && w.level === 2 && w.address?.terms.length === 2);
    const leaf = parseExpression('watch-pte 0x9010000');
    assert.ok(leaf.kind === 'watchPte' && leaf.level === undefined && leaf.address);
    assert.deepEqual(parseExpression('watch-pte'), { kind: 'watchPte' });
    assert.deepEqual(parseExpression('watch-pte clear'), { kind: 'watchPte', clear: true });
    assert.throws(() => parseExpression('watch-pte 0x10 --level 7'), /usage: watch-pte/);
    assert.deepEqual(labels('watch'), ['watch-pte']);
  });

  void test('completions: commands, options, x forms, registers, symbols, monitor', () => {
    assert.deepEqual(labels('gu'), ['guard']);
    assert.ok(labels('').includes('x') && labels('').includes('help'));
    assert.deepEqual(labels('translate el1_entry --e'), ['--exec']);
    assert.deepEqual(labels('translate el1_entry '), ['--write', '--exec']);
    assert.ok(labels('x/').includes('x/16gx'));
    assert.deepEqual(labels('x/16gx handle'), ['handle_mmio_fault']);
    assert.deepEqual(labels('pte $TTBR1'), ['$TTBR1_EL1']);
    const p = consoleCompletions('x/4gx p:el1', 12, sources);
    assert.deepEqual(
      p.map((t) => [t.label, t.start, t.length]),
      [['el1_entry', 8, 3]],
    );
    assert.deepEqual(labels('monitor info m'), ['info mtree -f']);
    // Only what is before the cursor counts.
    assert.deepEqual(labels('guard junk', 3), ['guard']);
  });

  void test("QEMU's goodbye to this process's SIGTERM is console output; other stderr stays stderr", () => {
    const bye = 'qemu-system-aarch64: terminating on signal 15 from pid 4242 (node)\n';
    assert.deepEqual(qemuOutput(bye, 'stderr', 4242), [{ text: bye, category: 'console' }]);
    // Another process's signal is news.
    assert.deepEqual(qemuOutput(bye, 'stderr', 1), [{ text: bye, category: 'stderr' }]);
    const mixed = `qemu-system-aarch64: warning: something\n${bye}`;
    assert.deepEqual(qemuOutput(mixed, 'stderr', 4242), [
      { text: 'qemu-system-aarch64: warning: something\n', category: 'stderr' },
      { text: bye, category: 'console' },
    ]);
    assert.deepEqual(qemuOutput('hello\n', 'stdout', 4242), [{ text: 'hello\n', category: 'stdout' }]);
  });

  void test("the goodbye cut by the pipe where QEMU's four write()s meet is still one console line", async () => {
    const out: { text: string; category: string }[] = [];
    const lines = new QemuOutputLines((text, category) => out.push({ text, category }), 4242, 20);
    // The pieces strace shows QEMU writing, each read on its own (a loaded machine).
    for (const piece of ['qemu-system-aarch64:', ' ', 'terminating on signal 15 from pid 4242 (node)', '\n'])
      lines.push(piece, 'stderr');
    assert.deepEqual(out, [
      { text: 'qemu-system-aarch64: terminating on signal 15 from pid 4242 (node)\n', category: 'console' },
    ]);
    // Guest output flushes a pending stderr piece first (order kept); a line QEMU never ends goes out
    // after the hold, and flush() sends what is left at exit.
    out.length = 0;
    lines.push('qemu-system-aarch64: warn', 'stderr');
    lines.push('guest says hi\n', 'stdout');
    assert.deepEqual(out, [
      { text: 'qemu-system-aarch64: warn', category: 'stderr' },
      { text: 'guest says hi\n', category: 'stdout' },
    ]);
    out.length = 0;
    lines.push('no newline', 'stderr');
    assert.deepEqual(out, []);
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(out, [{ text: 'no newline', category: 'stderr' }]);
    out.length = 0;
    lines.push('at exit', 'stderr');
    lines.flush();
    assert.deepEqual(out, [{ text: 'at exit', category: 'stderr' }]);
  });
});
