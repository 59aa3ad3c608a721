/**
 * The benchmark ViT's training step in this project, runtime-neutral (Node, and the
 * Chromium engine's page worker): AdamW around forward, cross-entropy and backward, and the
 * check vector every engine's first step is compared by.
 */
import { crossEntropy, optim, scope, type Tensor } from '@ggem/tensor';
import type { createVit } from '@ggem/vit';

/** What a step returns for the cross-check: the loss and 16 gradient entries of three weights (before the update). */
export const CHECKED = ['head.weight', 'blocks.0.attn.qkv.weight', 'patch_embed.proj.weight'] as const;
export const ADAMW = { lr: 1e-3, weightDecay: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

export function checkVector(loss: number, grads: (name: string) => ArrayLike<number>): Float64Array {
  return Float64Array.from([loss, ...CHECKED.flatMap((n) => Array.from(grads(n)).slice(0, 16))]);
}

/** Our training step on `model` (whatever backend holds it): AdamW, returning the check vector taken before the update. */
export function ggemStep(model: ReturnType<typeof createVit>, x: Tensor, y: Tensor): () => Promise<Float64Array> {
  // in a scope, as the training CLI steps: the step's arrays are reused by the next
  return trainStep(model.namedParameters(), () =>
    scope(() => {
      const loss = crossEntropy(model.forward(x), y);
      loss.backward();
      return loss.item();
    }),
  );
}

/** AdamW around `lossBackward` (which leaves gradients in the parameters and returns the loss). */
export function trainStep(named: [string, Tensor][], lossBackward: () => number): () => Promise<Float64Array> {
  const opt = new optim.AdamW(
    named.map(([, p]) => p),
    ADAMW,
  );
  const byName = new Map(named);
  return async () => {
    opt.zeroGrad();
    const loss = lossBackward();
    const check = checkVector(loss, (n) => byName.get(n)!.grad!.data);
    opt.step();
    return check;
  };
}
