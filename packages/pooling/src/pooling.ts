import { Module, full, type Tensor } from '@ggem/tensor';
import { DEFAULT_EPS, DEFAULT_P_MAX, DEFAULT_P_MIN, ggem } from './gem.js';
import { checkGroups } from './groups.js';

/**
 * Pooling modules take the whole token sequence `[B, P + N, C]`, P prefix tokens (the class
 * token) first, as timm's `global_pool`: `token` returns the first token, the others pool
 * the N patch tokens. Output `[B, C]`.
 */
export abstract class Pool extends Module {
  constructor(readonly prefixTokens = 1) {
    super();
  }

  /** Names (relative to this module) of parameters to keep out of weight decay. */
  noWeightDecay(): string[] {
    return [];
  }
}

/** The class token (index 0), as the original ViT. */
export class TokenPool extends Pool {
  forward(x: Tensor): Tensor {
    if (this.prefixTokens < 1) throw new Error('TokenPool: the sequence has no class token (prefixTokens = 0)');
    return x.narrow(1, 0, 1).squeeze(1);
  }
}

/** Mean of the patch tokens. */
export class AvgPool extends Pool {
  forward(x: Tensor): Tensor {
    return patches(x, this.prefixTokens).mean(1);
  }
}

/** Max of the patch tokens per channel; tied maxima share the gradient evenly. */
export class MaxPool extends Pool {
  forward(x: Tensor): Tensor {
    return patches(x, this.prefixTokens).max(1);
  }
}

function patches(x: Tensor, prefix: number): Tensor {
  return prefix === 0 ? x : x.narrow(1, prefix, x.shape[1]! - prefix);
}

export interface GemPoolOptions {
  /** Initial p (3 by default; the paper finds 3 to 5 stable). */
  p?: number;
  /** Train p (default) or keep it fixed. */
  trainP?: boolean;
  eps?: number;
  pMin?: number;
  pMax?: number;
  prefixTokens?: number;
}

/**
 * GGeM: one trainable p per group of contiguous channels (`p` has shape [G]); G = 1 is GeM.
 * The paper suggests G = the number of attention heads.
 */
export class GGeMPool extends Pool {
  p: Tensor;
  readonly eps: number;
  readonly pMin: number;
  readonly pMax: number;

  constructor(
    readonly channels: number,
    readonly groups: number,
    o: GemPoolOptions = {},
  ) {
    super(o.prefixTokens ?? 1);
    checkGroups(channels, groups);
    this.eps = o.eps ?? DEFAULT_EPS;
    this.pMin = o.pMin ?? DEFAULT_P_MIN;
    this.pMax = o.pMax ?? DEFAULT_P_MAX;
    const p0 = o.p ?? 3;
    if (!(p0 >= this.pMin && p0 <= this.pMax)) throw new Error(`GGeMPool: initial p ${p0} is outside [${this.pMin}, ${this.pMax}]`);
    this.p = full([groups], p0, { requiresGrad: o.trainP ?? true });
  }

  forward(x: Tensor): Tensor {
    if (x.shape[2] !== this.channels) throw new Error(`GGeMPool: expected ${this.channels} channels, got tokens of shape [${x.shape.join(', ')}]`);
    return ggem(x, this.p, { eps: this.eps, pMin: this.pMin, pMax: this.pMax, start: this.prefixTokens });
  }

  override noWeightDecay(): string[] {
    return ['p'];
  }

  /** The current p of every group (clipped to the bounds, as the forward uses it). */
  currentP(): number[] {
    return Array.from(this.p.data, (v) => Math.min(this.pMax, Math.max(this.pMin, v)));
  }
}

/** GeM: a single p shared by all channels (`p` has shape [1]). */
export class GeMPool extends GGeMPool {
  constructor(channels: number, o: GemPoolOptions = {}) {
    super(channels, 1, o);
  }
}

export const poolingNames = ['token', 'avg', 'max', 'gem', 'ggem'] as const;
export type PoolingName = (typeof poolingNames)[number];

export interface PoolingOptions extends GemPoolOptions {
  /** Channels of the tokens (needed by gem and ggem). */
  channels?: number;
  /** GGeM's groups (required for ggem). */
  groups?: number;
}

/**
 * A pooling module by name:
 *
 *     createPooling('ggem', { channels: 384, groups: 6, p: 3 })
 */
export function createPooling(name: PoolingName, o: PoolingOptions = {}): Pool {
  const prefix = o.prefixTokens ?? 1;
  switch (name) {
    case 'token':
      return new TokenPool(prefix);
    case 'avg':
      return new AvgPool(prefix);
    case 'max':
      return new MaxPool(prefix);
    case 'gem':
    case 'ggem': {
      if (o.channels === undefined) throw new Error(`createPooling: '${name}' needs the number of channels`);
      if (name === 'gem') return new GeMPool(o.channels, o);
      if (o.groups === undefined) throw new Error("createPooling: 'ggem' needs groups (the paper suggests the number of heads)");
      return new GGeMPool(o.channels, o.groups, o);
    }
    default:
      throw new Error(`createPooling: unknown pooling '${name as string}'; expected one of ${poolingNames.join(', ')}`);
  }
}
