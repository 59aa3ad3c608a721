import type { CpuKernel } from '../backend.js';
import { batchedMatmul, gemmReference, withActivation, type Gemm } from '../reference/matmul.js';
import { unary } from './elementwise.js';
import { simdGemm } from './engine.js';

/**
 * float32 products on the WebAssembly SIMD gemm (on worker threads when large), float64
 * ones on the reference. The SIMD gemm applies a GELU to its output in the engine's memory
 * before copying it out: the GELU pass's own kernel, so the same values without the pass.
 */
export const matmul: CpuKernel<'matmul'> = (a, aShape, b, bShape, transA, transB, outShape, dtype, bias, residual, activation) => {
  const simd = dtype === 'float32' ? simdGemm() : null;
  if (simd !== null && activation === 'gelu') {
    const fused: Gemm = (m, n, k, a, aOff, aRow, aCol, b, bOff, bRow, bCol, c, cOff, bias, accumulate) =>
      simd(m, n, k, a, aOff, aRow, aCol, b, bOff, bRow, bCol, c, cOff, bias, accumulate, true);
    return batchedMatmul(fused, a, aShape, b, bShape, transA, transB, outShape, dtype, bias, residual);
  }
  const out = batchedMatmul(simd ?? gemmReference, a, aShape, b, bShape, transA, transB, outShape, dtype, bias, residual);
  return withActivation(out, activation, dtype, unary);
};
