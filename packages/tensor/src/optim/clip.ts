import type { Tensor } from '../tensor.js';

/**
 * Scales gradients so that their global L2 norm is at most `maxNorm` (as PyTorch:
 * factor maxNorm / (norm + 1e-6) when norm exceeds it). Returns the norm before clipping.
 */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number): number {
  let sq = 0;
  for (const p of params) {
    if (p.grad === null) continue;
    const g = p.grad.data;
    for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  }
  const norm = Math.sqrt(sq);
  if (norm > maxNorm) {
    const f = maxNorm / (norm + 1e-6);
    for (const p of params) if (p.grad !== null) p.grad = p.grad.mul(f);
  }
  return norm;
}
