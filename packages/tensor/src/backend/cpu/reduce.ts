import type { CpuKernel } from '../backend.js';
import * as reference from '../reference/reduce.js';
import { simdEngine } from './engine.js';

/** Column sums of a large float32 `[n, inner]` (a bias gradient) in WebAssembly SIMD, still in float64; the rest the reference's. */
export const reduce: CpuKernel<'reduce'> = (op, x, outer, n, inner, dtype) => {
  const engine = op === 'sum' && dtype === 'float32' && outer === 1 && inner % 4 === 0 && n * inner >= 4096 ? simdEngine() : null;
  if (engine !== null) {
    const io = engine.operands([[x, n * inner]], [], [2 * inner]);
    const OUT = io.scratch[0]!;
    engine.zeroF64(OUT, inner);
    engine.kernels.columnSums!(io.inputs[0]!, n, inner, OUT);
    return engine.takeF64(OUT, inner, 'float32');
  }
  return reference.reduce(op, x, outer, n, inner, dtype);
};
