// The console's `mem ADDRESS` (#14 item 9), pure parts: parsing (p: physical, expressions), help and
// completions name it, and only the Debug Console opens a view.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { CONSOLE_HELP, ExpressionError, parseExpression } from '../../../src/adapter/evaluate';
import { consoleCompletions } from '../../../src/adapter/consoleCompletions';
import { openMemoryView } from '../../../src/adapter/memoryViewConsole';

void describe('console: mem', () => {
  void test('mem ADDRESS, mem p:ADDRESS, expressions; a bare mem says how', () => {
    const v = parseExpression('mem el1_entry + 0x10');
    assert.ok(v.kind === 'mem' && !v.physical && v.address.terms.length === 2);
    const p = parseExpression('mem p:0x40224000');
    assert.ok(p.kind === 'mem' && p.physical && p.address.text === '0x40224000');
    const spaced = parseExpression('mem P: $x0');
    assert.ok(spaced.kind === 'mem' && spaced.physical);
    assert.throws(
      () => parseExpression('mem'),
      (e: unknown) => e instanceof ExpressionError && /usage: mem ADDRESS/.test(e.message),
    );
    assert.throws(() => parseExpression('mem p:'), ExpressionError);
    // A symbol named mem_base is still a value.
    assert.equal(parseExpression('mem_base').kind, 'value');
  });

  void test('help and completions name it', () => {
    assert.match(CONSOLE_HELP, /^ {2}mem ADDRESS {10}open the Memory view/m);
    assert.match(CONSOLE_HELP, /mem p:0x40200000/);
    const labels = consoleCompletions('me', 3, { registers: [], symbols: () => [] }).map((t) => t.label);
    assert.deepEqual(labels, ['mem']);
  });

  void test('the event carries the reference; only from the console', () => {
    const sent: DebugProtocol.Event[] = [];
    const host = { sendEvent: (e: DebugProtocol.Event) => void sent.push(e) };
    const r = openMemoryView(host, { physical: true, text: 'p:0x40224000' }, 0x40224000n, true, '');
    assert.equal(r.memoryReference, 'p:0x40224000');
    assert.equal(sent.length, 1);
    assert.equal(sent[0].event, 'openMemoryView');
    assert.deepEqual(sent[0].body, {
      memoryReference: 'p:0x40224000',
      origin: 'the Debug Console (mem p:0x40224000)',
    });
    assert.throws(
      () => openMemoryView(host, { physical: false, text: 'x' }, 1n, false, "from the 'hover' context"),
      /mem opens a view only from the Debug Console; refused from the 'hover' context/,
    );
    assert.throws(
      () => openMemoryView(host, { physical: true, text: 'x' }, 1n << 60n, true, ''),
      /not a physical address/,
    );
    assert.equal(sent.length, 1);
  });
});
