// The analysis core: the picture of one stop (regimes, walks, guard state, fault and verdict), its
// diff against the previous stop, and the questions asked of it. Pure: no DAP, no vscode, no sockets.
export * from './input';
export * from './picture';
export * from './queries';
export * from './guardState';
export * from './fault';
export * from './diff';
export * from './pte';
export * from './leaves';
export * from './snapshot';
export * from './program';
export { WalkReuse } from './walkReuse';
export * from './pteFields';
export * from './guardDiff';
export * from './stopDiff';
export * from './snapshotStop';
export * from './stopDiffText';
export * from './translation';
export * from './ownership';
