import { full, rand, randn, truncNormal as truncNormalTensor } from '../creation.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { assign } from './module.js';

/** In-place initialisers for parameters; each takes an optional seeded generator. */

/** Normal(mean, std) truncated to [a, b] (absolute bounds; timm: std 0.02, a = −2, b = 2). */
export function truncNormal(p: Tensor, options: { mean?: number; std?: number; a?: number; b?: number; generator?: Generator } = {}): Tensor {
  assign(p, truncNormalTensor(p.shape, { ...options, dtype: p.dtype }));
  return p;
}

/** U(−a, a) with a = gain·√(6 / (fan_in + fan_out)); for a `[out, in]` weight fan_in = in. */
export function xavierUniform(p: Tensor, options: { gain?: number; generator?: Generator } = {}): Tensor {
  const [fanIn, fanOut] = fans(p);
  const a = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform(p, -a, a, options.generator);
}

export function uniform(p: Tensor, low: number, high: number, generator?: Generator): Tensor {
  assign(p, rand(p.shape, { low, high, dtype: p.dtype, ...(generator ? { generator } : {}) }));
  return p;
}

export function constant(p: Tensor, value: number): Tensor {
  assign(p, full(p.shape, value, { dtype: p.dtype }));
  return p;
}

export const zeros = (p: Tensor): Tensor => constant(p, 0);
export const ones = (p: Tensor): Tensor => constant(p, 1);

/** fan_in, fan_out of a weight `[out, in, ...receptive field]` (PyTorch's convention). */
export function fans(p: Tensor): [number, number] {
  if (p.rank < 2) throw new Error(`init: fan in/out need a weight of rank >= 2, got shape [${p.shape.join(', ')}]`);
  const field = p.shape.slice(2).reduce((a, b) => a * b, 1);
  return [p.shape[1]! * field, p.shape[0]! * field];
}

/** N(mean, std) in place. */
export function normal(p: Tensor, mean = 0, std = 1, generator?: Generator): Tensor {
  assign(p, randn(p.shape, { mean, std, dtype: p.dtype, ...(generator ? { generator } : {}) }));
  return p;
}
