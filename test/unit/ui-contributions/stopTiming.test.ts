// Where a stop's time goes (#14 item 16), its pure parts: the marks of one stop (the first counts),
// the line "Show Stop Latency" writes and reading it back, and the webview's timing messages checked
// field by field before the host uses them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTimingLine, StopTimings, timingLine } from '../../../src/ui/stopTiming';
import { parseWebviewToHost } from '../../../src/shared/webviewMessages';

void describe('stop latency marks', () => {
  void test('a stop collects the resume, stopped and mmuChanged marks of its session; the first mark counts', () => {
    const t = new StopTimings();
    t.resumed('a', 1000);
    t.resumed('a', 1004); // the `continued` event after the request: not a second resume
    t.resumed('b', 999);
    t.stopped('a', 1012);
    const r = t.mmuChanged('a', 7, 'step', 3.25);
    assert.equal(r.resumed, 1000);
    assert.equal(r.stopped, 1012);
    assert.ok(r.mmuChanged !== undefined && r.mmuChanged >= 1012);
    t.mark(r, 'guardPosted', 1020);
    t.mark(r, 'guardPosted', 1090);
    assert.equal(r.guardPosted, 1020);
    assert.equal(t.of('a', 7), r);
    assert.equal(t.of('b', 7), undefined);
    // The next stop of `a` starts from its own resume.
    t.resumed('a', 2000);
    assert.equal(t.mmuChanged('a', 8, 'step', undefined).resumed, 2000);
  });

  void test('only the last 50 stops are kept', () => {
    const t = new StopTimings();
    for (let k = 1; k <= 60; k++) t.mmuChanged('s', k, 'step', undefined);
    assert.equal(t.all.length, 50);
    assert.equal(t.of('s', 10), undefined);
    assert.equal(t.of('s', 60)?.stopId, 60);
  });

  void test('the line says each part in ms and reads back to the same figures', () => {
    const line = timingLine({
      session: 's',
      stopId: 12,
      reason: 'step',
      resumed: 1_700_000_000_000,
      stopped: 1_700_000_000_009,
      mmuChanged: 1_700_000_000_013,
      computeMs: 3.5,
      guardPosted: 1_700_000_000_014,
      viewReceived: 1_700_000_000_040,
      viewDrawn: 1_700_000_000_047,
      viewPainted: 1_700_000_000_055,
      treeRefreshed: 1_700_000_000_013,
      treeFetched: 1_700_000_000_030,
      treeRequests: 4,
    });
    assert.match(line, /^stop 12 \(step\) · resume→stopped 9 ms · adapter 4 ms \(MMU 3\.5 ms\) · host 1 ms/);
    assert.match(line, /MMIO Guard \+55 ms \(transit 26 ms, draw 7 ms, frame 8 ms\)/);
    assert.match(line, /Page Tables listings \+30 ms \(4 requests, 17 ms\)/);
    assert.deepEqual(parseTimingLine(line), {
      stop: 12,
      t0: 1_700_000_000_000,
      resumeToStopped: 9,
      adapter: 4,
      host: 1,
      transit: 26,
      draw: 7,
      frame: 8,
      listings: 30,
    });
  });

  void test('a stop not drawn yet says so with dashes; other lines are not timing lines', () => {
    const line = timingLine({ session: 's', stopId: 3, reason: 'entry', stopped: 5000, treeRequests: 0 });
    assert.match(line, /resume→stopped – · adapter – · host – · MMIO Guard – /);
    const back = parseTimingLine(line);
    assert.equal(back?.t0, 5000);
    assert.equal(back?.transit, undefined);
    assert.equal(parseTimingLine('translate 0x9010000 (TTBR0_EL1)'), undefined);
  });
});

void describe('the webview timing messages are checked field by field', () => {
  void test('painted: a stop number and a time', () => {
    assert.deepEqual(parseWebviewToHost({ type: 'painted', stopId: 4, at: 1_700_000_000_000.5, x: 1 }), {
      type: 'painted',
      stopId: 4,
      at: 1_700_000_000_000.5,
    });
    for (const at of [-1, 0, Infinity, NaN, '1700000000000', 1e16])
      assert.equal(parseWebviewToHost({ type: 'painted', stopId: 4, at }), undefined, String(at));
    assert.equal(parseWebviewToHost({ type: 'painted', stopId: -1, at: 1 }), undefined);
  });

  void test('rendered: received and drawn are optional times', () => {
    const base = { type: 'rendered', stopId: 2, regions: 1, pages: 16, changedPages: 0, summary: 's' };
    assert.deepEqual(parseWebviewToHost({ ...base, received: 10, drawn: 12 }), {
      ...base,
      received: 10,
      drawn: 12,
    });
    assert.deepEqual(parseWebviewToHost(base), base);
    assert.equal(parseWebviewToHost({ ...base, received: 'soon' }), undefined);
    assert.equal(parseWebviewToHost({ ...base, drawn: -5 }), undefined);
  });
});
