/**
 * What the panels compute from a loaded model, on the page's own thread (one image at a
 * time, a few milliseconds): predictions, the last block's patch tokens, the pooled value
 * of each GGeM group at a chosen p and its gradient over the patch grid, attention maps,
 * head distances and CKA. Every figure comes from the packages' own functions.
 */
import { ggem } from '@ggem/pooling';
import { noGrad, softmax, tensor, type Tensor } from '@ggem/tensor';
import { makeBatch, type Split } from '@ggem/train/core';
import { headMeanDistance, headSimilarity, type VisionTransformer } from '@ggem/vit';

/** Image i of a split as the model's input `[1, 1, 28, 28]`. */
export const imageOf = (s: Split, i: number): Tensor => makeBatch(s, [i], null, null).x;

/** The top-k classes and probabilities of an input `[1, 1, 28, 28]`. */
export function topK(model: VisionTransformer, x: Tensor, k = 3): { label: number; prob: number }[] {
  const probs = noGrad(() => softmax(model.eval().forward(x), -1)).data;
  return [...probs]
    .map((prob, label) => ({ label, prob }))
    .sort((a, b) => b.prob - a.prob)
    .slice(0, k);
}

/** Top-1 labels of the first n images of a split. */
export function predictions(model: VisionTransformer, s: Split, n: number): number[] {
  const idx = Int32Array.from({ length: Math.min(n, s.count) }, (_, i) => i);
  return [
    ...(noGrad(() =>
      model
        .eval()
        .forward(makeBatch(s, idx, null, null).x)
        .argmax(1),
    ).data as Int32Array),
  ];
}

/** The groups the page shows: the model's GGeM groups, one for GeM, else one per head. */
export function displayGroups(model: VisionTransformer): number {
  const c = model.config;
  return c.pooling === 'ggem' ? c.poolGroups : c.pooling === 'gem' ? 1 : c.numHeads;
}

/** The last block's patch tokens after the final norm, `[N, C]` (what the pooling sees), and the grid side. */
export function patchTokens(model: VisionTransformer, x: Tensor): { tokens: Tensor; grid: number } {
  const t = noGrad(() => model.eval().forwardFeatures(x)); // [1, 1 + N, C]
  const n = t.shape[1]! - 1;
  return { tokens: t.narrow(1, 1, n).squeeze(0), grid: Math.round(Math.sqrt(n)) };
}

/**
 * Per group, at the given p (one per group): the mean over the group's channels of the
 * token average, of GGeM's pooled value and of the token maximum, and ∂(pooled)/∂(token)
 * summed over the group's channels, per patch.
 */
export function pooledByGroup(tokens: Tensor, ps: number[]): { avg: number; pooled: number; max: number; grad: number[] }[] {
  const [n, c] = tokens.shape as [number, number];
  const g = ps.length;
  const per = Math.ceil(c / g);
  const x = tensor(tokens.data.slice(), { shape: [1, n, c] }).setRequiresGrad(true);
  const y = ggem(x, tensor(Float32Array.from(ps))); // [1, C]
  const avg = noGrad(() => x.mean(1)).data;
  const max = noGrad(() => x.max(1)).data;
  return ps.map((_, k) => {
    const lo = k * per;
    const hi = Math.min(c, lo + per);
    const mean = (a: ArrayLike<number>) => {
      let s = 0;
      for (let j = lo; j < hi; j++) s += a[j]!;
      return s / (hi - lo);
    };
    x.grad = null;
    y.narrow(1, lo, hi - lo)
      .sum()
      .backward(undefined, { retainGraph: true });
    const gx = x.grad!.data;
    const grad = Array.from({ length: n }, (_, t) => {
      let s = 0;
      for (let j = lo; j < hi; j++) s += gx[t * c + j]!;
      return s;
    });
    return { avg: mean(avg), pooled: mean(y.data), max: mean(max), grad };
  });
}

/** Block b's attention from patch `query` to every patch, per head: `[H][N]` (the class token left out, rows renormalised). */
export function attentionMaps(model: VisionTransformer, x: Tensor, block: number, query: number): number[][] {
  const { attn } = noGrad(() => model.eval().capture(block, () => model.forwardFeatures(x)));
  const [, h, t] = attn!.shape as [number, number, number];
  const a = attn!.data;
  return Array.from({ length: h }, (_, k) => {
    const row = Array.from({ length: t - 1 }, (_, j) => a[(k * t + 1 + query) * t + 1 + j]!);
    const s = row.reduce((p, v) => p + v, 0);
    return row.map((v) => v / s);
  });
}

/** Each head's mean attention distance (px) and the inter-head CKA of a block, over the first n test images. */
export function heads(model: VisionTransformer, s: Split, block: number, n = 64): { distance: number[]; cka: number[][] } {
  const idx = Int32Array.from({ length: Math.min(n, s.count) }, (_, i) => i);
  const images = makeBatch(s, idx, null, null).x;
  return { distance: headMeanDistance(model, images, block), cka: headSimilarity(model, images, block) };
}
