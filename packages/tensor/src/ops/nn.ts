import { isGradEnabled, record } from '../autograd/engine.js';
import { defaultGenerator, type Generator } from '../random.js';
import { promote, type DType } from '../dtype.js';
import { fmt, normAxis, sameShape, sizeOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { matmulT } from './matmul.js';

function softmaxImpl(x: Tensor, axis: number, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  const a = normAxis(op, axis, x.rank);
  const be = x.backend;
  const fused = be.softmax && be.softmaxBackward;
  if (!fused) return log ? logSoftmaxComposed(x, a) : softmaxComposed(x, a);
  const outer = sizeOf(x.shape.slice(0, a));
  const n = x.shape[a] ?? 1; // a 0-d tensor is one row of one: softmax 1, logSoftmax 0 (PyTorch)
  const inner = sizeOf(x.shape.slice(a + 1));
  const y = x.withStorage(be.softmax!(x.storage, outer, n, inner, log, x.dtype), x.shape, x.dtype);
  return record(y, op, [x], (g) => [x.withStorage(be.softmaxBackward!(y.storage, g.storage, outer, n, inner, log, x.dtype), x.shape, x.dtype)]);
}

/** exp(x − max) / Σ exp(x − max) along `axis`: rows sum to 1, stable for inputs of 1e4. */
export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxImpl(x, axis, false);
}

/** x − max − log Σ exp(x − max) along `axis`: log(softmax(x)) without overflow or log(0). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxImpl(x, axis, true);
}

/** Softmax from primitives (what a backend without the fused kernel runs); the max is a constant shift (softmax is invariant to it). */
export function softmaxComposed(x: Tensor, axis = -1): Tensor {
  const e = x.sub(x.max(axis, true).detach()).exp();
  return e.div(e.sum(axis, true));
}

/** Log-softmax from primitives: z − ln Σ eᶻ with z = x − max. */
export function logSoftmaxComposed(x: Tensor, axis = -1): Tensor {
  const z = x.sub(x.max(axis, true).detach());
  return z.sub(z.exp().sum(axis, true).log());
}

function checkLayerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null): number {
  const d = x.shape[x.rank - 1];
  if (d === undefined) throw new Error('layerNorm: expected a tensor of rank >= 1');
  for (const [name, p] of [
    ['weight', weight],
    ['bias', bias],
  ] as const) {
    if (p !== null && (p.rank !== 1 || p.shape[0] !== d))
      throw new Error(`layerNorm: ${name} has shape ${fmt(p.shape)} but the input's last dim is ${d} (input ${fmt(x.shape)})`);
  }
  if (bias !== null && weight === null) throw new Error('layerNorm: a bias needs a weight');
  return d;
}

/**
 * Layer normalisation over the last dim: (x − mean) / sqrt(var + eps) · weight + bias,
 * with the biased variance (as PyTorch). Fused forward and backward where the backend has
 * them, else `layerNormComposed`.
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  const d = checkLayerNorm(x, weight, bias);
  const be = x.backend;
  if (!be.layerNorm || !be.layerNormBackward) return layerNormComposed(x, weight, bias, eps);
  const rows = x.size / d;
  const r = be.layerNorm(x.storage, weight?.storage ?? null, bias?.storage ?? null, rows, d, eps, x.dtype);
  const y = x.withStorage(r.y, x.shape, x.dtype);
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return record(y, 'layerNorm', inputs, (g) => {
    const gr = be.layerNormBackward!(g.storage, x.storage, weight?.storage ?? null, r.mean, r.rstd, rows, d, x.dtype);
    const wrap = (s: unknown, shape: readonly number[]) => x.withStorage(s, shape, x.dtype);
    return [wrap(gr.gx, x.shape), wrap(gr.gw, [d]), wrap(gr.gb, [d])];
  });
}

/** Layer norm from primitives: x̂ = (x − μ)·(σ² + eps)^(−½) over the last dim, then x̂·w + b. */
export function layerNormComposed(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  checkLayerNorm(x, weight, bias);
  const centred = x.sub(x.mean(-1, true));
  const xh = centred.mul(centred.square().mean(-1, true).add(eps).rsqrt());
  const scaled = weight === null ? xh : xh.mul(weight);
  return bias === null ? scaled : scaled.add(bias);
}

function checkAttention(qkv: Tensor, numHeads: number): [b: number, n: number, dm: number, hd: number] {
  const [b, n, d3] = qkv.shape as [number, number, number];
  if (qkv.rank !== 3 || d3 % (3 * numHeads) !== 0 || !Number.isInteger(numHeads) || numHeads < 1) {
    throw new Error(`attention: expected qkv [B, N, 3·D] with D divisible by ${numHeads} heads, got ${fmt(qkv.shape)}`);
  }
  return [b, n, d3 / 3, d3 / 3 / numHeads];
}

/**
 * Multi-head self-attention over a packed projection qkv `[B, N, 3·D]`, the last axis
 * laid out [3, heads, D/heads] (timm's `qkv` Linear): per head, P = softmax(scale · q kᵀ)
 * and y = P v, with the heads side by side in y `[B, N, D]`. Fused where the backend has
 * the kernel (no permuted copies), else `attentionComposed`. Returns y and the attention
 * probabilities P `[B, heads, N, N]` (not differentiable), or null with `{ probs: false }`:
 * the backward keeps P either way, and when it is not returned the engine reuses its
 * storage once the backward has run (P is the largest activation of a small ViT).
 */
export function attention(qkv: Tensor, numHeads: number, scale?: number, options?: { probs?: true }): { y: Tensor; probs: Tensor };
export function attention(qkv: Tensor, numHeads: number, scale: number | undefined, options: { probs: boolean }): { y: Tensor; probs: Tensor | null };
export function attention(qkv: Tensor, numHeads: number, scale?: number, { probs = true }: { probs?: boolean } = {}): { y: Tensor; probs: Tensor | null } {
  const [b, n, dm, hd] = checkAttention(qkv, numHeads);
  const s = scale ?? hd ** -0.5;
  const be = qkv.backend;
  if (!be.attention || !be.attentionBackward) {
    const r = attentionComposed(qkv, numHeads, s);
    return { y: r.y, probs: probs ? r.probs.detach() : null };
  }
  // P is read by the backward and by the caller who asked for it; else the kernel may skip it
  const backward = isGradEnabled() && qkv.requiresGrad;
  const r = be.attention(qkv.storage, b, n, numHeads, hd, s, qkv.dtype, probs || backward);
  const p = () => {
    if (r.probs === null) throw new Error('attention: the backend returned no probabilities although they were asked for');
    return r.probs;
  };
  const y = record(
    qkv.withStorage(r.y, [b, n, dm], qkv.dtype),
    'attention',
    [qkv],
    (g) => [qkv.withStorage(be.attentionBackward!(qkv.storage, p(), g.storage, b, n, numHeads, hd, s, qkv.dtype), qkv.shape, qkv.dtype)],
    probs ? undefined : () => [p()],
  );
  return { y, probs: probs ? qkv.withStorage(p(), [b, numHeads, n, n], qkv.dtype) : null };
}

/** Attention from primitives: q, k, v as `[B, heads, N, D/heads]` views, P = softmax(scale · q kᵀ), y = P v with the heads side by side. */
export function attentionComposed(qkv: Tensor, numHeads: number, scale?: number): { y: Tensor; probs: Tensor } {
  const [b, n, dm, hd] = checkAttention(qkv, numHeads);
  const heads = qkv.reshape([b, n, 3, numHeads, hd]).permute([2, 0, 3, 1, 4]); // [3, B, heads, N, hd]
  const [q, k, v] = [0, 1, 2].map((i) => heads.narrow(0, i, 1).squeeze(0)) as [Tensor, Tensor, Tensor];
  const p = softmax(matmulT(q, k, false, true).mul(scale ?? hd ** -0.5), -1);
  return { y: p.matmul(v).permute([0, 2, 1, 3]).reshape([b, n, dm]), probs: p };
}

/**
 * y = x Wᵀ + b (+ residual) with W `[out, in]` (PyTorch's layout); leading dims of x are
 * flattened into one product. The bias and a residual of the output's shape (a skip
 * connection, `residual + linear(x)`) are added inside the product: one kernel, no
 * broadcast or add pass. With `activation` 'gelu' the result is gelu(linear(...)): fused
 * into the product where no gradient is needed (inference), composed otherwise.
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null, residual: Tensor | null = null, activation: 'gelu' | null = null): Tensor {
  const din = weight.shape[1];
  if (weight.rank !== 2 || x.shape[x.rank - 1] !== din) {
    throw new Error(`linear: input ${fmt(x.shape)} does not fit weight ${fmt(weight.shape)} (expected last dim ${din ?? '?'})`);
  }
  const dout = weight.shape[0]!;
  if (bias !== null && (bias.rank !== 1 || bias.shape[0] !== dout))
    throw new Error(`linear: bias ${fmt(bias.shape)} does not fit weight ${fmt(weight.shape)} (expected [${dout}])`);
  const outShape = [...x.shape.slice(0, -1), dout];
  if (residual !== null && !sameShape(residual.shape, outShape))
    throw new Error(`linear: residual ${fmt(residual.shape)} differs from the output ${fmt(outShape)}`);
  const dtype = [x, weight, bias, residual].reduce<DType>((d, t) => (t === null ? d : promote(d, t.dtype)), weight.dtype);
  if (dtype === 'int32') throw new Error('linear: expected float tensors, got int32');
  const [xc, wc, bc, rc] = [x, weight, bias, residual].map((t) => (t === null || t.dtype === dtype ? t : t.cast(dtype))) as [
    Tensor,
    Tensor,
    Tensor | null,
    Tensor | null,
  ];
  // the backward needs the product itself: with a gradient, the GELU is an op of its own
  if (activation !== null && isGradEnabled() && [xc, wc, bc, rc].some((t) => t?.requiresGrad)) return linear(x, weight, bias, residual).gelu();
  const flat = xc.rank === 2 ? xc : xc.reshape([-1, din!]);
  const be = flat.backend;
  // a weight lives where the backend's products read it in place (same values, same tensor)
  if (wc === weight && weight.isLeaf && be.pin) weight.storage = be.pin(weight.storage, dtype);
  const shape = [flat.shape[0]!, dout];
  const y = flat.withStorage(
    be.matmul(flat.storage, flat.shape, wc.storage, wc.shape, false, true, shape, dtype, bc?.storage ?? null, rc?.storage ?? null, activation),
    shape,
    dtype,
  );
  const inputs = [flat, wc, ...(bc ? [bc] : []), ...(rc ? [rc.reshape(shape)] : [])];
  const out = record(y, 'linear', inputs, (g, need) => [
    need[0] ? matmulT(g, wc, false, false) : null, //   dx = G W
    need[1] ? matmulT(g, flat, true, false) : null, //  dW = Gᵀ x
    ...(bc ? [need[2] ? g.sum(0) : null] : []), //      db = Σ_rows G
    ...(rc ? [g] : []), //                               d residual = G
  ]);
  return x.rank === 2 ? out : out.reshape(outShape);
}

export interface CrossEntropyOptions {
  /** Mixes the one-hot target with the uniform distribution: q = (1 − s)·onehot + s/C. */
  labelSmoothing?: number;
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Cross-entropy of logits `[B, C]` against integer labels `[B]` (int32 tensor or array):
 * −Σ_c q_c · log softmax(z)_c, averaged over the batch by default.
 */
export function crossEntropy(logits: Tensor, labels: Tensor | readonly number[], options: CrossEntropyOptions = {}): Tensor {
  const s = options.labelSmoothing ?? 0;
  if (logits.rank !== 2) throw new Error(`crossEntropy: expected logits of shape [B, C], got ${fmt(logits.shape)}`);
  if (!(s >= 0 && s <= 1)) throw new Error(`crossEntropy: labelSmoothing must be in [0, 1], got ${s}`);
  const [b, c] = logits.shape as [number, number];
  const lab: ArrayLike<number> = Array.isArray(labels) ? labels : (labels as Tensor).data;
  if (lab.length !== b) throw new Error(`crossEntropy: ${lab.length} labels for a batch of ${b} (logits ${fmt(logits.shape)})`);
  const q = logits.dtype === 'float64' ? new Float64Array(b * c) : new Float32Array(b * c);
  q.fill(s / c);
  for (let i = 0; i < b; i++) {
    const l = lab[i]!;
    if (!Number.isInteger(l) || l < 0 || l >= c) throw new Error(`crossEntropy: label ${l} at position ${i} is not an integer in [0, ${c})`);
    q[i * c + l]! += 1 - s;
  }
  const target = logits.withStorage(logits.backend.fromArray(q), [b, c], logits.dtype);
  const perRow = logSoftmax(logits, -1).mul(target).sum(1).neg();
  const reduction = options.reduction ?? 'mean';
  return reduction === 'none' ? perRow : reduction === 'sum' ? perRow.sum() : perRow.mean();
}

/** Inverted dropout: zeroes each entry with probability p and scales the rest by 1/(1−p); identity when not training. */
export function dropout(x: Tensor, p: number, training = true, generator: Generator = defaultGenerator): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const mask = x.dtype === 'float64' ? new Float64Array(x.size) : new Float32Array(x.size);
  const scale = 1 / (1 - p);
  for (let i = 0; i < mask.length; i++) mask[i] = generator.uniform() < p ? 0 : scale;
  return x.mul(x.withStorage(x.backend.fromArray(mask), x.shape, x.dtype));
}
