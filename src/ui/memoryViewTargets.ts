// Where the Memory view opens from a page-table entry: "the page it maps" (its output address,
// physically; through stage 2 its final PA; else its input address virtually) and "the table it lives
// in" (the descriptor's table, physically, with the descriptor outlined). Pure: no `vscode`.

import { formatAddress, formatDescriptor } from '../shared/format';
import type { PteEntry } from '../shared/protocol';
import type { AddressSpace } from '../shared/memoryViewMessages';

export interface EntryMemoryTarget {
  space: AddressSpace;
  address: bigint;
  highlight?: { address: bigint; length: number };
  origin: string;
}

const DESCRIPTOR_BYTES = 8;

const name = (e: PteEntry): string => `${e.regime} L${e.level}[${e.index}]`;

/**
 * The memory an entry maps. A table entry maps its next-level table; a leaf its output page (for an
 * EL1&0 regime under stage 2 the output is an IPA: its final PA when stage 2 maps it). An entry with
 * no output address (invalid) opens at its input address in the stopped vCPU's regime, where the view
 * shows the translation fault, when that is a stage-1 EL1 regime; otherwise there is nothing to open.
 */
export function mappedPageTarget(e: PteEntry): EntryMemoryTarget | { error: string } {
  const out = e.outputIsIpa ? e.finalAddress : e.outputAddress;
  if (out !== undefined)
    return {
      space: 'physical',
      address: BigInt(out),
      origin: `${name(e)}: the ${e.kind === 'table' ? 'table' : e.kind} it maps`,
    };
  if (e.regime === 'TTBR0_EL1' || e.regime === 'TTBR1_EL1')
    return {
      space: 'virtual',
      address: BigInt(e.vaStart),
      origin: `${name(e)}: its input address (the entry maps no output address)`,
    };
  return {
    error: `${name(e)} maps no output address${e.outputIsIpa ? ' that stage 2 translates' : ''}, and its input address is not a virtual address of the stopped vCPU`,
  };
}

/**
 * The table holding the entry's descriptor, the descriptor outlined. Under an active stage 2 the walk
 * reads EL1&0's tables at IPAs: the table opens at the PA stage 2 maps the descriptor to.
 */
export function entryTableTarget(e: PteEntry): EntryMemoryTarget | { error: string } {
  const underStage2 = e.outputIsIpa === true || e.descriptorPa !== undefined;
  if (underStage2 && e.descriptorPa === undefined)
    return {
      error: `${name(e)}: stage 2 maps no PA for its table's IPA ${formatAddress(e.descriptorAddress)}`,
    };
  const descriptor = BigInt(e.descriptorPa ?? e.descriptorAddress);
  return {
    space: 'physical',
    address: descriptor - BigInt(e.index * DESCRIPTOR_BYTES),
    highlight: { address: descriptor, length: DESCRIPTOR_BYTES },
    origin: `${name(e)}: the table it lives in (descriptor ${formatDescriptor(e.descriptor)} outlined)`,
  };
}
