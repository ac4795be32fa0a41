// Stop replies (`S`, `T`, `W`, `X`) and thread ids (`pPID.TID` in multiprocess form, hex).
import { GdbProtocolError } from './errors';
import type { StopEvent, ThreadId } from './types';

export function parseThreadId(text: string): ThreadId {
  if (text.startsWith('p')) {
    const [pid, tid] = text.slice(1).split('.');
    return { pid: parseHexId(pid), tid: tid === undefined ? -1 : parseHexId(tid) };
  }
  return { tid: parseHexId(text) };
}

function parseHexId(s: string): number {
  if (s === '-1') return -1;
  const n = parseInt(s, 16);
  if (!/^[0-9a-fA-F]+$/.test(s) || Number.isNaN(n)) throw new GdbProtocolError(`bad thread id '${s}'`);
  return n;
}

export function formatThreadId(t: ThreadId, multiprocess: boolean): string {
  const hex = (n: number) => (n < 0 ? '-1' : n.toString(16));
  return multiprocess && t.pid !== undefined ? `p${hex(t.pid)}.${hex(t.tid)}` : hex(t.tid);
}

export function sameThread(a: ThreadId, b: ThreadId): boolean {
  return a.tid === b.tid && (a.pid === undefined || b.pid === undefined || a.pid === b.pid);
}

export function isStopReply(text: string): boolean {
  return /^(S[0-9a-fA-F]{2}|T[0-9a-fA-F]{2}|W[0-9a-fA-F]+|X[0-9a-fA-F]+)/.test(text);
}

function hexBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * 2, 2), 16);
  return out;
}

function pidOf(rest: string): number | undefined {
  const m = /;process:([0-9a-fA-F]+)/.exec(rest);
  return m ? parseInt(m[1], 16) : undefined;
}

export function parseStopReply(text: string): StopEvent {
  const kind = text[0];
  if (kind === 'W' || kind === 'X') {
    const semi = text.indexOf(';');
    const num = parseInt(text.slice(1, semi < 0 ? undefined : semi), 16);
    const pid = pidOf(semi < 0 ? '' : text.slice(semi));
    if (kind === 'W') return { kind: 'exited', code: num, raw: text, ...(pid !== undefined ? { pid } : {}) };
    return { kind: 'terminated', signal: num, raw: text, ...(pid !== undefined ? { pid } : {}) };
  }
  if (kind !== 'S' && kind !== 'T') throw new GdbProtocolError(`not a stop reply: '${text.slice(0, 40)}'`);
  const signal = parseInt(text.slice(1, 3), 16);
  if (Number.isNaN(signal)) throw new GdbProtocolError(`bad stop reply signal: '${text.slice(0, 40)}'`);
  const pairs = new Map<string, string>();
  const registers = new Map<number, Uint8Array>();
  let thread: ThreadId | undefined;
  let watchpoint: { type: 'watch' | 'rwatch' | 'awatch'; address: bigint } | undefined;
  let swbreak = false;
  let hwbreak = false;
  if (kind === 'T') {
    for (const part of text.slice(3).split(';')) {
      if (!part) continue;
      const colon = part.indexOf(':');
      const key = colon < 0 ? part : part.slice(0, colon);
      const value = colon < 0 ? '' : part.slice(colon + 1);
      pairs.set(key, value);
      if (key === 'thread') thread = parseThreadId(value);
      else if (key === 'watch' || key === 'rwatch' || key === 'awatch')
        watchpoint = { type: key, address: BigInt(`0x${value || '0'}`) };
      else if (key === 'swbreak') swbreak = true;
      else if (key === 'hwbreak') hwbreak = true;
      else if (/^[0-9a-fA-F]+$/.test(key)) registers.set(parseInt(key, 16), hexBytes(value));
    }
  }
  return {
    kind: 'signal',
    signal,
    registers,
    pairs,
    raw: text,
    ...(thread ? { thread } : {}),
    ...(watchpoint ? { watchpoint } : {}),
    ...(swbreak ? { swbreak } : {}),
    ...(hwbreak ? { hwbreak } : {}),
  };
}
