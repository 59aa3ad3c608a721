import { noGrad, type Tensor } from '@ggem/tensor';

/** One class of a prediction: its index, its name when labels are given, and its softmax probability. */
export interface Prediction {
  index: number;
  label?: string;
  probability: number;
}

interface Classifier {
  training: boolean;
  train(on?: boolean): unknown;
  forward(x: Tensor): Tensor;
}

/**
 * The top-k classes of each image of a batch `[B, C, H, W]` (most probable first), from a
 * model run in eval mode without gradients (its mode is restored after):
 *
 *     predict(model, preprocess(pixels, cfg), { k: 5, labels })[0]  // [{ index, label, probability }, …]
 */
export function predict(model: Classifier, images: Tensor, o: { k?: number; labels?: readonly string[] } = {}): Prediction[][] {
  const was = model.training;
  model.train(false);
  let probs: Float32Array | Float64Array;
  let classes: number;
  try {
    const logits = noGrad(() => model.forward(images));
    if (logits.rank !== 2)
      throw new Error(`predict: the model gave logits of shape [${logits.shape.join(', ')}], expected [B, classes] (a features-only model has no classes)`);
    classes = logits.shape[1]!;
    probs = noGrad(() => logits.softmax(-1)).data as Float32Array | Float64Array;
  } finally {
    model.train(was);
  }
  const k = Math.min(o.k ?? 5, classes);
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`predict: k must be a positive integer, got ${o.k}`);
  if (o.labels !== undefined && o.labels.length !== classes) throw new Error(`predict: ${o.labels.length} labels for a model of ${classes} classes`);
  const out: Prediction[][] = [];
  for (let b = 0; b < probs.length / classes; b++) {
    const row = probs.subarray(b * classes, (b + 1) * classes);
    if (row.some((v) => !Number.isFinite(v))) throw new Error(`predict: image ${b}'s probabilities are not finite (NaN or infinite logits)`);
    const order = Array.from(row.keys())
      .sort((i, j) => row[j]! - row[i]! || i - j)
      .slice(0, k);
    out.push(order.map((index) => ({ index, ...(o.labels ? { label: o.labels[index] } : {}), probability: row[index]! })));
  }
  return out;
}
