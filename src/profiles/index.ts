export * from './types';
export * from './linux';
export * from './pkvm';
export * from './pvmfw';
export * from './choose';
export * from './entry';
