/**
 * The two kinds of elementwise primitive: a unary op of ./tables/unary.ts and a broadcasting
 * binary op of ./tables/binary.ts, each run on the tensor's backend with its gradient rule
 * recorded. The public functions (./elementwise.ts) and the Tensor methods call these.
 */
import { record } from '../autograd/engine.js';
import { binaryTable, type BinaryOp } from './tables/binary.js';
import { unaryTable, type UnaryOp } from './tables/unary.js';
import { isFloat, promote, type DType } from '../dtype.js';
import { broadcastShapes, fmt } from '../shape.js';
import type { Tensor, TensorLike } from '../tensor.js';

/** A number becomes a 0-d tensor of `like`'s dtype on `like`'s backend. */
export function lift(x: TensorLike, like: Tensor): Tensor {
  if (typeof x !== 'number') {
    if (x.backend !== like.backend) throw new Error(`tensors on different backends (${x.backend.name} and ${like.backend.name}); move one first`);
    return x;
  }
  const dtype = like.dtype === 'int32' && !Number.isInteger(x) ? 'float32' : like.dtype;
  return like.withStorage(like.backend.fill(1, x, dtype), [], dtype);
}

export function requireFloat(op: string, t: Tensor): void {
  if (!isFloat(t.dtype)) throw new Error(`${op}: expected a float32 or float64 tensor, got ${t.dtype} of shape ${fmt(t.shape)}`);
}

function unaryRaw(op: UnaryOp, x: Tensor): Tensor {
  return x.withStorage(x.backend.unary(op, x.storage, x.size, x.dtype), x.shape, x.dtype);
}

/** Applies a unary primitive of the table and records its gradient rule. */
export function unary(op: UnaryOp, x: Tensor): Tensor {
  requireFloat(op, x);
  const y = unaryRaw(op, x);
  const rule = unaryTable[op].grad;
  if (rule === 'zero') return record(y, op, [x], () => [x.zerosLike()]); // piecewise constant
  // g·f′(x) in one kernel (backward passes are not recorded: no gradients of gradients)
  if (rule === 'pointwise') return record(y, op, [x], (g) => [x.withStorage(x.backend.unaryGrad(op, x.storage, g.storage, x.size, x.dtype), x.shape, x.dtype)]);
  return record(y, op, [x], (g) => [rule(x, y, g)]);
}

/** Applies a binary primitive of the table with broadcasting and type promotion, and records its gradient rule. */
export function binary(op: BinaryOp, x: TensorLike, y: TensorLike): Tensor {
  const like = typeof x !== 'number' ? x : (y as Tensor);
  let a = lift(x, like);
  let b = lift(y, like);
  const dtype: DType = promote(a.dtype, b.dtype);
  if (a.dtype !== dtype) a = a.cast(dtype);
  if (b.dtype !== dtype) b = b.cast(dtype);
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = a.withStorage(a.backend.binary(op, a.storage, a.shape, b.storage, b.shape, shape, dtype), shape, dtype);
  const rule = binaryTable[op].grad;
  if (rule === null) return out;
  if (!isFloat(dtype)) throw new Error(`${op}: expected float tensors, got ${dtype}`);
  return record(out, op, [a, b], (g, needs) => rule(a, b, out, g, needs));
}

/** A constant tensor of `values` on `like`'s backend (in `like`'s dtype unless given): masks, index maps, triangles. */
export function constant(like: Tensor, values: ArrayLike<number>, shape: readonly number[], dtype: DType = like.dtype): Tensor {
  const data = dtype === 'float64' ? Float64Array.from(values) : dtype === 'int32' ? Int32Array.from(values) : Float32Array.from(values);
  return like.withStorage(like.backend.fromArray(data), shape, dtype);
}
