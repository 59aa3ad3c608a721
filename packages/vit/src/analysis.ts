import { noGrad, type Tensor } from '@ggem/tensor';
import type { VisionTransformer } from './vit.js';

/**
 * The GGeM paper's analysis (§3.4): inter-head similarity with linear CKA, attention head
 * mean distance, and the trained p of every group (`model.currentP()`).
 */

/**
 * Linear CKA (Kornblith et al. 2019) between representations X `[n, d1]` and Y `[n, d2]`
 * of the same n examples: with column-centred X and Y,
 *     CKA = ‖YᵀX‖²_F / (‖XᵀX‖_F · ‖YᵀY‖_F)  ∈ [0, 1].
 * Invariant to orthogonal transforms and isotropic scaling of either side. Computed in float64.
 */
export function linearCka(x: Tensor, y: Tensor): number {
  if (x.rank !== 2 || y.rank !== 2 || x.shape[0] !== y.shape[0]) {
    throw new Error(`linearCka: expected [n, d1] and [n, d2] with the same n, got [${x.shape.join(', ')}] and [${y.shape.join(', ')}]`);
  }
  return noGrad(() => {
    const xc = center(x.cast('float64'));
    const yc = center(y.cast('float64'));
    const xy = frob2(yc.transpose().matmul(xc));
    const xx = Math.sqrt(frob2(xc.transpose().matmul(xc)));
    const yy = Math.sqrt(frob2(yc.transpose().matmul(yc)));
    return xx === 0 || yy === 0 ? 0 : xy / (xx * yy);
  });
}

const center = (t: Tensor): Tensor => t.sub(t.mean(0, true));
const frob2 = (t: Tensor): number => t.mul(t).sum().item();

/**
 * The H×H linear-CKA similarity between the heads of a block: each head's output over
 * the tokens of one image (`[N, head_dim]`), compared pairwise, averaged over the images.
 */
export function headSimilarity(model: VisionTransformer, images: Tensor, block: number): number[][] {
  const heads = noGrad(() => model.eval().capture(block, () => model.forwardFeatures(images))).heads!; // [B, H, N, hd]
  const [b, h] = heads.shape as [number, number];
  const sim = Array.from({ length: h }, () => new Array<number>(h).fill(0));
  for (let i = 0; i < b; i++) {
    const img = heads.narrow(0, i, 1).squeeze(0);
    const per = Array.from({ length: h }, (_, k) => img.narrow(0, k, 1).squeeze(0));
    for (let p = 0; p < h; p++)
      for (let q = p; q < h; q++) {
        const v = p === q ? 1 : linearCka(per[p]!, per[q]!);
        sim[p]![q]! += v / b;
        if (p !== q) sim[q]![p]! += v / b;
      }
  }
  return sim;
}

/**
 * Attention-weighted distance, per head: attn `[H, G², G²]` over the positions of a G×G
 * patch grid (rows sum to 1); the mean over queries of Σ_k attn[q, k] · ‖pos(q) − pos(k)‖,
 * in pixels (grid steps × patch size).
 */
export function attentionDistance(attn: Tensor, grid: number, patchSize: number): number[] {
  const [h, nq, nk] = attn.shape as [number, number, number];
  if (attn.rank !== 3 || nq !== grid * grid || nk !== grid * grid) {
    throw new Error(`attentionDistance: expected attention [H, ${grid * grid}, ${grid * grid}] for a ${grid}×${grid} grid, got [${attn.shape.join(', ')}]`);
  }
  const d = attn.data;
  const dist = new Float64Array(nq * nk);
  for (let q = 0; q < nq; q++)
    for (let k = 0; k < nk; k++) {
      dist[q * nk + k] = Math.hypot(Math.floor(q / grid) - Math.floor(k / grid), (q % grid) - (k % grid)) * patchSize;
    }
  return Array.from({ length: h }, (_, i) => {
    let s = 0;
    for (let j = 0; j < nq * nk; j++) s += d[i * nq * nk + j]! * dist[j]!;
    return s / nq;
  });
}

/**
 * Attention head mean distance of a block (paper Fig. 5): patch-to-patch attention (class
 * token left out, rows renormalised to sum to 1), per head, averaged over the images.
 */
export function headMeanDistance(model: VisionTransformer, images: Tensor, block: number): number[] {
  const attn = noGrad(() => model.eval().capture(block, () => model.forwardFeatures(images))).attn!; // [B, H, 1+N, 1+N]
  const [b, h, t] = attn.shape as [number, number, number];
  const grid = model.patch_embed.gridSize;
  const out = new Array<number>(h).fill(0);
  for (let i = 0; i < b; i++) {
    const patches = attn
      .narrow(0, i, 1)
      .squeeze(0)
      .slice([null, [1, t], [1, t]]);
    const rows = noGrad(() => patches.div(patches.sum(-1, true)));
    attentionDistance(rows, grid, model.config.patchSize).forEach((v, k) => (out[k]! += v / b));
  }
  return out;
}
