import type { CpuKernel } from '../backend.js';
import { allocate } from './pool.js';

/**
 * Fused multi-head self-attention over a packed projection qkv `[b, n, 3·h·d]` (timm's
 * layout: the last axis is [3, h, d]). Per image and head, with q, k, v `[n, d]` read in
 * place:
 *   P = softmax(scale · q kᵀ)   (kept for the backward, `[b, h, n, n]`)
 *   y[:, head] = P v            (written straight into y `[b, n, h·d]`)
 * and the backward, from gy `[b, n, h·d]`, dO the head's slice of it:
 *   dv = Pᵀ dO,   dS = scale · P ⊙ (dO vᵀ − rowsum(P ⊙ dO vᵀ)),   dq = dS k,   dk = dSᵀ q
 * written into gqkv `[b, n, 3·h·d]`. No permuted copies of q, k, v or of the heads are
 * made, and the scores never leave the kernel.
 *
 * Sums accumulate in float64.
 */
export const attention: CpuKernel<'attention'> = (qkv, b, n, h, d, scale, dtype) => {
  const dm = h * d;
  const y = allocate(dtype, b * n * dm);
  const probs = allocate(dtype, b * h * n * n);
  const row = new Float64Array(n);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const base = bi * n * 3 * dm + hi * d;
      const p0 = (bi * h + hi) * n * n;
      for (let i = 0; i < n; i++) {
        let mx = -Infinity;
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let c = 0; c < d; c++) s += qkv[base + i * 3 * dm + c]! * qkv[base + j * 3 * dm + dm + c]!;
          row[j] = s * scale;
          if (row[j]! > mx) mx = row[j]!;
        }
        let sum = 0;
        for (let j = 0; j < n; j++) sum += row[j] = Math.exp(row[j]! - mx);
        for (let j = 0; j < n; j++) probs[p0 + i * n + j] = row[j]! / sum;
        for (let c = 0; c < d; c++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += probs[p0 + i * n + j]! * qkv[base + j * 3 * dm + 2 * dm + c]!;
          y[(bi * n + i) * dm + hi * d + c] = s;
        }
      }
    }
  }
  return { y, probs };
};

export const attentionBackward: CpuKernel<'attentionBackward'> = (qkv, probs, gy, b, n, h, d, scale, dtype) => {
  const dm = h * d;
  const g = allocate(dtype, b * n * 3 * dm);
  const ds = new Float64Array(n * n);
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const base = bi * n * 3 * dm + hi * d;
      const p0 = (bi * h + hi) * n * n;
      const go = (i: number, c: number) => gy[(bi * n + i) * dm + hi * d + c]!;
      const q = (i: number, c: number) => qkv[base + i * 3 * dm + c]!;
      const k = (i: number, c: number) => qkv[base + i * 3 * dm + dm + c]!;
      const v = (i: number, c: number) => qkv[base + i * 3 * dm + 2 * dm + c]!;
      for (let i = 0; i < n; i++) {
        let dot = 0;
        for (let j = 0; j < n; j++) {
          let dp = 0;
          for (let c = 0; c < d; c++) dp += go(i, c) * v(j, c);
          ds[i * n + j] = dp;
          dot += probs[p0 + i * n + j]! * dp;
        }
        for (let j = 0; j < n; j++) ds[i * n + j] = scale * probs[p0 + i * n + j]! * (ds[i * n + j]! - dot);
      }
      for (let i = 0; i < n; i++) {
        for (let c = 0; c < d; c++) {
          let sq = 0;
          let sk = 0;
          let sv = 0;
          for (let j = 0; j < n; j++) {
            sq += ds[i * n + j]! * k(j, c);
            sk += ds[j * n + i]! * q(j, c);
            sv += probs[p0 + j * n + i]! * go(j, c);
          }
          g[base + i * 3 * dm + c] = sq;
          g[base + i * 3 * dm + dm + c] = sk;
          g[base + i * 3 * dm + 2 * dm + c] = sv;
        }
      }
    }
  }
  return g;
};
