/**
 * @ggem/tensor/node: what only Node can do. Data parallelism over worker threads: a replica
 * of the model per thread, parameters in shared memory, one batch split across them.
 */
export { DataParallel, type DataParallelOptions } from './parallel/data-parallel.js';
export type { Replica, ReplicaFactory } from './parallel/protocol.js';
export { enableRelaxedSimd } from './backend/cpu/wasm/relaxed-simd.js';
