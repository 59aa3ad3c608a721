import type { DType, TypedArray } from '../../dtype.js';
import { allocate, release } from './pool.js';
import type { Backend } from '../backend.js';
import { attention, attentionBackward } from './attention.js';
import { binary, clamp, unary, unaryGrad, where } from './elementwise.js';
import { matmul } from './matmul.js';
import { concat, gather, scatterAdd, strided, stridedAdjoint } from './movement.js';
import { layerNorm, layerNormBackward, softmax, softmaxBackward } from './nn.js';
import { argReduce, reduce } from './reduce.js';

/**
 * The reference backend: storage is a typed array, every kernel is plain TypeScript (sums
 * in float64), no WebAssembly. It is the oracle the op suite compares every other backend
 * with, and the base the CPU backend (../cpu/) builds its SIMD kernels on.
 */
export const referenceBackend: Backend<TypedArray> = {
  name: 'reference',
  fromArray: (data) => data,
  toArray: (x) => x,
  release,
  fill(size, value, dtype) {
    const out = allocate(dtype, size);
    if (value !== 0) out.fill(value);
    return out;
  },
  cast(x, size, _from, to: DType) {
    const out = allocate(to, size);
    if (to === 'int32') for (let i = 0; i < size; i++) out[i] = Math.trunc(x[i]!);
    else out.set(x);
    return out;
  },
  unary,
  unaryGrad,
  binary,
  where,
  clamp,
  reduce,
  argReduce: (op, x, outer, n, inner) => argReduce(op, x, outer, n, inner),
  matmul,
  strided,
  stridedAdjoint,
  concat,
  gather,
  scatterAdd,
  softmax,
  softmaxBackward,
  layerNorm,
  layerNormBackward,
  attention,
  attentionBackward,
};
