import { zeros } from '../creation.js';
import { avgPool2d, conv2d, maxPool2d, type Conv2dOptions, type Pool2dOptions } from '../ops/conv.js';
import type { Generator } from '../random.js';
import type { Tensor } from '../tensor.js';
import { uniform } from './init.js';
import { Module } from './module.js';

/**
 * A 2-d convolution over `[B, C, H, W]`: weight `[O, C/groups, KH, KW]` and bias `[O]`
 * (PyTorch's names and layout), initialised as PyTorch's nn.Conv2d (uniform in
 * ±1/√(C/groups·KH·KW)); `groups: C` with O = C is depthwise.
 */
export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number | [number, number],
    readonly options: Conv2dOptions & { bias?: boolean; dtype?: 'float32' | 'float64'; generator?: Generator } = {},
  ) {
    super();
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const groups = options.groups ?? 1;
    if (!Number.isInteger(groups) || groups < 1 || inChannels % groups !== 0 || outChannels % groups !== 0)
      throw new Error(`Conv2d: groups ${groups} must divide both ${inChannels} input and ${outChannels} output channels`);
    const bound = 1 / Math.sqrt((inChannels / groups) * kh * kw);
    const o = { dtype: options.dtype ?? 'float32', requiresGrad: true } as const;
    this.weight = uniform(zeros([outChannels, inChannels / groups, kh, kw], o), -bound, bound, options.generator);
    this.bias = options.bias === false ? null : uniform(zeros([outChannels], o), -bound, bound, options.generator);
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, this.options);
  }
}

/** A pooling window and its options, shared by the two pooling layers. */
abstract class Pool2dLayer extends Module {
  constructor(
    readonly kernelSize: number | [number, number],
    readonly options: Pool2dOptions = {},
  ) {
    super();
  }
}

/** Max over each window of `[B, C, H, W]` (stride = the window by default). */
export class MaxPool2d extends Pool2dLayer {
  forward(x: Tensor): Tensor {
    return maxPool2d(x, this.kernelSize, this.options);
  }
}

/** Mean over each window of `[B, C, H, W]` (stride = the window by default). */
export class AvgPool2d extends Pool2dLayer {
  forward(x: Tensor): Tensor {
    return avgPool2d(x, this.kernelSize, this.options);
  }
}
