// The Debug Console's `mem ADDRESS` / `mem p:ADDRESS`: opens the extension's Memory view there. The
// adapter evaluates the address (symbols, registers, + and -) and sends the custom `openMemoryView`
// event; the extension opens the view, which reads through readMemory like any client. Only from the
// console: hovers and watches never open views.
import { Event } from '@vscode/debugadapter';
import type { DebugProtocol } from '@vscode/debugprotocol';
import { OPEN_MEMORY_EVENT, type OpenMemoryEventBody } from '../shared/memoryViewMessages';
import { memoryReference } from './memory';

export const MEM_USAGE = 'usage: mem ADDRESS (p:ADDRESS for physical), e.g. mem pt_root, mem p:0x40200000';

/** What `mem` needs of the session: a way to send the event. */
export interface MemoryViewHost {
  sendEvent(event: DebugProtocol.Event): void;
}

export function openMemoryView(
  host: MemoryViewHost,
  req: { physical: boolean; text: string },
  address: bigint,
  explicit: boolean,
  refusedFrom: string,
): { result: string; variablesReference: number; memoryReference: string } {
  if (!explicit) throw new Error(`mem opens a view only from the Debug Console; refused ${refusedFrom}`);
  const space = req.physical ? 'physical' : 'virtual';
  if (req.physical && address >= 1n << 52n)
    throw new Error(`p:0x${address.toString(16)} is not a physical address (at most 52 bits)`);
  const ref = memoryReference(space, address);
  const body: OpenMemoryEventBody = { memoryReference: ref, origin: `the Debug Console (mem ${req.text})` };
  host.sendEvent(new Event(OPEN_MEMORY_EVENT, body));
  return {
    result: `Memory view: ${ref} (${space}${req.physical ? '' : ', through the stopped vCPU’s regime'})`,
    variablesReference: 0,
    memoryReference: ref,
  };
}
