import { Identity, LayerNorm, Module, type Generator, type Tensor } from '@ggem/tensor';
import { Attention } from './attention.js';
import { DropPath } from './drop-path.js';
import { Mlp } from './mlp.js';

export interface BlockOptions {
  mlpRatio?: number;
  qkvBias?: boolean;
  drop?: number;
  attnDrop?: number;
  dropPath?: number;
  generator?: Generator;
}

/** A pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)); LayerNorm ε = 1e-6. */
export class Block extends Module {
  norm1: LayerNorm;
  attn: Attention;
  norm2: LayerNorm;
  mlp: Mlp;
  drop_path: Module;

  constructor(dim: number, numHeads: number, o: BlockOptions = {}) {
    super();
    this.norm1 = new LayerNorm(dim, 1e-6);
    this.attn = new Attention(dim, numHeads, { qkvBias: o.qkvBias, attnDrop: o.attnDrop, projDrop: o.drop, generator: o.generator });
    this.norm2 = new LayerNorm(dim, 1e-6);
    this.mlp = new Mlp(dim, Math.round(dim * (o.mlpRatio ?? 4)), o.drop ?? 0, o.generator);
    this.drop_path = (o.dropPath ?? 0) > 0 ? new DropPath(o.dropPath!, o.generator) : new Identity();
  }

  forward(x: Tensor): Tensor {
    if (this.drop_path instanceof Identity) {
      // the skip connections are added inside the projections' products
      const h = this.attn.forward(this.norm1.forward(x), x);
      return this.mlp.forward(this.norm2.forward(h), h);
    }
    const h = x.add(this.drop_path.forward(this.attn.forward(this.norm1.forward(x))));
    return h.add(this.drop_path.forward(this.mlp.forward(this.norm2.forward(h))));
  }
}
