import { formatShape as fmt, record, type Tensor } from '@ggem/tensor';
import { channelGroups, checkGroups } from './groups.js';
import { ggemKernel } from './kernels/index.js';

export interface GemOptions {
  /** Inputs are clamped from below at eps (GeM is defined on positive inputs). Default 1e-6. */
  eps?: number;
  /** Bounds p is clipped to in the forward, so that it stays positive. Default [1e-3, 1e3]. */
  pMin?: number;
  pMax?: number;
  /** Tokens before this index (class tokens) are not pooled. Default 0. */
  start?: number;
}

export const DEFAULT_EPS = 1e-6;
export const DEFAULT_P_MIN = 1e-3;
export const DEFAULT_P_MAX = 1e3;

/**
 * Group generalized mean pooling, fused: x `[B, N, C]` and p `[G]` give y `[B, C]` with
 *
 *     y[b,c] = ( (1/N') Σ_{t ≥ start} max(x[b,t,c], eps)^p[g(c)] )^(1/p[g(c)])
 *
 * over N' = N − start tokens, where channel c is in group g(c) = floor(c / ceil(C/G)).
 * G = 1 is GeM; p is clipped to [pMin, pMax] first (its gradient is 0 outside, as for
 * clamp). A fused kernel (./kernels/, for the reference, CPU and gpu.js backends) computes
 * the forward and keeps what the backward needs; neither overflows nor underflows for any
 * p in the bounds (see ./kernels/reference.ts). Other backends run a composition of
 * primitives in the same scaled form.
 *
 *     ggem(x, tensor([3, 3, 3, 3]))   // GGeM with 4 groups, all starting at p = 3
 */
export function ggem(x: Tensor, p: Tensor, options: GemOptions = {}): Tensor {
  const eps = options.eps ?? DEFAULT_EPS;
  const start = options.start ?? 0;
  if (x.rank !== 3) throw new Error(`ggem: expected tokens of shape [B, N, C], got ${fmt(x.shape)}`);
  const [b, n, c] = x.shape as [number, number, number];
  if (p.rank !== 1) throw new Error(`ggem: expected p of shape [G], got ${fmt(p.shape)}`);
  const groups = p.shape[0]!;
  checkGroups(c, groups);
  if (!(eps > 0)) throw new Error(`ggem: eps must be > 0, got ${eps}`);
  if (!Number.isInteger(start) || start < 0 || start >= n) throw new Error(`ggem: start ${start} leaves no token to pool in ${fmt(x.shape)}`);
  if (p.backend.toArrayAsync === undefined) {
    // values at hand (the CPU): a NaN p would pool to NaN silently
    p.data.forEach((v, i) => {
      if (Number.isNaN(v)) throw new Error(`ggem: p is NaN (group ${i} of ${groups}); p must be a number (it is clamped to [pMin, pMax])`);
    });
  }
  const pe = p.clamp(options.pMin ?? DEFAULT_P_MIN, options.pMax ?? DEFAULT_P_MAX).cast(x.dtype);
  const be = x.backend;
  const kernel = ggemKernel.on(be);
  const r = kernel?.forward(be, x.storage, b, n, c, start, pe.storage, groups, eps, x.dtype);
  if (kernel === undefined || r === undefined) return ggemScaled(x.narrow(1, start, n - start).clamp(eps), pe);
  ggemKernel.count(be);
  const y = x.withStorage(r.y, [b, c]);
  return record(y, 'ggem', [x, pe], (g) => {
    const { gx, gp } = kernel.backward(be, r.saved, g.storage, x.dtype);
    return [x.withStorage(gx, x.shape), x.withStorage(gp, [groups])];
  });
}

/**
 * GGeM from primitives, on a backend without the fused kernel: y = M·(mean_t (x/M)^p)^(1/p)
 * with M the column max, a constant (y does not depend on it), so that x^p cannot overflow.
 */
function ggemScaled(xc: Tensor, p: Tensor): Tensor {
  const pc = p.indexSelect(0, channelGroups(xc.shape[2]!, p.shape[0]!)); // [C]
  const m = xc.max(1, true).detach();
  return xc.div(m).pow(pc).mean(1).pow(pc.reciprocal()).mul(m.squeeze(1));
}

/** GeM: GGeM with one group; p has shape [1]. */
export function gem(x: Tensor, p: Tensor, options: GemOptions = {}): Tensor {
  if (p.size !== 1) throw new Error(`gem: expected a single p (shape [1]), got ${fmt(p.shape)}; use ggem for groups`);
  return ggem(x, p.reshape([1]), options);
}

/**
 * GeM / GGeM over the positions of CNN feature maps `[B, C, H, W]` (where GeM comes from:
 * Radenović et al.'s image retrieval): the maps as H·W tokens of C channels, pooled as `ggem`
 * pools a ViT's tokens; p `[G]` (G = 1 is GeM). y `[B, C]`.
 */
export function ggem2d(x: Tensor, p: Tensor, options: Omit<GemOptions, 'start'> = {}): Tensor {
  if (x.rank !== 4) throw new Error(`ggem2d: expected feature maps of shape [B, C, H, W], got ${fmt(x.shape)}`);
  const [b, c] = x.shape as [number, number];
  return ggem(x.reshape([b, c, -1]).transpose(1, 2), p, options);
}
