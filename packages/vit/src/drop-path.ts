import { defaultGenerator, Module, tensor, type Generator, type Tensor } from '@ggem/tensor';

/**
 * Stochastic depth: while training, each sample's residual branch is dropped with
 * probability p and kept ones are scaled by 1/(1−p). Models put an Identity in its place
 * when p is 0 (at construction, not by a flag in forward).
 */
export class DropPath extends Module {
  constructor(
    readonly p: number,
    private readonly _generator: Generator = defaultGenerator,
  ) {
    super();
    if (!(p > 0 && p < 1)) throw new Error(`DropPath: p must be in (0, 1), got ${p}`);
  }

  forward(x: Tensor): Tensor {
    if (!this.training) return x;
    const b = x.shape[0]!;
    const keep = Float32Array.from({ length: b }, () => (this._generator.uniform() < this.p ? 0 : 1 / (1 - this.p)));
    return x.mul(tensor(keep, { shape: [b, ...x.shape.slice(1).map(() => 1)] }).cast(x.dtype));
  }
}
