// Preloaded by the test runner: the kernels' fused multiply-add path, which users on Node 20
// opt into with `enableRelaxedSimd()` (the consumer matrix runs without it, in plain SIMD).
// The V8 flag is process-wide, so worker threads (whose preloads run this file too, without
// a TypeScript loader) have it already.
import { isMainThread } from 'node:worker_threads';

if (isMainThread) (await import('@ggem/tensor/node')).enableRelaxedSimd();
