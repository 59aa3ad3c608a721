import type { Tensor } from '@ggem/tensor';
import { channelGroups } from './groups.js';
import { DEFAULT_EPS } from './gem.js';

/**
 * GGeM composed from tensor primitives, the way it is usually written
 * (`x.clamp(min=eps).pow(p).mean(1).pow(1/p)` with p repeated per channel). It keeps the
 * `[B, N, C]` intermediates for backward and overflows or underflows for large p; the
 * fused `ggem` is tested against it where it is finite.
 */
export function ggemComposed(x: Tensor, p: Tensor, eps = DEFAULT_EPS): Tensor {
  const c = x.shape[2]!;
  const pc = p.indexSelect(0, channelGroups(c, p.shape[0]!)); // [C]
  return x.clamp(eps).pow(pc).mean(1).pow(pc.pow(-1));
}
