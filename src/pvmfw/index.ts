// pvmfw's lazy-MMIO / MMIO-guard semantics of the seed change, over the pure aarch64 engine:
// per-leaf lazy state, anomalies named after the seed's invariants, the guard-call log of the
// demo EL2 stub, and the fault verdict (what handle_mmio_fault will do).
export * from './flags';
export * from './guardlog';
export * from './classify';
export * from './verdict';
export * from './generation';
export * from './report';
