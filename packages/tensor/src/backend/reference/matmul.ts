import type { CpuKernel } from '../backend.js';
import type { DType, TypedArray } from '../../dtype.js';
import { unary } from './elementwise.js';
import { allocate, release } from './pool.js';
import { broadcastStrides, sizeOf, type Shape } from '../../shape.js';

/**
 * One matrix product `C[M,N] = A[M,K] · B[K,N] (+ bias[N] on every row) (+ C, when
 * accumulating)` where A and B are read through strides (so transposes cost nothing) and C
 * is contiguous at `cOff`. Callers pass A and B dense, row-major or transposed (one stride
 * 1, the other the row length): the WebAssembly gemm copies them as such.
 */
export type Gemm = (
  m: number,
  n: number,
  k: number,
  a: TypedArray,
  aOff: number,
  aRow: number,
  aCol: number,
  b: TypedArray,
  bOff: number,
  bRow: number,
  bCol: number,
  c: TypedArray,
  cOff: number,
  bias: TypedArray | null,
  accumulate?: boolean,
  /** Then C = GELU(C), the exact GELU; only kernels that fuse it take it (see `withActivation`). */
  gelu?: boolean,
) => void;

/**
 * The reference kernel, in plain TypeScript: i-k-j order so the inner loop runs along rows
 * of B and C, accumulating each row of C in float64. The CPU backend's SIMD kernels are tested against it.
 */
export const gemmReference: Gemm = (m, n, k, a, aOff, aRow, aCol, b, bOff, bRow, bCol, c, cOff, bias, accumulate = false) => {
  const acc = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) acc[j] = (bias === null ? 0 : bias[j]!) + (accumulate ? c[cOff + i * n + j]! : 0);
    for (let p = 0; p < k; p++) {
      const av = a[aOff + i * aRow + p * aCol]!;
      if (av === 0) continue;
      const bo = bOff + p * bRow;
      for (let j = 0; j < n; j++) acc[j]! += av * b[bo + j * bCol]!;
    }
    for (let j = 0; j < n; j++) c[cOff + i * n + j] = acc[j]!;
  }
};

/**
 * Batched matmul with broadcast batch dims, a bias row added to every output row and a
 * residual of the output's shape added to it, when given; both operands have rank >= 2.
 */
export const matmul: CpuKernel<'matmul'> = (a, aShape, b, bShape, transA, transB, outShape, dtype, bias, residual, activation) =>
  withActivation(batchedMatmul(gemmReference, a, aShape, b, bShape, transA, transB, outShape, dtype, bias, residual), activation, dtype);

/** A product's result through its activation in a second pass (`unaryKernel`: the backend's), for kernels that do not fuse it. */
export function withActivation(out: TypedArray, activation: 'gelu' | null | undefined, dtype: DType, unaryKernel: CpuKernel<'unary'> = unary): TypedArray {
  if (!activation) return out;
  const y = unaryKernel(activation, out, out.length, dtype);
  release(out);
  return y;
}

/** The batched product through one `gemm` per matrix of the batch (the CPU backend passes its SIMD kernel). */
export function batchedMatmul(
  gemm: Gemm,
  a: TypedArray,
  aShape: Shape,
  b: TypedArray,
  bShape: Shape,
  transA: boolean,
  transB: boolean,
  outShape: Shape,
  dtype: DType,
  bias: TypedArray | null = null,
  residual: TypedArray | null = null,
): TypedArray {
  const r = outShape.length;
  const m = outShape[r - 2]!;
  const n = outShape[r - 1]!;
  const k = transA ? aShape[aShape.length - 2]! : aShape[aShape.length - 1]!;
  const out = allocate(dtype, sizeOf(outShape), false); // every entry is written
  if (residual !== null) out.set(residual.subarray(0, out.length));
  const batchShape = outShape.slice(0, -2);
  const batch = sizeOf(batchShape);
  const sa = broadcastStrides(aShape.slice(0, -2), batchShape);
  const sb = broadcastStrides(bShape.slice(0, -2), batchShape);
  const aMat = aShape[aShape.length - 1]! * aShape[aShape.length - 2]!;
  const bMat = bShape[bShape.length - 1]! * bShape[bShape.length - 2]!;
  // A is [M,K] (row stride K) or, transposed, stored [K,M] (row stride 1, col stride M)
  const [aRow, aCol] = transA ? [1, m] : [k, 1];
  const [bRow, bCol] = transB ? [1, k] : [n, 1];
  const idx = new Array<number>(batchShape.length).fill(0);
  for (let t = 0; t < batch; t++) {
    let ao = 0;
    let bo = 0;
    for (let d = 0; d < idx.length; d++) {
      ao += idx[d]! * sa[d]!;
      bo += idx[d]! * sb[d]!;
    }
    gemm(m, n, k, a, ao * aMat, aRow, aCol, b, bo * bMat, bRow, bCol, out, t * m * n, bias, residual !== null);
    for (let d = idx.length - 1; d >= 0; d--) {
      if (++idx[d]! < batchShape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
}
