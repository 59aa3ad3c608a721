import { record } from '../autograd/engine.js';
import type { BinaryOp, UnaryGradOp, UnaryOp } from '../backend/backend.js';
import { isFloat, promote, type DType } from '../dtype.js';
import { broadcastShapes, fmt } from '../shape.js';
import { Tensor, type TensorLike } from '../tensor.js';

/** A number becomes a 0-d tensor of `like`'s dtype on `like`'s backend. */
export function lift(x: TensorLike, like: Tensor): Tensor {
  if (x instanceof Tensor) {
    if (x.backend !== like.backend) throw new Error(`tensors on different backends (${x.backend.name} and ${like.backend.name}); move one first`);
    return x;
  }
  const dtype = like.dtype === 'int32' && !Number.isInteger(x) ? 'float32' : like.dtype;
  return new Tensor(like.backend.fill(1, x, dtype), [], dtype, like.backend);
}

function requireFloat(op: string, t: Tensor): void {
  if (!isFloat(t.dtype)) throw new Error(`${op}: expected a float32 or float64 tensor, got ${t.dtype} of shape ${fmt(t.shape)}`);
}

// ---- unary ----

type UnaryRule = (x: Tensor, y: Tensor, g: Tensor) => Tensor;

/** One derivative rule per unary primitive; a missing rule is a compile error. */
const unaryRules: { [K in UnaryOp]: UnaryRule | null } = {
  neg: (_x, _y, g) => g.neg(), //                          d(−x) = −dx
  exp: (_x, y, g) => g.mul(y), //                          d eˣ = eˣ dx
  log: (x, _y, g) => g.div(x), //                          d ln x = dx / x
  sqrt: (_x, y, g) => g.div(y.mul(2)), //                  d √x = dx / (2√x)
  abs: (x, _y, g) => g.mul(unaryRaw('sign', x)), //        d|x| = sign(x) dx (0 at 0)
  sign: (x) => x.zerosLike(), //                           piecewise constant
  tanh: (_x, y, g) => g.mul(y.mul(y).neg().add(1)), //     d tanh = (1 − tanh²) dx
  sigmoid: (_x, y, g) => g.mul(y.mul(y.neg().add(1))), //  dσ = σ(1 − σ) dx
  relu: (x, _y, g) => g.mul(unaryRaw('step', x)), //       relu'(x) = [x > 0]; relu'(0) = 0
  step: (x) => x.zerosLike(), //                           piecewise constant
  gelu: (x, _y, g) => unaryGrad('gelu', x, g), //          d(xΦ(x)) = Φ(x) + xφ(x)
  geluTanh: (x, _y, g) => unaryGrad('geluTanh', x, g),
};

function unaryRaw(op: UnaryOp, x: Tensor): Tensor {
  return new Tensor(x.backend.unary(op, x.storage, x.size, x.dtype), x.shape, x.dtype, x.backend);
}

/** g·f′(x) in one kernel (backward passes are not recorded: no gradients of gradients). */
function unaryGrad(op: UnaryGradOp, x: Tensor, g: Tensor): Tensor {
  return new Tensor(x.backend.unaryGrad(op, x.storage, g.storage, x.size, x.dtype), x.shape, x.dtype, x.backend);
}

function unary(op: UnaryOp, x: Tensor): Tensor {
  requireFloat(op, x);
  const y = unaryRaw(op, x);
  const rule = unaryRules[op];
  if (rule === null) return y;
  return record(y, op, [x], (g) => [rule(x, y, g)]);
}

export const neg = (x: Tensor): Tensor => unary('neg', x);
export const exp = (x: Tensor): Tensor => unary('exp', x);
export const log = (x: Tensor): Tensor => unary('log', x);
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
export const abs = (x: Tensor): Tensor => unary('abs', x);
export const sign = (x: Tensor): Tensor => unary('sign', x);
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
/** max(x, 0); its gradient at exactly 0 is 0 (as PyTorch). */
export const relu = (x: Tensor): Tensor => unary('relu', x);
/** x·Φ(x) with the exact erf form, or PyTorch's tanh approximation with `'tanh'`. */
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor => unary(approximate === 'tanh' ? 'geluTanh' : 'gelu', x);

// ---- binary ----

type BinaryRule = (a: Tensor, b: Tensor, y: Tensor, g: Tensor, needs: readonly boolean[]) => [Tensor | null, Tensor | null];

/** Gradients in the broadcast output shape; the engine sums them back to each input's shape. */
const binaryRules: { [K in BinaryOp]: BinaryRule | null } = {
  add: (_a, _b, _y, g) => [g, g], //                       d(a + b) = da + db
  sub: (_a, _b, _y, g) => [g, g.neg()], //                 d(a − b) = da − db
  mul: (a, b, _y, g, n) => [n[0] ? g.mul(b) : null, n[1] ? g.mul(a) : null], // d(ab) = b da + a db
  div: (_a, b, y, g, n) => [n[0] ? g.div(b) : null, n[1] ? g.mul(y).div(b).neg() : null], // d(a/b) = da/b − (a/b²) db
  // d aᵇ = b·aᵇ⁻¹ da + aᵇ·ln a db; the base's gradient is 0 where b = 0 (a⁰ is constant, also at
  // a = 0, where b·aᵇ⁻¹ would be 0·∞), the exponent's 0 where a <= 0 (ln undefined); as PyTorch
  pow: (a, b, y, g, n) => [
    n[0] ? g.mul(where(b.eq(0), 0, b.mul(a.pow(b.sub(1))))) : null,
    n[1] ? g.mul(y).mul(where(a.gt(0), a.log(), 0)) : null,
  ],
  // ties split the gradient evenly between both inputs (as PyTorch)
  maximum: (a, b, _y, g) => tieSplit(a.gt(b), a.eq(b), g),
  minimum: (a, b, _y, g) => tieSplit(a.lt(b), a.eq(b), g),
  eq: null,
  gt: null,
  ge: null,
  lt: null,
  le: null,
};

function tieSplit(wins: Tensor, ties: Tensor, g: Tensor): [Tensor, Tensor] {
  const share = wins.add(ties.mul(0.5));
  const ga = g.mul(share);
  return [ga, g.sub(ga)];
}

function binary(op: BinaryOp, x: TensorLike, y: TensorLike): Tensor {
  const like = x instanceof Tensor ? x : (y as Tensor);
  let a = lift(x, like);
  let b = lift(y, like);
  const dtype: DType = promote(a.dtype, b.dtype);
  if (a.dtype !== dtype) a = a.cast(dtype);
  if (b.dtype !== dtype) b = b.cast(dtype);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = new Tensor(a.backend.binary(op, a.storage, a.shape, b.storage, b.shape, shape, dtype), shape, dtype, a.backend);
  const rule = binaryRules[op];
  if (rule === null) return out;
  if (!isFloat(dtype)) throw new Error(`${op}: expected float tensors, got ${dtype}`);
  return record(out, op, [a, b], (g, needs) => rule(a, b, out, g, needs));
}

export const add = (a: TensorLike, b: TensorLike): Tensor => binary('add', a, b);
export const sub = (a: TensorLike, b: TensorLike): Tensor => binary('sub', a, b);
export const mul = (a: TensorLike, b: TensorLike): Tensor => binary('mul', a, b);
export const div = (a: TensorLike, b: TensorLike): Tensor => binary('div', a, b);
/** aᵇ with a scalar or tensor exponent. */
export const pow = (a: TensorLike, b: TensorLike): Tensor => binary('pow', a, b);
/** Elementwise max; at ties each input gets half the gradient. */
export const maximum = (a: TensorLike, b: TensorLike): Tensor => binary('maximum', a, b);
/** Elementwise min; at ties each input gets half the gradient. */
export const minimum = (a: TensorLike, b: TensorLike): Tensor => binary('minimum', a, b);
/** Comparisons return 0/1 in the inputs' dtype and are not differentiable. */
export const eq = (a: TensorLike, b: TensorLike): Tensor => binary('eq', a, b);
export const gt = (a: TensorLike, b: TensorLike): Tensor => binary('gt', a, b);
export const ge = (a: TensorLike, b: TensorLike): Tensor => binary('ge', a, b);
export const lt = (a: TensorLike, b: TensorLike): Tensor => binary('lt', a, b);
export const le = (a: TensorLike, b: TensorLike): Tensor => binary('le', a, b);

/** `cond ? a : b` elementwise with broadcasting; cond is nonzero for true. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const like = a instanceof Tensor ? a : b instanceof Tensor ? b : cond;
  let ta = lift(a, like);
  let tb = lift(b, like);
  const dtype = promote(ta.dtype, tb.dtype);
  if (ta.dtype !== dtype) ta = ta.cast(dtype);
  if (tb.dtype !== dtype) tb = tb.cast(dtype);
  const shape = broadcastShapes('where', cond.shape, ta.shape, tb.shape);
  const be = cond.backend;
  const out = new Tensor(be.where(cond.storage, cond.shape, ta.storage, ta.shape, tb.storage, tb.shape, shape, dtype), shape, dtype, be);
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
  const out = new Tensor(x.backend.clamp(x.storage, x.size, lo, hi, x.dtype), x.shape, x.dtype, x.backend);
  return record(out, 'clamp', [x], (g) => [g.mul(x.ge(lo).mul(x.le(hi)))]);
}

/** Converts to another dtype; the gradient is cast back. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const out = new Tensor(x.backend.cast(x.storage, x.size, x.dtype, dtype), x.shape, dtype, x.backend);
  if (!isFloat(dtype) || !isFloat(x.dtype)) return out;
  return record(out, 'cast', [x], (g) => [g.cast(x.dtype)]);
}
