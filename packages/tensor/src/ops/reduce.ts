import { record } from '../autograd/engine.js';
import type { ReduceOp } from '../backend/backend.js';
import { broadcastShapes, fmt, normAxes, normAxis, sameShape, sizeOf, type Shape } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { constant } from './primitive.js';

/**
 * Reduces `axes` keeping them as size-1 dims. Runs of adjacent axes are merged into one
 * pass over `[outer, n, inner]`, so a full sum is one float64-accumulated pass.
 */
function reduceKeep(op: ReduceOp, x: Tensor, axes: readonly number[]): Tensor {
  let storage = x.storage;
  const shape = [...x.shape];
  let i = 0;
  while (i < axes.length) {
    let j = i;
    while (j + 1 < axes.length && axes[j + 1] === axes[j]! + 1) j++;
    const first = axes[i]!;
    const last = axes[j]!;
    const outer = sizeOf(shape.slice(0, first));
    const n = sizeOf(shape.slice(first, last + 1));
    const inner = sizeOf(shape.slice(last + 1));
    storage = x.backend.reduce(op, storage, outer, n, inner, x.dtype);
    for (let k = first; k <= last; k++) shape[k] = 1;
    i = j + 1;
  }
  return x.withStorage(storage, shape, x.dtype);
}

function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function finish(y: Tensor, x: Tensor, axes: readonly number[], keepdim: boolean): Tensor {
  return keepdim ? y : y.reshape(x.shape.filter((_, i) => !axes.includes(i)));
}

/** Σ over `axes` (all when omitted). */
export function sum(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes('sum', axes, x.rank);
  const y = record(reduceKeep('sum', x, ax), 'sum', [x], (g) => [g.expand(x.shape)]); // d Σx = broadcast of the gradient
  return finish(y, x, ax, keepdim);
}

/** Arithmetic mean over `axes` (all when omitted). */
export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes('mean', axes, x.rank);
  const n = ax.reduce((p, a) => p * x.shape[a]!, 1);
  return sum(x, ax, keepdim).div(n);
}

/**
 * Max over `axes`. The gradient is split evenly among tied maxima (as `torch.amax`), so a
 * column of k equal maxima gives each 1/k.
 */
export function max(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  return extremum('max', x, axes, keepdim);
}

/** Min over `axes`; ties split the gradient evenly, as for `max`. */
export function min(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  return extremum('min', x, axes, keepdim);
}

function extremum(op: 'max' | 'min', x: Tensor, axes: number | readonly number[] | undefined, keepdim: boolean): Tensor {
  const ax = normAxes(op, axes, x.rank);
  if (x.size === 0) throw new Error(`${op}: cannot reduce an empty tensor of shape ${fmt(x.shape)}`);
  const yk = reduceKeep(op, x, ax);
  const y = record(yk, op, [x], (g) => {
    const mask = x.eq(yk);
    return [mask.mul(g).div(reduceKeep('sum', mask, ax))];
  });
  return finish(y, x, ax, keepdim);
}

/** Index of the first maximum along `axis` (over the flattened tensor when omitted), as int32. */
export function argmax(x: Tensor, axis?: number, keepdim = false): Tensor {
  return argReduce('argmax', x, axis, keepdim);
}

export function argmin(x: Tensor, axis?: number, keepdim = false): Tensor {
  return argReduce('argmin', x, axis, keepdim);
}

function argReduce(op: 'argmax' | 'argmin', x: Tensor, axis: number | undefined, keepdim: boolean): Tensor {
  if (axis === undefined) return argReduce(op, x.reshape([x.size]), 0, false);
  const a = normAxis(op, axis, x.rank);
  const outer = sizeOf(x.shape.slice(0, a));
  const n = x.shape[a]!;
  const inner = sizeOf(x.shape.slice(a + 1));
  const out = x.withStorage(x.backend.argReduce(op, x.storage, outer, n, inner, x.dtype), keptShape(x.shape, [a]), 'int32');
  return finish(out, x, [a], keepdim);
}

/** Sums a broadcast gradient back to `shape`, a shape that broadcasts to g's (the engine unbroadcasts with it, in one place). */
export function sumToSize(g: Tensor, shape: Shape): Tensor {
  if (!sameShape(broadcastShapes('sumToSize', shape, g.shape), g.shape)) throw new Error(`sumToSize: ${fmt(shape)} does not broadcast to ${fmt(g.shape)}`);
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const kept = axes.length === 0 ? g : sum(g, axes, true);
  return kept.reshape(shape);
}

/**
 * Variance over `axes` with Bessel's correction by default (`correction` 1, as PyTorch's
 * `var`; 0 gives the biased variance): Σ (x − mean)² / (n − correction).
 */
export function variance(
  x: Tensor,
  axes?: number | readonly number[],
  { correction = 1, keepdim = false }: { correction?: number; keepdim?: boolean } = {},
): Tensor {
  const ax = normAxes('variance', axes, x.rank);
  const n = ax.reduce((p, a) => p * x.shape[a]!, 1);
  return x
    .sub(x.mean(ax, true))
    .square()
    .sum(ax, keepdim)
    .div(n - correction);
}

/** Standard deviation: the square root of `variance` (the same options). */
export function std(x: Tensor, axes?: number | readonly number[], options: { correction?: number; keepdim?: boolean } = {}): Tensor {
  return variance(x, axes, options).sqrt();
}

/** ln Σ eˣ over `axes`, without overflow: m + ln Σ e^(x − m) with m the max (a constant shift). */
export function logsumexp(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes('logsumexp', axes, x.rank);
  const m = x.max(ax, true).detach();
  const y = x.sub(m).exp().sum(ax, true).log().add(m);
  return finish(y, x, ax, keepdim);
}

/**
 * The product along `axis` (over every element when omitted), as a product of slices, so
 * that the gradient is exact with zeros present (∂/∂x_i = Π_{j≠i} x_j).
 */
export function prod(x: Tensor, axis?: number, keepdim = false): Tensor {
  if (axis === undefined) return prod(x.reshape([x.size]), 0, false);
  const a = normAxis('prod', axis, x.rank);
  const n = x.shape[a]!;
  if (n === 0) return x.sum(a, keepdim).add(1);
  let p = x.narrow(a, 0, 1);
  for (let i = 1; i < n; i++) p = p.mul(x.narrow(a, i, 1));
  return keepdim ? p : p.squeeze(a);
}

/** Running sums along `axis`: out[..., i, ...] = Σ_{j<=i} x[..., j, ...] (a product with a triangle of ones; its gradient is the reversed cumsum). */
export function cumsum(x: Tensor, axis: number): Tensor {
  const a = normAxis('cumsum', axis, x.rank);
  const n = x.shape[a]!;
  const ones = new Array<number>(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) ones[i * n + j] = i <= j ? 1 : 0;
  const moved = x.transpose(a, -1);
  return moved.matmul(constant(x, ones, [n, n])).transpose(a, -1);
}

/**
 * The p-norm over `axes` (all when omitted): (Σ |x|^p)^(1/p); p = 2 by default, Infinity
 * the max of |x|, 1 the sum of |x|. Its gradient at x = 0 is 0 for p = 2 (as PyTorch's subgradient).
 */
export function norm(x: Tensor, p = 2, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes('norm', axes, x.rank);
  if (p === Infinity) return x.abs().max(ax, keepdim);
  if (p === 1) return x.abs().sum(ax, keepdim);
  if (p === 2) {
    const s = x.square().sum(ax, keepdim);
    // √s with a zero gradient where s = 0 (d√s = ds / (2√s) would be 0/0)
    return s.where(s.gt(0), 1).sqrt().where(s.gt(0), 0);
  }
  if (!(p > 0)) throw new Error(`norm: p must be positive, got ${p}`);
  return x
    .abs()
    .pow(p)
    .sum(ax, keepdim)
    .pow(1 / p);
}
