// The connect-time exchanges: qSupported parsing, the target description (qXfer with xi:include),
// and the pipelining self-test.
import { latin1Text } from './codec';
import { GdbProtocolError } from './errors';
import type { RspLink } from './link';
import { checkReply, issueWindowed } from './requests';
import { includesOf, parseTargetDescription } from './target-xml';
import type { RegisterMap } from './types';

type Request = (packet: string) => Promise<Uint8Array>;

/** `name=value`, `name+`, `name-` items of a qSupported reply. */
export function parseSupported(reply: string): Map<string, string | boolean> {
  const features = new Map<string, string | boolean>();
  for (const item of reply.split(';')) {
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq >= 0) features.set(item.slice(0, eq), item.slice(eq + 1));
    else if (item.endsWith('+')) features.set(item.slice(0, -1), true);
    else if (item.endsWith('-')) features.set(item.slice(0, -1), false);
    else features.set(item, true);
  }
  return features;
}

/** `qXfer:<object>:read:<annex>:offset,length` until the `l` (last) chunk. */
export async function readXfer(
  request: Request,
  packetSize: number,
  object: string,
  annex: string,
): Promise<string> {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const len = Math.max(64, packetSize - 5);
  for (;;) {
    const req = `qXfer:${object}:read:${annex}:${offset.toString(16)},${len.toString(16)}`;
    const reply = await request(req);
    checkReply(req, reply);
    const marker = reply[0];
    if (marker !== 0x6d /* m */ && marker !== 0x6c /* l */)
      throw new GdbProtocolError(`bad qXfer reply to ${req}`);
    const data = reply.subarray(1);
    chunks.push(data);
    offset += data.length;
    if (marker === 0x6c || data.length === 0) break;
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** target.xml and every document it includes, then the register map built from them. */
export async function readTargetDescription(request: Request, packetSize: number): Promise<RegisterMap> {
  const documents = new Map<string, string>();
  const queue = ['target.xml'];
  while (queue.length) {
    const annex = queue.shift() as string;
    if (documents.has(annex)) continue;
    const xml = await readXfer(request, packetSize, 'features', annex);
    documents.set(annex, xml);
    queue.push(...includesOf(xml));
  }
  return parseTargetDescription(documents);
}

/**
 * Sends a burst of cheap queries with distinct, deterministic replies back to back and compares them
 * with the same queries answered one by one: the stub must process pipelined packets in order and
 * drop none. Any mismatch or error means strict request/response from now on.
 */
export async function pipelineSelfTest(link: RspLink, request: Request, timeoutMs: number): Promise<boolean> {
  const probes = ['qAttached', 'vCont?', 'qC', 'qqemu.sstepbits', 'qfThreadInfo'];
  try {
    const strict: string[] = [];
    for (const p of probes) strict.push(latin1Text(await request(p)));
    if (new Set(strict).size < 3) return false; // too few distinct replies to prove ordering
    const burst = [...probes, ...probes.slice().reverse(), ...probes];
    const expected = [...strict, ...strict.slice().reverse(), ...strict];
    const got = await issueWindowed(link, burst, burst.length, timeoutMs, (r) => latin1Text(r));
    return got.every((g, i) => g === expected[i]);
  } catch {
    return false;
  }
}
