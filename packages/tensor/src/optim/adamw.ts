import type { TypedArray } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, type GroupHyper, type ParamGroup } from './optimizer.js';

export interface AdamWHyper extends GroupHyper {
  beta1: number;
  beta2: number;
  eps: number;
}

/**
 * AdamW (Loshchilov & Hutter), as PyTorch: decoupled decay p ← p·(1 − lr·λ), then
 * m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − lr·m̂ / (√v̂ + ε) with bias-corrected
 * m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ). Give biases, norms, embeddings and pooling p their own
 * group with weightDecay 0 (see `splitWeightDecay`).
 */
export class AdamW extends Optimizer<AdamWHyper> {
  constructor(params: Tensor[] | (ParamGroup & Partial<AdamWHyper>)[], options: Partial<AdamWHyper> & { lr: number }) {
    super(params, { weightDecay: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, ...options });
    this.groups.forEach((h, i) => {
      for (const k of ['beta1', 'beta2'] as const) if (!(h[k] >= 0 && h[k] < 1)) throw new Error(`AdamW: ${k} must be in [0, 1), got ${h[k]} (group ${i})`);
      if (!(h.eps >= 0)) throw new Error(`AdamW: eps must be >= 0, got ${h.eps} (group ${i})`);
    });
  }

  protected update(h: AdamWHyper, p: TypedArray, g: TypedArray, key: string): void {
    const { lr, weightDecay: wd, beta1: b1, beta2: b2, eps } = h;
    const m = this.buffer(`${key}.expAvg`, p);
    const v = this.buffer(`${key}.expAvgSq`, p);
    const t = this.stepCount;
    const c1 = 1 - b1 ** t;
    const c2 = Math.sqrt(1 - b2 ** t);
    const decay = 1 - lr * wd;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      const mi = b1 * m[i]! + (1 - b1) * gi;
      const vi = b2 * v[i]! + (1 - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i]! * decay - (lr / c1) * (mi / (Math.sqrt(vi) / c2 + eps));
    }
  }
}
