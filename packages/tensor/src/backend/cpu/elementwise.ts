import type { CpuKernel } from '../backend.js';
import { sameShape, sizeOf } from '../../shape.js';
import * as reference from '../reference/elementwise.js';
import { simdEngine } from './engine.js';

/**
 * The cost of a float in multiply-adds of the gemm's time (about 0.05 ns each on one core),
 * for the threading threshold: GELU's erfc and exp take about 2.2 ns a float forward (302K
 * floats in 0.66 ms) and 3.3 ns backward (0.98 ms); an add is a memory pass.
 */
const GELU_MACS = 44;
const GELU_GRAD_MACS = 66;
const ADD_MACS = 1;

/** The exact GELU in one WebAssembly SIMD pass for float32; every other op the reference's. */
export const unary: CpuKernel<'unary'> = (op, x, size, dtype) => {
  const engine = op === 'gelu' && dtype === 'float32' ? simdEngine() : null;
  return engine !== null ? engine.elementwise('geluForward', [x], size, GELU_MACS) : reference.unary(op, x, size, dtype);
};

/** The exact GELU's g·f′(x) in one WebAssembly SIMD pass for float32. */
export const unaryGrad: CpuKernel<'unaryGrad'> = (op, x, g, size, dtype) => {
  const engine = op === 'gelu' && dtype === 'float32' ? simdEngine() : null;
  return engine !== null ? engine.elementwise('geluBackward', [x, g], size, GELU_GRAD_MACS) : reference.unaryGrad(op, x, g, size, dtype);
};

/** A large float32 add of two tensors of one shape (residual connections) in WebAssembly SIMD. */
export const binary: CpuKernel<'binary'> = (op, a, aShape, b, bShape, outShape, dtype) => {
  const size = sizeOf(outShape);
  const engine = op === 'add' && dtype === 'float32' && size >= 4096 && sameShape(aShape, bShape) ? simdEngine() : null;
  return engine !== null ? engine.elementwise('add', [a, b], size, ADD_MACS) : reference.binary(op, a, aShape, b, bShape, outShape, dtype);
};
