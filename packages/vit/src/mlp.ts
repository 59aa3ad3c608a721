import { Dropout, Identity, Linear, Module, type Generator, type Tensor } from '@ggem/tensor';

/** fc1 → exact (erf) GELU → dropout → fc2 → dropout, as timm's Mlp. */
export class Mlp extends Module {
  fc1: Linear;
  fc2: Linear;
  drop: Module;

  constructor(dim: number, hidden: number, drop = 0, generator?: Generator) {
    super();
    this.fc1 = new Linear(dim, hidden, { generator, init: 'zeros' }); // the model initialises
    this.fc2 = new Linear(hidden, dim, { generator, init: 'zeros' });
    this.drop = drop > 0 ? new Dropout(drop, generator) : new Identity();
  }

  /** `residual`, when given, is added to fc2's output inside its product (the block's skip connection). */
  forward(x: Tensor, residual: Tensor | null = null): Tensor {
    const h = this.drop.forward(this.fc1.forward(x).gelu());
    if (residual !== null && this.drop instanceof Identity) return this.fc2.forward(h, residual);
    const y = this.drop.forward(this.fc2.forward(h));
    return residual === null ? y : residual.add(y);
  }
}
