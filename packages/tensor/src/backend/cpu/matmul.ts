import type { CpuKernel } from '../backend.js';
import { batchedMatmul, gemmReference } from '../reference/matmul.js';
import { simdGemm } from './engine.js';

/** float32 products on the WebAssembly SIMD gemm (on worker threads when large), float64 ones on the reference. */
export const matmul: CpuKernel<'matmul'> = (a, aShape, b, bShape, transA, transB, outShape, dtype, bias, residual) => {
  const gemm = dtype === 'float32' ? (simdGemm() ?? gemmReference) : gemmReference;
  return batchedMatmul(gemm, a, aShape, b, bShape, transA, transB, outShape, dtype, bias, residual);
};
