import { Identity, noGrad, tensor, type Tensor } from '@ggem/tensor';
import type { VisionTransformer } from '@ggem/vit';
import { makeBatch } from './data/batches.js';
import type { Split } from './data/split.js';

/** The pooled features `[n, D]` of images `x` in eval mode (the model goes back to train mode after), off the tape. */
export function features(model: VisionTransformer, x: Tensor): Tensor {
  model.eval();
  try {
    return noGrad(() => model.forwardHead(model.forwardFeatures(x), true));
  } finally {
    model.train();
  }
}

/**
 * Runs the model in eval mode over a split; returns logits' argmax and the pooled features
 * `[n, D]`. `pooled` computes a batch's features: on this thread by default, or split over
 * data-parallel replicas (`DataParallel.infer`); the head runs here.
 */
export function predict(
  model: VisionTransformer,
  s: Split,
  batchSize = 256,
  pooled: (x: Tensor) => Tensor = (x) => features(model, x),
): { predictions: Int32Array; features: Float32Array; dim: number } {
  const predictions = new Int32Array(s.count);
  const dim = model.config.embedDim;
  const out = new Float32Array(s.count * dim);
  for (let start = 0; start < s.count; start += batchSize) {
    const idx = Int32Array.from({ length: Math.min(batchSize, s.count - start) }, (_, i) => start + i);
    const { x } = makeBatch(s, idx, null, null);
    const f = pooled(x);
    out.set(f.data as Float32Array, start * dim);
    if (!(model.head instanceof Identity)) predictions.set(noGrad(() => model.head.forward(f).argmax(1).data) as Int32Array, start);
  }
  return { predictions, features: out, dim };
}

export function accuracy(predictions: ArrayLike<number>, labels: ArrayLike<number>): number {
  let ok = 0;
  for (let i = 0; i < labels.length; i++) if (predictions[i] === labels[i]) ok++;
  return ok / labels.length;
}

/** Rows of `f` `[n, d]` scaled to unit L2 norm (zero rows stay zero), as a tensor. */
export function normalizedRows(f: Float32Array, n: number, d: number): Tensor {
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < d; j++) s += f[i * d + j]! ** 2;
    const r = 1 / Math.sqrt(s || 1);
    for (let j = 0; j < d; j++) out[i * d + j] = f[i * d + j]! * r;
  }
  return tensor(out, { shape: [n, d] });
}

/**
 * k-NN accuracy on pooled features: cosine similarity to every training feature, majority
 * vote of the k nearest (a tie goes to the class whose members are nearer in total).
 */
export function knnAccuracy(
  train: { features: Float32Array; labels: ArrayLike<number> },
  test: { features: Float32Array; labels: ArrayLike<number> },
  dim: number,
  k: number,
): number {
  const nTrain = train.labels.length;
  const nTest = test.labels.length;
  const db = normalizedRows(train.features, nTrain, dim);
  const q = normalizedRows(test.features, nTest, dim);
  let correct = 0;
  const chunk = 512;
  noGrad(() => {
    for (let s = 0; s < nTest; s += chunk) {
      const rows = Math.min(chunk, nTest - s);
      const sim = q.narrow(0, s, rows).matmul(db.transpose()).data; // [rows, nTrain]
      for (let r = 0; r < rows; r++) {
        const top = topK(sim, r * nTrain, nTrain, k);
        const votes = new Float64Array(10);
        const weight = new Float64Array(10);
        for (const j of top) {
          votes[train.labels[j]!]!++;
          weight[train.labels[j]!]! += sim[r * nTrain + j]!;
        }
        let best = 0;
        for (let c = 1; c < 10; c++) if (votes[c]! > votes[best]! || (votes[c] === votes[best] && weight[c]! > weight[best]!)) best = c;
        if (best === test.labels[s + r]) correct++;
      }
    }
  });
  return correct / nTest;
}

/** Indices of the k largest values of a[off .. off+n). */
function topK(a: ArrayLike<number>, off: number, n: number, k: number): number[] {
  const best: number[] = [];
  for (let j = 0; j < n; j++) {
    const v = a[off + j]!;
    if (best.length < k) {
      best.push(j);
      best.sort((x, y) => a[off + y]! - a[off + x]!);
    } else if (v > a[off + best[k - 1]!]!) {
      best[k - 1] = j;
      for (let i = k - 1; i > 0 && a[off + best[i]!]! > a[off + best[i - 1]!]!; i--) [best[i], best[i - 1]] = [best[i - 1]!, best[i]!];
    }
  }
  return best;
}
