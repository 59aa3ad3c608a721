import { type Generator, tensor, type Tensor } from '@ggem/tensor';
import type { Split } from './split.js';

/** Fashion-MNIST's pixel mean and std (over the training set, pixels in [0, 1]). */
export const MEAN = 0.286;
export const STD = 0.353;

export interface Augment {
  /** Random crop after zero-padding by this many pixels (0: none). */
  cropPad: number;
  /** Random horizontal flip. */
  flip: boolean;
}

/**
 * A batch as tensors: images `[B, 1, H, W]` normalised with MEAN and STD (augmented with
 * the generator when given), labels as an int32 `[B]`.
 */
export function makeBatch(s: Split, indices: ArrayLike<number>, augment: Augment | null, g: Generator | null): { x: Tensor; y: Tensor } {
  const { height: h, width: w } = s;
  const px = h * w;
  const b = indices.length;
  const out = new Float32Array(b * px);
  const labels = new Int32Array(b);
  const bg = -MEAN / STD; // a zero pixel after normalisation
  for (let k = 0; k < b; k++) {
    const i = indices[k]!;
    labels[k] = s.labels[i]!;
    const src = s.images.subarray(i * px, (i + 1) * px);
    const pad = augment && g ? augment.cropPad : 0;
    const dy = pad ? g!.int(2 * pad + 1) - pad : 0;
    const dx = pad ? g!.int(2 * pad + 1) - pad : 0;
    const flip = augment?.flip && g ? g.uniform() < 0.5 : false;
    for (let r = 0; r < h; r++) {
      const sr = r + dy;
      for (let c = 0; c < w; c++) {
        const sc = (flip ? w - 1 - c : c) + dx;
        out[k * px + r * w + c] = sr >= 0 && sr < h && sc >= 0 && sc < w ? (src[sr * w + sc]! / 255 - MEAN) / STD : bg;
      }
    }
  }
  return { x: tensor(out, { shape: [b, 1, h, w] }), y: tensor(labels, { shape: [b] }) };
}

/** A permutation of 0..n−1 from the generator (the epoch's order). */
export function shuffled(n: number, g: Generator): Int32Array {
  return Int32Array.from(g.shuffle([...Array(n).keys()]));
}
