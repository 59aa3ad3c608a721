/**
 * The gpu.js backend's kernels. gpu.js compiles their source to GLSL / WGSL / WebAssembly:
 * each is a plain function of `this.thread.x` (the flat output cell) and `this.constants`
 * (shapes and loop bounds), with every value float32. They are written as source strings,
 * not functions: gpu.js parses a function's source, and a user's bundler minifies functions
 * into forms it cannot parse ("Unhandled binary expression between Array & Number"), while
 * it leaves strings alone.
 */
import { binaryTable, type BinaryOp } from '../../ops/tables/binary.js';
import { unaryTable, type UnaryOp } from '../../ops/tables/unary.js';

/** The kernel of a unary op of the table: its gpu.js body applied to the cell's value. */
export function unaryKernel(op: UnaryOp): string {
  return `function (x) { const v = x[this.thread.x]; ${unaryTable[op].gpu} }`;
}

/** The input gradient g·f′(x) of an op whose table entry has a pointwise derivative, if it has one. */
export function unaryGradKernel(op: UnaryOp): string | undefined {
  const df = unaryTable[op].df;
  return df && `function (x, g) { const v = x[this.thread.x]; const gv = g[this.thread.x]; ${df.gpu} }`;
}

/** The broadcast index: i0..i3, the cell's index in up to 4 dims d0..d3 of the output. */
const BROADCAST_INDEX = `    const i = this.thread.x;
    const i3 = i % this.constants.d3;
    const r3 = Math.floor(i / this.constants.d3);
    const i2 = r3 % this.constants.d2;
    const r2 = Math.floor(r3 / this.constants.d2);
    const i1 = r2 % this.constants.d1;
    const i0 = Math.floor(r2 / this.constants.d1);
`;

/**
 * The kernel of a binary op of the table: out[i] = x op y with x = a[ia], y = b[ib], the
 * indices through up to 4 broadcast dims (d0..d3, strides a0..a3, b0..b3).
 */
export function binaryKernel(op: BinaryOp): string {
  return `function (a, b) {
${BROADCAST_INDEX}    const x = a[i0 * this.constants.a0 + i1 * this.constants.a1 + i2 * this.constants.a2 + i3 * this.constants.a3];
    const y = b[i0 * this.constants.b0 + i1 * this.constants.b1 + i2 * this.constants.b2 + i3 * this.constants.b3];
    ${binaryTable[op].gpu}
  }`;
}

/** out[i] = cond[ic] ≠ 0 ? a[ia] : b[ib], broadcast as binaryKernel's (condition strides c0..c3). */
export const whereKernel = `function (cond, a, b) {
${BROADCAST_INDEX}    if (cond[i0 * this.constants.c0 + i1 * this.constants.c1 + i2 * this.constants.c2 + i3 * this.constants.c3] !== 0) {
      return a[i0 * this.constants.a0 + i1 * this.constants.a1 + i2 * this.constants.a2 + i3 * this.constants.a3];
    }
    return b[i0 * this.constants.b0 + i1 * this.constants.b1 + i2 * this.constants.b2 + i3 * this.constants.b3];
  }`;

export const clampKernel = `function (x) {
  return Math.min(Math.max(x[this.thread.x], this.constants.lo), this.constants.hi);
}`;

/** out[i] = x[offset + Σ_k idx_k·s_k] with idx the index of i in a view of up to 6 dims (d0..d5). */
export const stridedKernel = `function (x) {
  let r = this.thread.x;
  const i5 = r % this.constants.d5;
  r = Math.floor(r / this.constants.d5);
  const i4 = r % this.constants.d4;
  r = Math.floor(r / this.constants.d4);
  const i3 = r % this.constants.d3;
  r = Math.floor(r / this.constants.d3);
  const i2 = r % this.constants.d2;
  r = Math.floor(r / this.constants.d2);
  const i1 = r % this.constants.d1;
  const i0 = Math.floor(r / this.constants.d1);
  return x[
    this.constants.offset +
      i0 * this.constants.s0 +
      i1 * this.constants.s1 +
      i2 * this.constants.s2 +
      i3 * this.constants.s3 +
      i4 * this.constants.s4 +
      i5 * this.constants.s5
  ];
}`;

/** Two blocks [outer, n0, inner] and [outer, n1, inner] side by side along the middle axis. */
export const concat2Kernel = `function (a, b) {
  const j = this.thread.x % this.constants.inner;
  const rest = Math.floor(this.thread.x / this.constants.inner);
  const n = this.constants.n0 + this.constants.n1;
  const t = rest % n;
  const o = Math.floor(rest / n);
  if (t < this.constants.n0) return a[(o * this.constants.n0 + t) * this.constants.inner + j];
  return b[(o * this.constants.n1 + t - this.constants.n0) * this.constants.inner + j];
}`;

/** out[o, j, i] = x[o, idx[j], i] over [outer, n, inner] (idx as floats: exact below 2²⁴). */
export const gatherKernel = `function (x, idx) {
  const i = this.thread.x % this.constants.inner;
  const r = Math.floor(this.thread.x / this.constants.inner);
  const j = r % this.constants.nIdx;
  const o = Math.floor(r / this.constants.nIdx);
  return x[(o * this.constants.n + idx[j]) * this.constants.inner + i];
}`;

/** The adjoint of gather: out[o, t, i] = Σ_{j: idx[j] = t} g[o, j, i], a loop over the index per cell. */
export const scatterAddKernel = `function (g, idx) {
  const i = this.thread.x % this.constants.inner;
  const r = Math.floor(this.thread.x / this.constants.inner);
  const t = r % this.constants.n;
  const o = Math.floor(r / this.constants.n);
  let s = 0;
  for (let j = 0; j < this.constants.nIdx; j++) {
    if (idx[j] === t) s += g[(o * this.constants.nIdx + j) * this.constants.inner + i];
  }
  return s;
}`;

// Attention over qkv [b, n, 3·dm] (dm = h·d, the last axis laid out [3, h, d]); P and S are [b, h, n, n].

/** S[b, h, i, j] = scale · q_i · k_j. */
export const attentionScoresKernel = `function (qkv) {
  const n = this.constants.n;
  const j = this.thread.x % n;
  const i = Math.floor(this.thread.x / n) % n;
  const bh = Math.floor(this.thread.x / (n * n));
  const hi = bh % this.constants.h;
  const bi = Math.floor(bh / this.constants.h);
  const q = (bi * n + i) * 3 * this.constants.dm + hi * this.constants.d;
  const k = (bi * n + j) * 3 * this.constants.dm + this.constants.dm + hi * this.constants.d;
  let s = 0;
  for (let c = 0; c < this.constants.d; c++) s += qkv[q + c] * qkv[k + c];
  return s * this.constants.scale;
}`;

/** y[b, i, h·d + c] = Σ_j P[b, h, i, j] · v_j[c]. */
export const attentionOutKernel = `function (p, qkv) {
  const n = this.constants.n;
  const c = this.thread.x % this.constants.d;
  const hi = Math.floor(this.thread.x / this.constants.d) % this.constants.h;
  const bi = Math.floor(this.thread.x / (this.constants.dm * n));
  const i = Math.floor(this.thread.x / this.constants.dm) % n;
  const prow = ((bi * this.constants.h + hi) * n + i) * n;
  let s = 0;
  for (let j = 0; j < n; j++) s += p[prow + j] * qkv[(bi * n + j) * 3 * this.constants.dm + 2 * this.constants.dm + hi * this.constants.d + c];
  return s;
}`;

/** dP[b, h, i, j] = gy_i · v_j (gy the head's slice of the output gradient). */
export const attentionDpKernel = `function (gy, qkv) {
  const n = this.constants.n;
  const j = this.thread.x % n;
  const i = Math.floor(this.thread.x / n) % n;
  const bh = Math.floor(this.thread.x / (n * n));
  const hi = bh % this.constants.h;
  const bi = Math.floor(bh / this.constants.h);
  const g = (bi * n + i) * this.constants.dm + hi * this.constants.d;
  const v = (bi * n + j) * 3 * this.constants.dm + 2 * this.constants.dm + hi * this.constants.d;
  let s = 0;
  for (let c = 0; c < this.constants.d; c++) s += gy[g + c] * qkv[v + c];
  return s;
}`;

/**
 * The qkv gradient, dS = P ⊙ (dP − rowsum(P ⊙ dP)) given: dq_t = scale·Σ_j dS[t, j] k_j,
 * dk_t = scale·Σ_i dS[i, t] q_i, dv_t = Σ_i P[i, t] gy_i.
 */
export const attentionGradKernel = `function (qkv, p, ds, gy) {
  const n = this.constants.n;
  const dm = this.constants.dm;
  const c = this.thread.x % this.constants.d;
  const hi = Math.floor(this.thread.x / this.constants.d) % this.constants.h;
  const part = Math.floor(this.thread.x / dm) % 3;
  const t = Math.floor(this.thread.x / (3 * dm)) % n;
  const bi = Math.floor(this.thread.x / (3 * dm * n));
  const base = (bi * this.constants.h + hi) * n * n;
  let s = 0;
  if (part === 0) {
    for (let j = 0; j < n; j++) s += ds[base + t * n + j] * qkv[(bi * n + j) * 3 * dm + dm + hi * this.constants.d + c];
    return s * this.constants.scale;
  }
  if (part === 1) {
    for (let i = 0; i < n; i++) s += ds[base + i * n + t] * qkv[(bi * n + i) * 3 * dm + hi * this.constants.d + c];
    return s * this.constants.scale;
  }
  for (let i = 0; i < n; i++) s += p[base + i * n + t] * gy[(bi * n + i) * dm + hi * this.constants.d + c];
  return s;
}`;

/** Sum, max or min over the middle axis of [outer, n, inner]. */
export const reduceKernel = `function (x) {
  const o = Math.floor(this.thread.x / this.constants.inner);
  const j = this.thread.x % this.constants.inner;
  const base = o * this.constants.n * this.constants.inner + j;
  let acc = x[base];
  for (let t = 1; t < this.constants.n; t++) {
    const v = x[base + t * this.constants.inner];
    if (this.constants.op === 0) acc += v;
    else if (this.constants.op === 1) acc = Math.max(acc, v);
    else acc = Math.min(acc, v);
  }
  return acc;
}`;

/** C[t, r, c] = Σ_p A[t, r, p]·B[t, p, c] (+ bias[c]) (+ residual), A and B read through strides, batch strides 0 to broadcast. */
export const matmulKernel = `function (a, b, bias, residual) {
  const c = this.thread.x % this.constants.n;
  const rt = Math.floor(this.thread.x / this.constants.n);
  const r = rt % this.constants.m;
  const t = Math.floor(rt / this.constants.m);
  const ab = t * this.constants.aMat + r * this.constants.ars;
  const bb = t * this.constants.bMat + c * this.constants.bcs;
  let s = 0;
  for (let p = 0; p < this.constants.k; p++) s += a[ab + p * this.constants.acs] * b[bb + p * this.constants.brs];
  if (this.constants.bias === 1) s += bias[c];
  if (this.constants.residual === 1) s += residual[this.thread.x];
  return s;
}`;

/** Softmax (or log-softmax) over the middle axis; each cell recomputes its row's max and sum (n is small in a ViT). */
export const softmaxKernel = `function (x) {
  const j = this.thread.x % this.constants.inner;
  const o = Math.floor(this.thread.x / (this.constants.n * this.constants.inner));
  const base = o * this.constants.n * this.constants.inner + j;
  let mx = x[base];
  for (let t = 1; t < this.constants.n; t++) mx = Math.max(mx, x[base + t * this.constants.inner]);
  let s = 0;
  for (let t = 0; t < this.constants.n; t++) s += Math.exp(x[base + t * this.constants.inner] - mx);
  if (this.constants.log === 1) return x[this.thread.x] - mx - Math.log(s);
  return Math.exp(x[this.thread.x] - mx) / s;
}`;

export const softmaxBackwardKernel = `function (y, g) {
  const j = this.thread.x % this.constants.inner;
  const o = Math.floor(this.thread.x / (this.constants.n * this.constants.inner));
  const base = o * this.constants.n * this.constants.inner + j;
  let s = 0;
  if (this.constants.log === 1) {
    for (let t = 0; t < this.constants.n; t++) s += g[base + t * this.constants.inner];
    return g[this.thread.x] - Math.exp(y[this.thread.x]) * s;
  }
  for (let t = 0; t < this.constants.n; t++) s += y[base + t * this.constants.inner] * g[base + t * this.constants.inner];
  return y[this.thread.x] * (g[this.thread.x] - s);
}`;

export const rowMeanKernel = `function (x) {
  let s = 0;
  for (let j = 0; j < this.constants.d; j++) s += x[this.thread.x * this.constants.d + j];
  return s / this.constants.d;
}`;

export const rowRstdKernel = `function (x, mean) {
  const mu = mean[this.thread.x];
  let v = 0;
  for (let j = 0; j < this.constants.d; j++) {
    const c = x[this.thread.x * this.constants.d + j] - mu;
    v += c * c;
  }
  return 1 / Math.sqrt(v / this.constants.d + this.constants.eps);
}`;

/** gx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with x̂ = (x − μ)·rstd, ĝ = g·w; each cell recomputes its row's two means. */
export const layerNormGxKernel = `function (g, x, w, mean, rstd) {
  const row = Math.floor(this.thread.x / this.constants.d);
  const mu = mean[row];
  const rs = rstd[row];
  let sg = 0;
  let sgx = 0;
  for (let j = 0; j < this.constants.d; j++) {
    const gh = g[row * this.constants.d + j] * w[j];
    sg += gh;
    sgx += gh * (x[row * this.constants.d + j] - mu) * rs;
  }
  const k = this.thread.x % this.constants.d;
  const xh = (x[this.thread.x] - mu) * rs;
  return rs * (g[this.thread.x] * w[k] - sg / this.constants.d - (xh * sgx) / this.constants.d);
}`;

/** gw[j] = Σ_rows g·x̂. */
export const layerNormGwKernel = `function (g, x, mean, rstd) {
  let s = 0;
  for (let r = 0; r < this.constants.rows; r++) s += g[r * this.constants.d + this.thread.x] * (x[r * this.constants.d + this.thread.x] - mean[r]) * rstd[r];
  return s;
}`;

export const layerNormGbKernel = `function (g) {
  let s = 0;
  for (let r = 0; r < this.constants.rows; r++) s += g[r * this.constants.d + this.thread.x];
  return s;
}`;

export const layerNormKernel = `function (x, mean, rstd, w, b) {
  const row = Math.floor(this.thread.x / this.constants.d);
  const j = this.thread.x % this.constants.d;
  return (x[this.thread.x] - mean[row]) * rstd[row] * w[j] + b[j];
}`;

/** Cells [at, at + n) of x (a piece of a larger storage, copied to a kernel's own output). */
export const sliceKernel = `function (x) {
  return x[this.thread.x + this.constants.at];
}`;

/**
 * The adjoint of a strided view: out[o] = Σ x[v] over the view positions v that address o.
 * The view's dims with a stride (t0 > t1 > … > t5, sizes e, x strides xs) are such that
 * each stride exceeds the span of the smaller ones, so o − offset splits into them in one
 * way at most (a cell no position addresses gets 0); the dims of stride 0 (sizes f, x
 * strides zs, Z positions in all) each add the x values along them (a broadcast's sum).
 */
export const stridedAdjointKernel = `function (x) {
  let r = this.thread.x - this.constants.offset;
  if (r < 0) return 0;
  let v = Math.floor(r / this.constants.t0);
  if (v >= this.constants.e0) return 0;
  r -= v * this.constants.t0;
  let xi = v * this.constants.xs0;
  v = Math.floor(r / this.constants.t1);
  if (v >= this.constants.e1) return 0;
  r -= v * this.constants.t1;
  xi += v * this.constants.xs1;
  v = Math.floor(r / this.constants.t2);
  if (v >= this.constants.e2) return 0;
  r -= v * this.constants.t2;
  xi += v * this.constants.xs2;
  v = Math.floor(r / this.constants.t3);
  if (v >= this.constants.e3) return 0;
  r -= v * this.constants.t3;
  xi += v * this.constants.xs3;
  v = Math.floor(r / this.constants.t4);
  if (v >= this.constants.e4) return 0;
  r -= v * this.constants.t4;
  xi += v * this.constants.xs4;
  v = Math.floor(r / this.constants.t5);
  if (v >= this.constants.e5) return 0;
  r -= v * this.constants.t5;
  xi += v * this.constants.xs5;
  if (r !== 0) return 0;
  let s = 0;
  for (let z = 0; z < this.constants.Z; z++) {
    let q = z;
    const z5 = q % this.constants.f5;
    q = Math.floor(q / this.constants.f5);
    const z4 = q % this.constants.f4;
    q = Math.floor(q / this.constants.f4);
    const z3 = q % this.constants.f3;
    q = Math.floor(q / this.constants.f3);
    const z2 = q % this.constants.f2;
    q = Math.floor(q / this.constants.f2);
    const z1 = q % this.constants.f1;
    const z0 = Math.floor(q / this.constants.f1);
    s +=
      x[
        xi +
          z0 * this.constants.zs0 +
          z1 * this.constants.zs1 +
          z2 * this.constants.zs2 +
          z3 * this.constants.zs3 +
          z4 * this.constants.zs4 +
          z5 * this.constants.zs5
      ];
  }
  return s;
}`;
