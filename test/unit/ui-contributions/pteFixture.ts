// One Page Tables entry the UI tests share: the demo's pl031 RTC page, TTBR0_EL1 L3[16] at
// 0x40224080, lazy (the seed's encoding) until `over` says otherwise.
import type { PteEntry } from '../../../src/shared/protocol';

export function rtcPte(over: Partial<PteEntry> = {}): PteEntry {
  return {
    id: 'x',
    regime: 'TTBR0_EL1',
    level: 3,
    index: 16,
    descriptorAddress: '0x40224080',
    descriptor: '0xe0000009010402',
    kind: 'lazy',
    vaStart: '0x9010000',
    vaEnd: '0x9010fff',
    size: 4096,
    fields: [],
    ...over,
  };
}
