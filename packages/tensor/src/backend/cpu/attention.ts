import type { DType, TypedArray } from '../../dtype.js';
import { allocate } from './pool.js';
import type { AttentionResult } from '../backend.js';
import { simdArena } from './wasm/arena.js';

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
 * Two implementations: WebAssembly SIMD (float32, d a multiple of 4) and plain TypeScript
 * with float64 sums (the reference, and every other case).
 */
export function attention(qkv: TypedArray, b: number, n: number, h: number, d: number, scale: number, dtype: DType): AttentionResult<TypedArray> {
  const arena = dtype === 'float32' && d % 4 === 0 ? simdArena() : null;
  if (arena === null) return attentionReference(qkv, b, n, h, d, scale, dtype);
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
}

export function attentionBackward(qkv: TypedArray, probs: TypedArray, gy: TypedArray, b: number, n: number, h: number, d: number, scale: number, dtype: DType): TypedArray {
  const arena = dtype === 'float32' && d % 4 === 0 ? simdArena() : null;
  if (arena === null) return attentionBackwardReference(qkv, probs, gy, b, n, h, d, scale, dtype);
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
}

/** The reference: the same formulas in TypeScript, sums in float64. */
function attentionReference(qkv: TypedArray, b: number, n: number, h: number, d: number, scale: number, dtype: DType): AttentionResult<TypedArray> {
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
}

function attentionBackwardReference(qkv: TypedArray, probs: TypedArray, gy: TypedArray, b: number, n: number, h: number, d: number, scale: number, dtype: DType): TypedArray {
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
}
