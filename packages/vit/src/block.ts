import { full, Identity, LayerNorm, Module, type Generator, type Tensor } from '@ggem/tensor';
import { Attention } from './attention.js';
import { DropPath } from './drop-path.js';
import { Mlp, type Activation } from './mlp.js';

export interface BlockOptions {
  mlpRatio?: number;
  qkvBias?: boolean;
  /** LayerNorm of q and k per head (timm's qk_norm). */
  qkNorm?: boolean;
  /** LayerScale's initial value (timm's init_values); none when 0 or absent. */
  initValues?: number;
  /** ε of every LayerNorm (default 1e-6; CLIP's 1e-5). */
  normEps?: number;
  act?: Activation;
  drop?: number;
  attnDrop?: number;
  dropPath?: number;
  generator?: Generator;
}

/** A learned per-channel scale of a residual branch (timm's LayerScale, `gamma` `[D]`): DeiT-III, DINOv2. */
export class LayerScale extends Module {
  gamma: Tensor;

  constructor(dim: number, initValues: number) {
    super();
    this.gamma = full([dim], initValues, { requiresGrad: true });
  }

  forward(x: Tensor): Tensor {
    return x.mul(this.gamma);
  }
}

/** A pre-norm transformer block: x + ls1(attn(norm1(x))), then x + ls2(mlp(norm2(x))). */
export class Block extends Module {
  norm1: LayerNorm;
  attn: Attention;
  ls1: Module;
  norm2: LayerNorm;
  mlp: Mlp;
  ls2: Module;
  drop_path: Module;

  constructor(dim: number, numHeads: number, o: BlockOptions = {}) {
    super();
    const eps = o.normEps ?? 1e-6;
    this.norm1 = new LayerNorm(dim, eps);
    this.attn = new Attention(dim, numHeads, {
      qkvBias: o.qkvBias,
      qkNorm: o.qkNorm,
      normEps: eps,
      attnDrop: o.attnDrop,
      projDrop: o.drop,
      generator: o.generator,
    });
    this.ls1 = o.initValues ? new LayerScale(dim, o.initValues) : new Identity();
    this.norm2 = new LayerNorm(dim, eps);
    // timm: int(dim · mlp_ratio)
    this.mlp = new Mlp(dim, Math.trunc(dim * (o.mlpRatio ?? 4)), o.drop ?? 0, o.generator, o.act);
    this.ls2 = o.initValues ? new LayerScale(dim, o.initValues) : new Identity();
    this.drop_path = (o.dropPath ?? 0) > 0 ? new DropPath(o.dropPath!, o.generator) : new Identity();
  }

  forward(x: Tensor): Tensor {
    if (this.drop_path instanceof Identity && this.ls1 instanceof Identity) {
      // the skip connections are added inside the projections' products
      const h = this.attn.forward(this.norm1.forward(x), x);
      return this.mlp.forward(this.norm2.forward(h), h);
    }
    const h = x.add(this.drop_path.forward(this.ls1.forward(this.attn.forward(this.norm1.forward(x)))));
    return h.add(this.drop_path.forward(this.ls2.forward(this.mlp.forward(this.norm2.forward(h)))));
  }
}
