import type { CpuKernel } from '../backend.js';
import { allocate } from './pool.js';

/**
 * Softmax along the middle axis, shifted by the max so that inputs of 1e4 do not overflow.
 * Each exp is computed once: stored, summed, then scaled (or replaced by x − lse for log).
 */
export const softmax: CpuKernel<'softmax'> = (x, outer, n, inner, log, dtype) => {
  const out = allocate(dtype, x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      const end = base + n * inner;
      let m = -Infinity;
      for (let k = base; k < end; k += inner) m = Math.max(m, x[k]!);
      let s = 0;
      for (let k = base; k < end; k += inner) {
        const e = Math.exp(x[k]! - m);
        out[k] = e;
        s += e;
      }
      if (log) {
        const lse = m + Math.log(s);
        for (let k = base; k < end; k += inner) out[k] = x[k]! - lse;
      } else {
        const r = 1 / s;
        for (let k = base; k < end; k += inner) out[k] = out[k]! * r;
      }
    }
  }
  return out;
};

/**
 * softmax: dx = y ⊙ (g − Σ g⊙y);  log-softmax: dx = g − softmax(x) · Σ g, with softmax = exp(y).
 */
export const softmaxBackward: CpuKernel<'softmaxBackward'> = (y, g, outer, n, inner, log, dtype) => {
  const out = allocate(dtype, y.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let s = 0;
      if (log) {
        for (let j = 0; j < n; j++) s += g[base + j * inner]!;
        for (let j = 0; j < n; j++) {
          const k = base + j * inner;
          out[k] = g[k]! - Math.exp(y[k]!) * s;
        }
      } else {
        for (let j = 0; j < n; j++) s += g[base + j * inner]! * y[base + j * inner]!;
        for (let j = 0; j < n; j++) {
          const k = base + j * inner;
          out[k] = y[k]! * (g[k]! - s);
        }
      }
    }
  }
  return out;
};

/** y = (x − mean) / sqrt(var + eps) · w + b over rows of length d (biased variance, as PyTorch). */
export const layerNorm: CpuKernel<'layerNorm'> = (x, w, b, rows, d, eps, dtype) => {
  const y = allocate(dtype, rows * d);
  const mean = allocate(dtype, rows);
  const rstd = allocate(dtype, rows);
  for (let r = 0; r < rows; r++) {
    const base = r * d;
    let s = 0;
    for (let j = 0; j < d; j++) s += x[base + j]!;
    const mu = s / d;
    let v = 0;
    for (let j = 0; j < d; j++) {
      const c = x[base + j]! - mu;
      v += c * c;
    }
    const rs = 1 / Math.sqrt(v / d + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < d; j++) {
      const xh = (x[base + j]! - mu) * rs;
      y[base + j] = w === null ? xh : b === null ? xh * w[j]! : xh * w[j]! + b[j]!;
    }
  }
  return { y, mean, rstd };
};

/**
 * With x̂ = (x − μ)·rstd and ĝ = g ⊙ w:
 * dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)),  dw = Σ_rows g ⊙ x̂,  db = Σ_rows g.
 * The μ and rstd used are the ones the forward computed (read back from its storage).
 */
export const layerNormBackward: CpuKernel<'layerNormBackward'> = (g, x, w, mean, rstd, rows, d, dtype) => {
  const gx = allocate(dtype, rows * d);
  const gw = new Float64Array(d);
  const gb = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const base = r * d;
    const mu = mean[r]!;
    const rs = rstd[r]!;
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < d; j++) {
      const xh = (x[base + j]! - mu) * rs;
      const gj = g[base + j]!;
      const gh = w === null ? gj : gj * w[j]!;
      sg += gh;
      sgx += gh * xh;
      gw[j]! += gj * xh;
      gb[j]! += gj;
    }
    sg /= d;
    sgx /= d;
    for (let j = 0; j < d; j++) {
      const xh = (x[base + j]! - mu) * rs;
      const gh = w === null ? g[base + j]! : g[base + j]! * w[j]!;
      gx[base + j] = rs * (gh - sg - xh * sgx);
    }
  }
  const cw = allocate(dtype, d);
  const cb = allocate(dtype, d);
  cw.set(gw);
  cb.set(gb);
  return { gx, gw: cw, gb: cb };
};
