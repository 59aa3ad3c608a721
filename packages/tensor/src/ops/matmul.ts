import { record } from '../autograd/engine.js';
import { promote } from '../dtype.js';
import { broadcastShapes, fmt } from '../shape.js';
import type { Tensor } from '../tensor.js';

/**
 * `op(a) @ op(b)` for operands of rank >= 2 with broadcast batch dims, where `op`
 * transposes the last two dims when asked (read through strides, never copied).
 * Gradients (G the output gradient):
 *   C = A B:    dA = G Bᵀ,   dB = Aᵀ G
 *   C = Aᵀ B:   dA = B Gᵀ,   dB = A G
 *   C = A Bᵀ:   dA = G B,    dB = Gᵀ A
 *   C = Aᵀ Bᵀ:  dA = Bᵀ Gᵀ,  dB = Gᵀ Aᵀ
 */
export function matmulT(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  if (a.rank < 2 || b.rank < 2) throw new Error(`matmul: operands need rank >= 2, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  const dtype = promote(a.dtype, b.dtype);
  if (dtype === 'int32') throw new Error('matmul: expected float tensors, got int32');
  if (a.dtype !== dtype) a = a.cast(dtype);
  if (b.dtype !== dtype) b = b.cast(dtype);
  const [m, ka] = transA ? [a.shape[a.rank - 1]!, a.shape[a.rank - 2]!] : [a.shape[a.rank - 2]!, a.shape[a.rank - 1]!];
  const [kb, n] = transB ? [b.shape[b.rank - 1]!, b.shape[b.rank - 2]!] : [b.shape[b.rank - 2]!, b.shape[b.rank - 1]!];
  if (ka !== kb) {
    throw new Error(`matmul: inner dims differ: ${fmt(a.shape)}${transA ? 'ᵀ' : ''} @ ${fmt(b.shape)}${transB ? 'ᵀ' : ''} (${ka} vs ${kb})`);
  }
  const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  const shape = [...batch, m, n];
  const out = a.withStorage(a.backend.matmul(a.storage, a.shape, b.storage, b.shape, transA, transB, shape, dtype), shape, dtype);
  return record(out, 'matmul', [a, b], (g, need) => {
    if (!transA && !transB) return [need[0] ? matmulT(g, b, false, true) : null, need[1] ? matmulT(a, g, true, false) : null];
    if (transA && !transB) return [need[0] ? matmulT(b, g, false, true) : null, need[1] ? matmulT(a, g, false, false) : null];
    if (!transA && transB) return [need[0] ? matmulT(g, b, false, false) : null, need[1] ? matmulT(g, a, true, false) : null];
    return [need[0] ? matmulT(b, g, true, true) : null, need[1] ? matmulT(g, a, true, true) : null];
  });
}

/**
 * Matrix product with NumPy/PyTorch semantics: batch dims broadcast; a 1-d left operand
 * is a row vector and a 1-d right operand a column vector, their added dim removed after.
 *
 *     matmul(ones([2, 3]), ones([3, 4]))  // shape [2, 4], every entry 3
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank === 0 || b.rank === 0) throw new Error(`matmul: operands must have rank >= 1, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  const a2 = a.rank === 1 ? a.unsqueeze(0) : a;
  const b2 = b.rank === 1 ? b.unsqueeze(1) : b;
  let out = matmulT(a2, b2, false, false);
  if (b.rank === 1) out = out.squeeze(-1);
  if (a.rank === 1) out = out.squeeze(a.rank === 1 && b.rank === 1 ? -1 : -2);
  return out;
}
