import type { Tensor } from '../tensor.js';
import type { ParamGroup } from './optimizer.js';

/** Names that never get weight decay besides rank <= 1 tensors (biases, norms, pooling p). */
const NO_DECAY = /(^|\.)(pos_embed|cls_token|reg_token|pool\.p)$/;

/**
 * Two groups: decayed weights, and the parameters left out of decay (biases and norm
 * weights, i.e. every tensor of rank <= 1, embeddings and the pooling p), as timm does.
 * Frozen parameters (requiresGrad false) are left out of both.
 */
export function splitWeightDecay(
  named: readonly [string, Tensor][],
  weightDecay: number,
  isNoDecay: (name: string, p: Tensor) => boolean = (n, p) => p.rank <= 1 || NO_DECAY.test(n),
): ParamGroup[] {
  const trainable = named.filter(([, p]) => p.requiresGrad);
  return [
    { params: trainable.filter(([n, p]) => !isNoDecay(n, p)).map(([, p]) => p), weightDecay },
    { params: trainable.filter(([n, p]) => isNoDecay(n, p)).map(([, p]) => p), weightDecay: 0 },
  ];
}
