import type { DType } from '@ggem/tensor';
import type { GpujsBackend, GpuStorage } from '@ggem/tensor/gpujs';
import type { GemKernel } from './index.js';

/**
 * GeM / GGeM on the gpu.js backend: five kernels, run through `GpujsBackend.run` (the
 * gpu.js kernels of `@ggem/tensor` are written the same way: as source strings, which a
 * bundler's minifier leaves as gpu.js can parse them). Float32, and only where one
 * image's tokens fit one kernel's cells and all of x fits one kernel: other cases decline,
 * and `ggem` composes the op from the backend's primitives, which run in chunks.
 */
export const gpujsGem: GemKernel<GpuStorage> = {
  forward(backend, x, b, n, c, start, p, groups, eps, dtype: DType) {
    const be = backend as GpujsBackend;
    if (dtype !== 'float32' || b * c === 0 || b * Math.max(n * c, 2 * c) > be.maxCells) return undefined;
    const kc = { n, c, start, eps, per: Math.ceil(c / groups), tokens: n - start, bc: b * c };
    const M = be.run('gem max', gemMaxKernel, b * c, kc, x);
    const sums = be.run('gem sums', gemSumsKernel, 2 * b * c, kc, x, M, p);
    const y = be.run('gem', gemKernel, b * c, kc, M, sums, p);
    const saved: Saved = { x, M, sums, p, y, b, groups, k: kc };
    return { y, saved };
  },
  backward(backend, state, gy) {
    const be = backend as GpujsBackend;
    const { x, M, sums, p, y, b, groups, k: kc } = state as Saved;
    const gx = be.run('gem gx', gemGxKernel, b * kc.n! * kc.c!, kc, x, M, sums, p, gy);
    const gp = be.run('gem gp', gemGpKernel, groups, { ...kc, b }, sums, p, y, gy);
    return { gx, gp };
  },
};

/** What the forward keeps for the backward: its inputs, the column maxima M, the sums, y, and the constants. */
interface Saved {
  x: GpuStorage;
  M: GpuStorage;
  sums: GpuStorage;
  p: GpuStorage;
  y: GpuStorage;
  b: number;
  groups: number;
  k: Record<string, number>;
}

// GeM / GGeM over tokens [start, n) of x [b, n, c], p per group (channel j in group floor(j / per)), in the scaled
// form of ./reference.ts: r = max(x, eps)/M, m' = mean r^p, y = M·m'^(1/p).

/** M[b, j] = max(eps, max_t x). */
export const gemMaxKernel = `function (x) {
  const j = this.thread.x % this.constants.c;
  const bi = Math.floor(this.thread.x / this.constants.c);
  let m = this.constants.eps;
  // loops count from 0 (gpu.js's WGSL takes a counter started from a constant for a float, which ++ rejects)
  for (let i = 0; i < this.constants.tokens; i++) m = Math.max(m, x[(bi * this.constants.n + this.constants.start + i) * this.constants.c + j]);
  return m;
}`;

/** Cells [0, b·c): Σ_t r^p; cells [b·c, 2·b·c): Σ_t r^p·ln r. */
export const gemSumsKernel = `function (x, M, p) {
  const second = this.thread.x >= this.constants.bc ? 1 : 0;
  const bc = this.thread.x - second * this.constants.bc;
  const j = bc % this.constants.c;
  const bi = Math.floor(bc / this.constants.c);
  const pj = p[Math.floor(j / this.constants.per)];
  const lm = Math.log(M[bc]);
  let s = 0;
  for (let i = 0; i < this.constants.tokens; i++) {
    const lr = Math.log(Math.max(x[(bi * this.constants.n + this.constants.start + i) * this.constants.c + j], this.constants.eps)) - lm;
    const e = Math.exp(pj * lr);
    s += second === 1 ? e * lr : e;
  }
  return s;
}`;

export const gemKernel = `function (M, sums, p) {
  const j = this.thread.x % this.constants.c;
  const pj = p[Math.floor(j / this.constants.per)];
  return M[this.thread.x] * Math.pow(sums[this.thread.x] / this.constants.tokens, 1 / pj);
}`;

/** gx = gy·(M·m'^((1−p)/p)/N)·r^p/xc on pooled tokens where x >= eps, else 0. */
export const gemGxKernel = `function (x, M, sums, p, gy) {
  const j = this.thread.x % this.constants.c;
  const t = Math.floor(this.thread.x / this.constants.c) % this.constants.n;
  const bi = Math.floor(this.thread.x / (this.constants.c * this.constants.n));
  const v = x[this.thread.x];
  if (t < this.constants.start || v < this.constants.eps) return 0;
  const bc = bi * this.constants.c + j;
  const pj = p[Math.floor(j / this.constants.per)];
  const m = sums[bc] / this.constants.tokens;
  const kx = (M[bc] * Math.pow(m, (1 - pj) / pj)) / this.constants.tokens;
  return (gy[bc] * kx * Math.exp(pj * (Math.log(v) - Math.log(M[bc])))) / v;
}`;

/** gp[g] = Σ_b Σ_{j in g} gy·(y/p)·(T/(N·m') − ln m'/p). */
export const gemGpKernel = `function (sums, p, y, gy) {
  const pg = p[this.thread.x];
  const bc = this.constants.bc;
  let s = 0;
  for (let bi = 0; bi < this.constants.b; bi++) {
    for (let jj = 0; jj < this.constants.per; jj++) {
      const j = this.thread.x * this.constants.per + jj;
      if (j < this.constants.c) {
        const i = bi * this.constants.c + j;
        const m = sums[i] / this.constants.tokens;
        s += gy[i] * (y[i] / pg) * (sums[bc + i] / this.constants.tokens / m - Math.log(m) / pg);
      }
    }
  }
  return s;
}`;
