// Where the time of a stop goes, from the resume request (F10) to both views drawn: the adapter's
// part (stepping the target, the MMU analysis), the extension host's (the guard state posted, the
// tree's listings fetched) and the webview's (message transit, draw, next frame). A few Date.now()
// per stop, always on; "pvmfw MMU: Show Stop Latency" writes the last stops out. One clock: the
// extension host, the adapter (inline) and the webview run on one machine and read the same wall
// clock, so a test in the browser can set its key press against these marks.

/** Epoch milliseconds of each step of one stop (absent: not reached, or not applicable). */
export interface StopMarks {
  /** The resume request (next, stepIn, continue, ...) reached the adapter. */
  resumed?: number;
  /** The adapter sent DAP `stopped`. */
  stopped?: number;
  /** The adapter sent `mmuChanged` (the stop's MMU analysis done). */
  mmuChanged?: number;
  /** The guard state of this stop was posted to the MMIO Guard webview. */
  guardPosted?: number;
  /** The webview received it, drew it, and the next animation frame ran (webview clock). */
  viewReceived?: number;
  viewDrawn?: number;
  viewPainted?: number;
  /** The tree was told to refresh, and its last listing of this stop was answered. */
  treeRefreshed?: number;
  treeFetched?: number;
}

export interface StopTiming extends StopMarks {
  session: string;
  stopId: number;
  reason: string;
  /** The adapter's own measure of the stop's MMU analysis (`mmuChanged.computeMs`). */
  computeMs?: number;
  /** Listings the tree asked the adapter for at this stop. */
  treeRequests: number;
}

const KEEP = 50;

const span = (a: number | undefined, b: number | undefined): string =>
  a !== undefined && b !== undefined ? `${b - a} ms` : '–';

/** One stop's breakdown, as "Show Stop Latency" writes it (and the UI test reads it). */
export function timingLine(t: StopTiming): string {
  const t0 = t.resumed ?? t.stopped;
  const at = (x: number | undefined): string => (t0 !== undefined && x !== undefined ? `+${x - t0} ms` : '–');
  return [
    `stop ${t.stopId} (${t.reason})`,
    `resume→stopped ${span(t.resumed, t.stopped)}`,
    `adapter ${span(t.stopped, t.mmuChanged)}` +
      (t.computeMs !== undefined ? ` (MMU ${t.computeMs} ms)` : ''),
    `host ${span(t.mmuChanged, t.guardPosted)}`,
    `MMIO Guard ${at(t.viewPainted ?? t.viewDrawn)} (transit ${span(t.guardPosted, t.viewReceived)}, ` +
      `draw ${span(t.viewReceived, t.viewDrawn)}, frame ${span(t.viewDrawn, t.viewPainted)})`,
    `Page Tables listings ${at(t.treeFetched)} (${t.treeRequests} requests, ${span(t.treeRefreshed, t.treeFetched)})`,
    `t0 ${t0 ?? '–'}`,
  ].join(' · ');
}

/** One stop's breakdown read back from its timingLine (the UI test joins it with its key presses). */
export interface HostBreakdown {
  stop: number;
  t0: number;
  resumeToStopped?: number;
  adapter?: number;
  host?: number;
  transit?: number;
  draw?: number;
  frame?: number;
  /** ms from t0 to the tree's last listing of the stop. */
  listings?: number;
}

/** The inverse of timingLine, for the figures it wrote; undefined for any other line. */
export function parseTimingLine(line: string): HostBreakdown | undefined {
  const stop = /stop (\d+) \(/.exec(line)?.[1];
  const t0 = /t0 (\d+)/.exec(line)?.[1];
  if (!stop || !t0) return undefined;
  const ms = (re: RegExp): number | undefined => {
    const m = re.exec(line)?.[1];
    return m === undefined ? undefined : Number(m);
  };
  return {
    stop: Number(stop),
    t0: Number(t0),
    resumeToStopped: ms(/resume→stopped (\d+) ms/),
    adapter: ms(/adapter (\d+) ms/),
    host: ms(/host (\d+) ms/),
    transit: ms(/transit (\d+) ms/),
    draw: ms(/draw (\d+) ms/),
    frame: ms(/frame (\d+) ms/),
    listings: ms(/Page Tables listings \+(\d+) ms/),
  };
}

/** The last stops' marks, per session; the current stop is the last one. */
export class StopTimings {
  private readonly stops: StopTiming[] = [];
  /** Resume requests seen before their stop, per session id. */
  private readonly resumes = new Map<string, number>();
  private readonly stoppedAt = new Map<string, number>();

  /** The first resume since the last stop counts (the request; its `continued` event comes later). */
  resumed(session: string, at = Date.now()): void {
    if (!this.resumes.has(session)) this.resumes.set(session, at);
  }

  stopped(session: string, at = Date.now()): void {
    this.stoppedAt.set(session, at);
  }

  /** A stop's `mmuChanged`: opens its record with the marks seen so far. */
  mmuChanged(session: string, stopId: number, reason: string, computeMs: number | undefined): StopTiming {
    const t: StopTiming = {
      session,
      stopId,
      reason,
      resumed: this.resumes.get(session),
      stopped: this.stoppedAt.get(session),
      mmuChanged: Date.now(),
      treeRequests: 0,
      ...(computeMs !== undefined ? { computeMs } : {}),
    };
    this.resumes.delete(session);
    this.stoppedAt.delete(session);
    this.stops.push(t);
    if (this.stops.length > KEEP) this.stops.shift();
    return t;
  }

  /** The record of a session's stop, if still kept. */
  of(session: string, stopId: number): StopTiming | undefined {
    for (let k = this.stops.length - 1; k >= 0; k--) {
      const t = this.stops[k];
      if (t.session === session && t.stopId === stopId) return t;
    }
    return undefined;
  }

  /** Sets a mark once (the first time counts: a later redraw of the same stop is not its latency). */
  mark(t: StopTiming | undefined, what: keyof StopMarks, at = Date.now()): void {
    if (t && t[what] === undefined) t[what] = at;
  }

  get all(): readonly StopTiming[] {
    return this.stops;
  }
}
