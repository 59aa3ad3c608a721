import type { TypedArray } from '../dtype.js';
import type { Tensor } from '../tensor.js';
import { Optimizer, type GroupHyper, type ParamGroup } from './optimizer.js';

export interface SGDHyper extends GroupHyper {
  momentum: number;
  nesterov: boolean;
}

/**
 * SGD as PyTorch: g ← g + λp (L2 weight decay); with momentum b ← μb + g (b = g at the
 * first step) and the step uses b, or g + μb with Nesterov; p ← p − lr·step.
 */
export class SGD extends Optimizer<SGDHyper> {
  constructor(params: Tensor[] | (ParamGroup & Partial<SGDHyper>)[], options: Partial<SGDHyper> & { lr: number }) {
    super(params, { weightDecay: 0, momentum: 0, nesterov: false, ...options });
    if (this.groups.some((g) => g.nesterov && g.momentum <= 0)) throw new Error('SGD: nesterov needs momentum > 0');
  }

  protected update(h: SGDHyper, p: TypedArray, g: TypedArray, key: string): void {
    const { lr, weightDecay: wd, momentum: mu, nesterov } = h;
    const first = !this.buffers.has(`${key}.momentum`);
    const b = mu > 0 ? this.buffer(`${key}.momentum`, p) : null;
    for (let i = 0; i < p.length; i++) {
      let d = g[i]! + wd * p[i]!;
      if (b !== null) {
        const bi = first ? d : mu * b[i]! + d;
        b[i] = bi;
        d = nesterov ? d + mu * bi : bi;
      }
      p[i]! -= lr * d;
    }
  }
}
