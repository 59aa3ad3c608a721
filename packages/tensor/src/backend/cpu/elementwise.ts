import type { CpuKernel } from '../backend.js';
import { sameShape, sizeOf } from '../../shape.js';
import * as reference from '../reference/elementwise.js';
import { simdArena } from './wasm/arena.js';

/** The exact GELU in one WebAssembly SIMD pass for float32; every other op the reference's. */
export const unary: CpuKernel<'unary'> = (op, x, size, dtype) => {
  const arena = op === 'gelu' && dtype === 'float32' ? simdArena() : null;
  return arena !== null ? arena.elementwise('geluForward', [x], size) : reference.unary(op, x, size, dtype);
};

/** The exact GELU's g·f′(x) in one WebAssembly SIMD pass for float32. */
export const unaryGrad: CpuKernel<'unaryGrad'> = (op, x, g, size, dtype) => {
  const arena = op === 'gelu' && dtype === 'float32' ? simdArena() : null;
  return arena !== null ? arena.elementwise('geluBackward', [x, g], size) : reference.unaryGrad(op, x, g, size, dtype);
};

/** A large float32 add of two tensors of one shape (residual connections) in WebAssembly SIMD. */
export const binary: CpuKernel<'binary'> = (op, a, aShape, b, bShape, outShape, dtype) => {
  const size = sizeOf(outShape);
  const arena = op === 'add' && dtype === 'float32' && size >= 4096 && sameShape(aShape, bShape) ? simdArena() : null;
  return arena !== null ? arena.elementwise('add', [a, b], size) : reference.binary(op, a, aShape, b, bShape, outShape, dtype);
};
