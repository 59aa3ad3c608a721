import { record } from '../autograd/engine.js';
import type { PublicUnaryOp } from './tables/unary.js';
import type { BinaryOp } from './tables/binary.js';
import { binary, lift, requireFloat, unary } from './primitive.js';
import { isFloat, promote, type DType } from '../dtype.js';
import { broadcastShapes } from '../shape.js';
import type { Tensor, TensorLike } from '../tensor.js';

// ---- unary: everything about each op is in ./tables/unary.ts ----

const unaryFn =
  (op: PublicUnaryOp) =>
  (x: Tensor): Tensor =>
    unary(op, x);

/** Every public op of the unary table as a function `op(x)` (the same as the method `x.op()`); index.ts checks that none is missing. */
export const neg = unaryFn('neg'),
  exp = unaryFn('exp'),
  log = unaryFn('log'),
  sqrt = unaryFn('sqrt'),
  abs = unaryFn('abs'),
  sign = unaryFn('sign');
export const tanh = unaryFn('tanh'),
  sigmoid = unaryFn('sigmoid'),
  relu = unaryFn('relu'),
  sin = unaryFn('sin'),
  cos = unaryFn('cos'),
  tan = unaryFn('tan');
export const asin = unaryFn('asin'),
  acos = unaryFn('acos'),
  atan = unaryFn('atan'),
  log1p = unaryFn('log1p'),
  expm1 = unaryFn('expm1');
export const reciprocal = unaryFn('reciprocal'),
  rsqrt = unaryFn('rsqrt'),
  square = unaryFn('square'),
  erf = unaryFn('erf');
export const floor = unaryFn('floor'),
  ceil = unaryFn('ceil'),
  round = unaryFn('round'),
  softplus = unaryFn('softplus'),
  silu = unaryFn('silu'),
  sinh = unaryFn('sinh'),
  cosh = unaryFn('cosh');

/** x·Φ(x) with the exact erf form, or PyTorch's tanh approximation with `'tanh'`. */
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => unary(approximate === 'tanh' ? 'geluTanh' : 'gelu', x);

/** x where x > 0, slope·x elsewhere (the gradient at 0 is `slope`, as PyTorch). */
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => where(x.gt(0), x, x.mul(slope));

/** x where x > 0, α(eˣ − 1) elsewhere. */
export const elu = (x: Tensor, alpha = 1): Tensor => where(x.gt(0), x, x.expm1().mul(alpha));

// ---- binary: everything about each op is in ./tables/binary.ts ----

const binaryFn =
  (op: BinaryOp) =>
  (a: TensorLike, b: TensorLike): Tensor =>
    binary(op, a, b);

/** Every op of the binary table as a function `op(a, b)` (the same as `a.op(b)`); comparisons return 0/1 in the inputs' dtype. */
export const add = binaryFn('add'),
  sub = binaryFn('sub'),
  mul = binaryFn('mul'),
  div = binaryFn('div'),
  pow = binaryFn('pow');
export const maximum = binaryFn('maximum'),
  minimum = binaryFn('minimum'),
  atan2 = binaryFn('atan2'),
  remainder = binaryFn('remainder');
export const eq = binaryFn('eq'),
  ne = binaryFn('ne'),
  gt = binaryFn('gt'),
  ge = binaryFn('ge'),
  lt = binaryFn('lt'),
  le = binaryFn('le');

/** `cond ? a : b` elementwise with broadcasting; cond is nonzero for true. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const like = typeof a !== 'number' ? a : typeof b !== 'number' ? b : cond;
  let ta = lift(a, like);
  let tb = lift(b, like);
  const dtype = promote(ta.dtype, tb.dtype);
  if (ta.dtype !== dtype) ta = ta.cast(dtype);
  if (tb.dtype !== dtype) tb = tb.cast(dtype);
  const shape = broadcastShapes('where', cond.shape, ta.shape, tb.shape);
  const be = cond.backend;
  const out = like.withStorage(be.where(cond.storage, cond.shape, ta.storage, ta.shape, tb.storage, tb.shape, shape, dtype), shape, dtype);
  // d where(c, a, b) = where(c, da, 0) + where(c, 0, db)
  return record(out, 'where', [ta, tb], (g, n) => [n[0] ? where(cond, g, 0) : null, n[1] ? where(cond, 0, g) : null]);
}

/**
 * Clamps into [min, max] (either bound may be null). The gradient passes where
 * min <= x <= max, bounds included (as PyTorch), and is 0 outside.
 */
export function clamp(x: Tensor, min: number | null, max: number | null = null): Tensor {
  requireFloat('clamp', x);
  const lo = min ?? -Infinity;
  const hi = max ?? Infinity;
  if (lo > hi) throw new Error(`clamp: min ${lo} is greater than max ${hi}`);
  const out = x.withStorage(x.backend.clamp(x.storage, x.size, lo, hi, x.dtype), x.shape, x.dtype);
  return record(out, 'clamp', [x], (g) => [g.mul(x.ge(lo).mul(x.le(hi)))]);
}

/** Converts to another dtype; the gradient is cast back. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const out = x.withStorage(x.backend.cast(x.storage, x.size, x.dtype, dtype), x.shape, dtype);
  if (!isFloat(dtype) || !isFloat(x.dtype)) return out;
  return record(out, 'cast', [x], (g) => [g.cast(x.dtype)]);
}

/** `value` where `mask` is nonzero, x elsewhere (PyTorch's masked_fill); no gradient flows to the filled entries. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, value, x);
}
