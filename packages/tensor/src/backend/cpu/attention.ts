import type { CpuKernel } from '../backend.js';
import * as reference from '../reference/attention.js';
import { simdArena } from './wasm/arena.js';

/**
 * Fused multi-head self-attention in WebAssembly SIMD (float32, d a multiple of 4): the
 * reference's formulas (../reference/attention.ts), per image and head on q, k, v read in
 * place in the kernel's memory; every other case runs the reference.
 */
export const attention: CpuKernel<'attention'> = (qkv, b, n, h, d, scale, dtype) => {
  const arena = dtype === 'float32' && d % 4 === 0 ? simdArena() : null;
  if (arena === null) return reference.attention(qkv, b, n, h, d, scale, dtype);
  const dm = h * d;
  const np = Math.ceil(n / 4) * 4;
  const [QKV, Y, P, KT, S] = arena.layout(b * n * 3 * dm, b * n * dm, b * h * n * n + 4, d * np, n * np);
  const k = arena.kernels;
  arena.put(qkv as Float32Array, QKV!);
  const rs = 3 * dm * 4;
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const q = QKV! + (bi * n * 3 * dm + hi * d) * 4;
      const p = P! + (bi * h + hi) * n * n * 4;
      k.transpose!(q + dm * 4, rs, n, d, KT!, np);
      k.combine!(q, rs, 4, KT!, np * 4, n, d, np, S!, np * 4); // S = q kᵀ
      k.softmaxRows!(S!, np, n, n, scale, p);
      k.combine!(p, n * 4, 4, q + 2 * dm * 4, rs, n, n, d, Y! + (bi * n * dm + hi * d) * 4, dm * 4);
    }
  }
  return { y: arena.take(Y!, b * n * dm), probs: arena.take(P!, b * h * n * n) };
};

export const attentionBackward: CpuKernel<'attentionBackward'> = (qkv, probs, gy, b, n, h, d, scale, dtype) => {
  const arena = dtype === 'float32' && d % 4 === 0 ? simdArena() : null;
  if (arena === null) return reference.attentionBackward(qkv, probs, gy, b, n, h, d, scale, dtype);
  const dm = h * d;
  const np = Math.ceil(n / 4) * 4;
  const [QKV, P, GY, G, VT, DS] = arena.layout(b * n * 3 * dm, b * h * n * n + 4, b * n * dm, b * n * 3 * dm, d * np, n * np);
  const k = arena.kernels;
  arena.put(qkv as Float32Array, QKV!);
  arena.put(probs as Float32Array, P!);
  arena.put(gy as Float32Array, GY!);
  const rs = 3 * dm * 4;
  for (let bi = 0; bi < b; bi++) {
    for (let hi = 0; hi < h; hi++) {
      const head = (bi * n * 3 * dm + hi * d) * 4;
      const [q, kk, v] = [QKV! + head, QKV! + head + dm * 4, QKV! + head + 2 * dm * 4];
      const [gq, gk, gv] = [G! + head, G! + head + dm * 4, G! + head + 2 * dm * 4];
      const p = P! + (bi * h + hi) * n * n * 4;
      const go = GY! + (bi * n * dm + hi * d) * 4;
      k.combine!(p, 4, n * 4, go, dm * 4, n, n, d, gv, rs); // dv[j] = Σ_i P[i][j] dO[i]
      k.transpose!(v, rs, n, d, VT!, np);
      k.combine!(go, dm * 4, 4, VT!, np * 4, n, d, np, DS!, np * 4); // dP = dO vᵀ
      k.softmaxGradRows!(p, DS!, np, n, n, scale); // dS
      k.combine!(DS!, np * 4, 4, kk, rs, n, n, d, gq, rs); // dq = dS k
      k.combine!(DS!, 4, np * 4, q, rs, n, n, d, gk, rs); // dk = dSᵀ q
    }
  }
  return arena.take(G!, b * n * 3 * dm);
};
