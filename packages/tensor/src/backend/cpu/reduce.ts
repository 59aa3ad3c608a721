import type { CpuKernel } from '../backend.js';
import * as reference from '../reference/reduce.js';
import { simdArena } from './wasm/arena.js';

/** Column sums of a large float32 `[n, inner]` (a bias gradient) in WebAssembly SIMD, still in float64; the rest the reference's. */
export const reduce: CpuKernel<'reduce'> = (op, x, outer, n, inner, dtype) => {
  const arena = op === 'sum' && dtype === 'float32' && outer === 1 && inner % 4 === 0 && n * inner >= 4096 ? simdArena() : null;
  if (arena !== null) {
    const [X, OUT] = arena.layout(n * inner, 2 * inner);
    arena.put(x as Float32Array, X!);
    arena.zeroF64(OUT!, inner);
    arena.kernels.columnSums!(X!, n, inner, OUT!);
    return arena.takeF64(OUT!, inner, 'float32');
  }
  return reference.reduce(op, x, outer, n, inner, dtype);
};
