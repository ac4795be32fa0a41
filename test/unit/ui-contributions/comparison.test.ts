// Compare Snapshots in the views, the pure parts: the webview messages that carry a comparison (and
// every message the host accepts from the webview) validated field by field, the grid's changed pages
// from the analysis core's transitions, and the wording that names the compared snapshot.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { guardTransitions, type GuardTransition } from '../../../src/analysis';
import type { GuardRegion, PageGuardState } from '../../../src/shared/protocol';
import { rtcPte } from './pteFixture';
import {
  isStopComparison,
  MAX_RENDERED_DIFF_LINES,
  parseWebviewToHost,
  type GuardPageTransition,
} from '../../../src/shared/webviewMessages';
import { entryTooltip } from '../../../src/ui/format';
import { snapshotOf, transitionIndexes } from '../../../media/diff';

const ZERO: Record<PageGuardState, number> = {
  lazy: 0,
  guardMapped: 0,
  guardMappedPending: 0,
  validUnguarded: 0,
  unmapped: 0,
  anomaly: 0,
};

/** The demo's RTC region: 4 pages from 0x09010000, page 0 in `first`'s state, the rest lazy. */
function rtc(first: PageGuardState): GuardRegion {
  return {
    name: 'pl031 rtc',
    start: '0x9010000',
    end: '0x9014000',
    pageCount: 4,
    runs: [
      { start: '0x9010000', pages: 1, state: first },
      { start: '0x9011000', pages: 3, state: 'lazy' },
    ],
    counts: { ...ZERO, lazy: first === 'lazy' ? 4 : 3, [first]: first === 'lazy' ? 4 : 1 },
  };
}

void describe('a comparison in the MMIO Guard panel', () => {
  const transitions = guardTransitions(
    { regions: [rtc('lazy')], untracked: [] },
    { regions: [rtc('guardMapped')], untracked: [] },
  );

  void test("the core's transitions are what the webview accepts (same shape, checked)", () => {
    // Compile-time: the analysis type is assignable to the message type.
    const asMessage: GuardPageTransition[] = transitions satisfies GuardTransition[];
    assert.deepEqual(asMessage, [
      { start: '0x9010000', pages: 1, from: 'lazy', to: 'guardMapped', region: 'pl031 rtc' },
    ]);
    assert.ok(isStopComparison({ since: 'at-fault.pvmfw-snapshot', transitions }));
  });

  void test('a malformed comparison is refused', () => {
    const t = transitions[0];
    for (const bad of [
      null,
      { since: 'a', transitions: 'x' },
      { since: 7, transitions: [] },
      { since: 'a', transitions: [{ ...t, start: 'nine' }] },
      { since: 'a', transitions: [{ ...t, from: 'exploded' }] },
      { since: 'a', transitions: [{ ...t, pages: -1 }] },
      { since: 'a', transitions: [{ ...t, region: { name: 1 } }] },
      { since: 'x'.repeat(5000), transitions: [] },
    ])
      assert.equal(isStopComparison(bad), false, JSON.stringify(bad));
  });

  void test("the grid marks the transitions' pages of each region, clipped to it", () => {
    const region = snapshotOf(rtc('guardMapped'));
    assert.deepEqual([...transitionIndexes(region, transitions)], [0]);
    const wide = [{ start: '0x900f000', pages: 3 }];
    assert.deepEqual([...transitionIndexes(region, wide)], [0, 1]);
    assert.deepEqual([...transitionIndexes(region, [{ start: '0x9020000', pages: 1 }])], []);
  });
});

void describe('messages from the webview are validated field by field', () => {
  const rendered = {
    type: 'rendered',
    stopId: 3,
    regions: 2,
    pages: 20,
    changedPages: 1,
    summary: '20 pages: untouched (lazy) 19 · guard-mapped 1',
    diffTitle: 'Since at-fault.pvmfw-snapshot (Compare Snapshots)',
    diffLines: ['0x09010000 (1 page, pl031 rtc): untouched (lazy) → guard-mapped'],
  };

  void test('good messages come back as they were, extra members dropped', () => {
    assert.deepEqual(parseWebviewToHost({ type: 'ready', junk: 1 }), { type: 'ready' });
    assert.deepEqual(parseWebviewToHost({ type: 'refresh' }), { type: 'refresh' });
    assert.deepEqual(parseWebviewToHost({ type: 'revealPage', address: '0x9010000' }), {
      type: 'revealPage',
      address: '0x9010000',
    });
    assert.deepEqual(parseWebviewToHost({ ...rendered, extra: 'x' }), rendered);
    const { diffTitle: _t, diffLines: _l, ...plain } = rendered;
    assert.deepEqual(parseWebviewToHost(plain), plain);
  });

  void test('anything else is refused', () => {
    for (const bad of [
      undefined,
      'ready',
      { type: 'focusPage', address: '0x1' },
      { type: 'revealPage', address: 'rm -rf' },
      { type: 'revealPage', address: '0x' + '1'.repeat(17) },
      { type: 'revealPage' },
      { ...rendered, stopId: '3' },
      { ...rendered, pages: -1 },
      { ...rendered, changedPages: 1.5 },
      { ...rendered, summary: 'x'.repeat(5000) },
      { ...rendered, diffTitle: 1 },
      { ...rendered, diffLines: 'one line' },
      { ...rendered, diffLines: [1] },
      { ...rendered, diffLines: Array(MAX_RENDERED_DIFF_LINES + 1).fill('x') },
    ])
      assert.equal(parseWebviewToHost(bad), undefined, JSON.stringify(bad)?.slice(0, 120));
  });
});

void describe('the views name the snapshot a stop is compared with', () => {
  const entry = rtcPte({ id: 'TTBR0_EL1/3/0x40224080', descriptor: '0x60000009010703', kind: 'page' });
  void test('entry tooltips say "since" the snapshot, else the previous stop', () => {
    assert.match(entryTooltip(entry, 'became valid'), /Changed since the previous stop: became valid/);
    assert.match(
      entryTooltip(entry, 'became valid', 'a.pvmfw-snapshot'),
      /Changed since a\.pvmfw-snapshot: became valid/,
    );
  });
});
