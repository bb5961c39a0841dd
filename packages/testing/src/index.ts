/**
 * @tessera/testing: the deterministic Raft simulation. Conformance suites and the linearizability
 * checker are on subpaths (`/log-store`, `/snapshot-store`, `/transport`, `/linearizability`, `/servers`).
 */
export * from './sim/index.js';
