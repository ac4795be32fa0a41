// Text parsing in linear time (pure): regular expressions that backtracked quadratically over runs of
// spaces made one request with 64 KiB of text take seconds (memory references, hit conditions,
// breakpoint conditions, completions). A regular expression cannot be interrupted (a test timeout
// never fires), so each case measures itself: 128 KiB took the old expressions about 20 s each,
// the scans here take milliseconds; the bound leaves a wide margin for a loaded machine.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Inspect } from '../../../src/adapter/inspect';
import { parseMemoryReference } from '../../../src/adapter/memory';
import type { PvmfwDebugSession } from '../../../src/adapter/session';
import { SourceSupport } from '../../../src/adapter/source';
import { parseHitCondition } from '../../../src/adapter/sourceBreakpoints';

const SPACES = ' '.repeat(128 * 1024);
const BOUND_MS = 2000;

async function linear(what: string, fn: () => unknown): Promise<void> {
  const t0 = performance.now();
  await fn();
  const ms = performance.now() - t0;
  assert.ok(ms < BOUND_MS, `${what} took ${ms.toFixed(0)} ms on ${SPACES.length} characters`);
}

/** Just enough of a session for the parsing paths (no target: values fail as "not stopped"). */
const fakeSession = {
  bps: { replace: () => Promise.resolve() },
  symbols: { complete: () => [] },
  requireStopped: () => {
    throw new Error('not stopped');
  },
} as unknown as PvmfwDebugSession;

void describe('parsing long text', () => {
  void test('memory references', async () => {
    await linear('parseMemoryReference', () =>
      assert.throws(() => parseMemoryReference(`${SPACES}x`), /bad memory reference/),
    );
    assert.deepEqual(parseMemoryReference(`  p: 0x1000  `), { space: 'physical', address: 0x1000n });
  });

  void test('hit conditions', async () => {
    await linear('parseHitCondition', () =>
      assert.throws(() => parseHitCondition(`${SPACES}x`), /is not N, ==N/),
    );
    assert.deepEqual(parseHitCondition(' >= 3 '), { op: '>=', n: 3 });
  });

  void test('breakpoint conditions split at their first comparison', async () => {
    const source = new SourceSupport(fakeSession);
    await linear('a condition without a comparison', () =>
      assert.rejects(source.evaluate(SPACES), /not stopped/),
    );
    await linear('a condition with one', () =>
      assert.rejects(source.evaluate(`$x0${SPACES}== 1`), /not stopped/),
    );
  });

  void test('completions find the word before the cursor', async () => {
    const inspect = new Inspect(fakeSession);
    const text = `${'a'.repeat(SPACES.length)} $TTBR`;
    let r: ReturnType<Inspect['completions']> = { targets: [] };
    await linear('completions', () => (r = inspect.completions({ text, column: text.length + 1 })));
    assert.deepEqual(
      r.targets.map((t) => t.label),
      ['$TTBR0_EL1', '$TTBR1_EL1', '$TTBR0_EL2'],
    );
    assert.equal(r.targets[0].start, text.length - 5);
  });
});
