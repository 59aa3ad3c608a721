import { Dropout, Identity, Linear, Module, type Generator, type Tensor } from '@ggem/tensor';

/** The MLP's activation: exact (erf) GELU, or CLIP's quick GELU x·σ(1.702x) (timm's `act_layer='quick_gelu'`). */
export type Activation = 'gelu' | 'quick_gelu';

const quickGelu = (a: Tensor) => a.mul(a.mul(1.702).sigmoid());

/** fc1 → activation (the exact GELU fused into fc1 for inference) → dropout → fc2 → dropout, as timm's Mlp. */
export class Mlp extends Module {
  fc1: Linear;
  fc2: Linear;
  drop: Module;

  constructor(
    dim: number,
    hidden: number,
    drop = 0,
    generator?: Generator,
    readonly act: Activation = 'gelu',
  ) {
    super();
    this.fc1 = new Linear(dim, hidden, { generator, init: 'zeros' }); // the model initialises
    this.fc2 = new Linear(hidden, dim, { generator, init: 'zeros' });
    this.drop = drop > 0 ? new Dropout(drop, generator) : new Identity();
  }

  /** `residual`, when given, is added to fc2's output inside its product (the block's skip connection). */
  forward(x: Tensor, residual: Tensor | null = null): Tensor {
    const h = this.drop.forward(this.act === 'gelu' ? this.fc1.forward(x, null, 'gelu') : quickGelu(this.fc1.forward(x)));
    if (residual !== null && this.drop instanceof Identity) return this.fc2.forward(h, residual);
    const y = this.drop.forward(this.fc2.forward(h));
    return residual === null ? y : residual.add(y);
  }
}
