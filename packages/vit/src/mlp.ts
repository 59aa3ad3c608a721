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

  forward(x: Tensor): Tensor {
    return this.drop.forward(this.fc2.forward(this.drop.forward(this.fc1.forward(x).gelu())));
  }
}
