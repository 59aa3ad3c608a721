import { linear, Module, nn, noGrad, zeros, type Generator, type Tensor } from '@ggem/tensor';
import { normalizedRows } from './evaluate.js';

/**
 * Norm-softmax (cosine softmax) head for metric learning: logits = cos(f, w_c) / T with
 * L2-normalised features f and class proxies w_c; trained with cross-entropy.
 */
export class NormSoftmax extends Module {
  weight: Tensor;

  constructor(
    readonly dim: number,
    readonly classes: number,
    readonly temperature = 0.05,
    generator?: Generator,
  ) {
    super();
    if (!(temperature > 0)) throw new Error(`NormSoftmax: temperature must be > 0, got ${temperature}`);
    this.weight = nn.init.xavierUniform(zeros([classes, dim], { requiresGrad: true }), { generator });
  }

  forward(f: Tensor): Tensor {
    const unit = (t: Tensor) => t.div(t.mul(t).sum(-1, true).add(1e-12).sqrt());
    return linear(unit(f), unit(this.weight)).div(this.temperature);
  }
}

export interface RetrievalMetrics {
  /** Fraction of queries whose nearest neighbour shares their label. */
  recallAt1: number;
  /** Mean over queries of the precision among the R nearest, R = the number of other items of the query's class. */
  rPrecision: number;
  /** Mean average precision at R (Musgrave et al. 2020): (1/R) Σ_{i ≤ R} P(i)·rel(i). */
  mapAtR: number;
}

/**
 * Retrieval of every item among all the others by cosine similarity of their embeddings
 * `[n, d]` (the query itself excluded); queries whose class has no other member are skipped.
 */
export function retrievalMetrics(embeddings: Float32Array, labels: ArrayLike<number>, dim: number): RetrievalMetrics {
  const n = labels.length;
  const counts = new Map<number, number>();
  for (let i = 0; i < n; i++) counts.set(labels[i]!, (counts.get(labels[i]!) ?? 0) + 1);
  const e = normalizedRows(embeddings, n, dim);
  let r1 = 0;
  let rp = 0;
  let map = 0;
  let queries = 0;
  const chunk = 256;
  noGrad(() => {
    for (let s = 0; s < n; s += chunk) {
      const rows = Math.min(chunk, n - s);
      const sim = e.narrow(0, s, rows).matmul(e.transpose()).data;
      for (let q = 0; q < rows; q++) {
        const qi = s + q;
        const R = counts.get(labels[qi]!)! - 1;
        if (R === 0) continue;
        queries++;
        // rank the others by similarity, best first (ties: lower index first)
        const order = Array.from({ length: n }, (_, j) => j).filter((j) => j !== qi);
        order.sort((a, b) => sim[q * n + b]! - sim[q * n + a]! || a - b);
        let hits = 0;
        let ap = 0;
        for (let i = 0; i < R; i++) {
          if (labels[order[i]!] === labels[qi]) {
            hits++;
            ap += hits / (i + 1);
          }
        }
        r1 += labels[order[0]!] === labels[qi] ? 1 : 0;
        rp += hits / R;
        map += ap / R;
      }
    }
  });
  return queries === 0 ? { recallAt1: NaN, rPrecision: NaN, mapAtR: NaN } : { recallAt1: r1 / queries, rPrecision: rp / queries, mapAtR: map / queries };
}
