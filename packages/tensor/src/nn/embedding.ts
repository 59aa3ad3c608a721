import { zeros } from '../creation.js';
import { fmt } from '../shape.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { normal } from './init.js';
import { Module } from './module.js';

/** A lookup table `[num, dim]` (initialised N(0, 1), as PyTorch): integer ids of any shape to vectors `[..., dim]`. */
export class Embedding extends Module<[Tensor | readonly number[]]> {
  weight: Tensor;

  constructor(
    readonly num: number,
    readonly dim: number,
    options: { dtype?: 'float32' | 'float64'; generator?: Generator } = {},
  ) {
    super();
    this.weight = normal(zeros([num, dim], { dtype: options.dtype ?? 'float32', requiresGrad: true }), 0, 1, options.generator);
  }

  forward(ids: Tensor | readonly number[]): Tensor {
    const shape = Array.isArray(ids) ? [ids.length] : (ids as Tensor).shape;
    const flat = Array.isArray(ids) ? (ids as readonly number[]) : Array.from((ids as Tensor).data);
    if (!Array.isArray(ids) && (ids as Tensor).dtype !== 'int32')
      throw new Error(`Embedding: ids must be int32, got ${(ids as Tensor).dtype} of shape ${fmt(shape)}`);
    return this.weight.indexSelect(0, flat).reshape([...shape, this.dim]);
  }
}
