// VMSAv8-64 translation tables, pure (no I/O): descriptor parser, register decoders, the bounded
// batched walker, single-address translation, region coalescing, snapshots.
//
//   const regime = regimeFromRegisters('el1', { TTBR0_EL1, TCR_EL1, MAIR_EL1, SCTLR_EL1 });
//   const result = await walk(regime, reader);            // reader: PhysReader (batched)
//   const regions = coalesce(result.leaves);
//   const t = await translate(regime, reader, 0x9000000n); // per-level trace, PA or fault
export * from './granule';
export * from './descriptor';
export * from './mair';
export * from './sysregs';
export * from './esr';
export * from './regime';
export * from './leaf';
export * from './leafstore';
export * from './ipa';
export * from './reader';
export * from './walk';
export * from './translate';
export * from './twoStage';
export * from './combine';
export * from './vectors';
export * from './regions';
export * from './format';
