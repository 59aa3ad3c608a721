import { zeros as zerosTensor, ones as onesTensor, type RandomOptions } from '../creation.js';
import { dropout, layerNorm, linear } from '../ops/nn.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { uniform } from './init.js';
import { Module } from './module.js';

export interface LinearOptions {
  bias?: boolean;
  /** 'uniform' (PyTorch's default, below) or 'zeros' for models that initialise their own way. */
  init?: 'uniform' | 'zeros';
  dtype?: 'float32' | 'float64';
  generator?: Generator;
}

/**
 * y = x Wᵀ + b, W `[out, in]`. Initialised as PyTorch's nn.Linear: W and b uniform in
 * ±1/√in (models such as the ViT re-initialise their own way).
 */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    const o: RandomOptions = { dtype: options.dtype ?? 'float32', requiresGrad: true };
    const bound = 1 / Math.sqrt(inFeatures);
    const init = (t: Tensor) => (options.init === 'zeros' ? t : uniform(t, -bound, bound, options.generator));
    this.weight = init(zerosTensor([outFeatures, inFeatures], o));
    this.bias = options.bias === false ? null : init(zerosTensor([outFeatures], o));
  }

  /**
   * x Wᵀ + b, plus `residual` (of the output's shape) when given: a skip connection inside
   * the product; with `activation` 'gelu', the GELU of that (fused for inference).
   */
  forward(x: Tensor, residual: Tensor | null = null, activation: 'gelu' | null = null): Tensor {
    return linear(x, this.weight, this.bias, residual, activation);
  }
}

/** Normalises the last dim; weight 1 and bias 0 at start. ε defaults to 1e-5 (PyTorch; timm's ViT passes 1e-6). */
export class LayerNorm extends Module {
  weight: Tensor | null;
  bias: Tensor | null;

  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
    options: { affine?: boolean; dtype?: 'float32' | 'float64' } = {},
  ) {
    super();
    const o = { dtype: options.dtype ?? 'float32', requiresGrad: true } as const;
    const affine = options.affine ?? true;
    this.weight = affine ? onesTensor([dim], o) : null;
    this.bias = affine ? zerosTensor([dim], o) : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** Inverted dropout while training, identity in eval mode. */
export class Dropout extends Module {
  constructor(
    readonly p = 0.5,
    private readonly _generator?: Generator,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.training, this._generator);
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Runs modules in order; children are named 0, 1, … as in PyTorch. */
export class Sequential extends Module {
  readonly _layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this._layers = layers;
  }

  override namedChildren(): [string, Module][] {
    return this._layers.map((m, i) => [String(i), m]);
  }

  forward(x: Tensor): Tensor {
    return this._layers.reduce((h, m) => m.forward(h), x);
  }
}
