// Stop events: the last one, listeners, and one-shot waiters with timeouts.
import { ConnectionClosedError, GdbTimeoutError } from './errors';
import type { StopEvent } from './types';

interface Waiter {
  readonly resolve: (e: StopEvent) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class StopTracker {
  /** The stop since the last resume, if any. */
  last?: StopEvent;
  private readonly listeners = new Set<(e: StopEvent) => void>();
  private readonly waiters = new Set<Waiter>();

  deliver(event: StopEvent): void {
    this.last = event;
    for (const w of [...this.waiters]) {
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve(event);
    }
    for (const l of [...this.listeners]) l(event);
  }

  listen(listener: (e: StopEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The next stop; `cancel` forgets the waiter (its promise then never settles and is dropped). */
  next(timeoutMs: number): { promise: Promise<StopEvent>; cancel: () => void } {
    let waiter: Waiter | undefined;
    const promise = new Promise<StopEvent>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (waiter) this.waiters.delete(waiter);
        reject(new GdbTimeoutError('wait for stop', timeoutMs));
      }, timeoutMs);
      waiter = { resolve, reject, timer };
      this.waiters.add(waiter);
    });
    return {
      promise,
      cancel: () => {
        if (!waiter) return;
        clearTimeout(waiter.timer);
        this.waiters.delete(waiter);
      },
    };
  }

  /** The connection is gone: every waiter fails. */
  closed(error?: Error): void {
    for (const w of [...this.waiters]) {
      clearTimeout(w.timer);
      w.reject(new ConnectionClosedError('closed while waiting for a stop', error));
    }
    this.waiters.clear();
  }
}
