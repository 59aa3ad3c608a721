import { noGrad } from '../autograd/engine.js';
import { ones, zeros } from '../creation.js';
import { fmt } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { assign, Module } from './module.js';

/** Shapes the per-channel `[C]` statistics to broadcast over `[B, C, ...]`. */
const perChannel = (t: Tensor, rank: number): Tensor => t.reshape([t.shape[0]!, ...new Array<number>(rank - 2).fill(1)]);

/**
 * Batch normalisation over channel dim 1 of `[B, C]`, `[B, C, L]` or `[B, C, H, W]`
 * (PyTorch's BatchNorm1d/2d): in training, x̂ = (x − μ_B)/√(σ²_B + eps) with the batch's
 * biased variance, and the running mean and unbiased variance move by `momentum`; in eval
 * mode, the running statistics normalise. `weight`, `bias`, `running_mean`, `running_var`
 * are PyTorch's state-dict names; the running ones never require grad.
 */
export class BatchNorm extends Module {
  weight: Tensor;
  bias: Tensor;
  running_mean: Tensor;
  running_var: Tensor;

  constructor(
    readonly channels: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
    options: { dtype?: 'float32' | 'float64' } = {},
  ) {
    super();
    const dtype = options.dtype ?? 'float32';
    this.weight = ones([channels], { dtype, requiresGrad: true });
    this.bias = zeros([channels], { dtype, requiresGrad: true });
    this.running_mean = zeros([channels], { dtype });
    this.running_var = ones([channels], { dtype });
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 2 || x.shape[1] !== this.channels) throw new Error(`BatchNorm: expected [B, ${this.channels}, ...], got ${fmt(x.shape)}`);
    const axes = [0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2)];
    let mean: Tensor;
    let variance: Tensor;
    if (this.training) {
      const n = x.size / this.channels;
      if (n < 2) throw new Error(`BatchNorm: training needs more than one value per channel, got ${fmt(x.shape)}`);
      mean = x.mean(axes);
      variance = x.sub(perChannel(mean, x.rank)).square().mean(axes);
      noGrad(() => {
        const m = this.momentum;
        assign(this.running_mean, this.running_mean.mul(1 - m).add(mean.detach().mul(m)));
        assign(this.running_var, this.running_var.mul(1 - m).add(variance.detach().mul((m * n) / (n - 1))));
      });
    } else {
      mean = this.running_mean;
      variance = this.running_var;
    }
    const xh = x.sub(perChannel(mean, x.rank)).mul(perChannel(variance.add(this.eps).rsqrt(), x.rank));
    return xh.mul(perChannel(this.weight, x.rank)).add(perChannel(this.bias, x.rank));
  }
}

/** Group normalisation (Wu and He): the C channels of `[B, C, ...]` in `groups` groups, each normalised over its channels and positions, then a per-channel affine. */
export class GroupNorm extends Module {
  weight: Tensor;
  bias: Tensor;

  constructor(
    readonly groups: number,
    readonly channels: number,
    readonly eps = 1e-5,
    options: { dtype?: 'float32' | 'float64' } = {},
  ) {
    super();
    if (!Number.isInteger(groups) || groups < 1 || channels % groups !== 0)
      throw new Error(`GroupNorm: ${channels} channels do not split into ${groups} groups`);
    const dtype = options.dtype ?? 'float32';
    this.weight = ones([channels], { dtype, requiresGrad: true });
    this.bias = zeros([channels], { dtype, requiresGrad: true });
  }

  forward(x: Tensor): Tensor {
    if (x.rank < 2 || x.shape[1] !== this.channels) throw new Error(`GroupNorm: expected [B, ${this.channels}, ...], got ${fmt(x.shape)}`);
    const g = x.reshape([x.shape[0]!, this.groups, -1]);
    const centred = g.sub(g.mean(2, true));
    const xh = centred.mul(centred.square().mean(2, true).add(this.eps).rsqrt()).reshape(x.shape);
    return xh.mul(perChannel(this.weight, x.rank)).add(perChannel(this.bias, x.rank));
  }
}
