import type { Backend, FusedKernels } from '../backend/backend.js';

const fused: readonly (keyof FusedKernels)[] = ['softmax', 'softmaxBackward', 'layerNorm', 'layerNormBackward', 'attention', 'attentionBackward'];

/**
 * `backend` without its fused kernels (named `<name>-primitives`): every op that has a fused
 * kernel then runs its composition of primitives, so that a test can compare the two.
 */
export function withoutFusedKernels<S>(backend: Backend<S>): Backend<S> {
  const b: Backend<S> = { ...backend, name: `${backend.name}-primitives` };
  for (const k of fused) delete b[k];
  return b;
}
