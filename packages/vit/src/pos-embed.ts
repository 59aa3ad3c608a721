import { matmul, narrow, concat, tensor, type Tensor } from '@ggem/tensor';
import { bicubic, resampleMatrix } from './image/resample.js';

/**
 * Position embeddings `[1, prefix + h·w, D]` of an h×w patch grid resampled to another grid,
 * as timm's `resample_abs_pos_embed` does (bicubic, antialiased: `F.interpolate(...,
 * mode='bicubic', antialias=True)`), the `prefixTokens` first embeddings (class and register
 * tokens) kept as they are. It is two matrix products with fixed interpolation weights, so
 * gradients flow to the original embeddings (a model at another image size still trains
 * them).
 *
 *     resamplePosEmbed(model.pos_embed, [24, 24], { oldGrid: [14, 14], prefixTokens: 1 })  // 224² → 384², patch 16
 */
export function resamplePosEmbed(posEmbed: Tensor, newGrid: [number, number], o: { oldGrid?: [number, number]; prefixTokens?: number } = {}): Tensor {
  const prefix = o.prefixTokens ?? 1;
  if (posEmbed.rank !== 3 || posEmbed.shape[0] !== 1) {
    throw new Error(`resamplePosEmbed: expected position embeddings [1, tokens, D], got [${posEmbed.shape.join(', ')}]`);
  }
  const [, tokens, d] = posEmbed.shape as [number, number, number];
  const side = Math.round(Math.sqrt(tokens - prefix));
  const [h0, w0] = o.oldGrid ?? [side, side];
  if (h0 * w0 + prefix !== tokens) {
    throw new Error(`resamplePosEmbed: ${tokens} embeddings are not ${prefix} prefix tokens and a ${h0}×${w0} grid`);
  }
  const [h1, w1] = newGrid;
  if (!(Number.isInteger(h1) && h1 > 0 && Number.isInteger(w1) && w1 > 0)) throw new Error(`resamplePosEmbed: bad grid ${h1}×${w1}`);
  if (h1 === h0 && w1 === w0) return posEmbed;
  const grid = narrow(posEmbed, 1, prefix, h0 * w0).reshape([h0, w0 * d]);
  const rows = tensor(resampleMatrix(h0, h1, bicubic), { shape: [h1, h0], dtype: posEmbed.dtype });
  const cols = tensor(resampleMatrix(w0, w1, bicubic), { shape: [w1, w0], dtype: posEmbed.dtype });
  // [h1, w0·D] → [h1, w0, D], then [w1, w0] @ [h1, w0, D] → [h1, w1, D]
  const resampled = matmul(cols, matmul(rows, grid).reshape([h1, w0, d])).reshape([1, h1 * w1, d]);
  return prefix === 0 ? resampled : concat([narrow(posEmbed, 1, 0, prefix), resampled], 1);
}
