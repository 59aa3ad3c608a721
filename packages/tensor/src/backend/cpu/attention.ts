import type { CpuKernel } from '../backend.js';
import * as reference from '../reference/attention.js';
import { allocate } from '../reference/pool.js';
import { simdEngine } from './engine.js';
import type { WasmEngine } from './wasm/engine.js';

/**
 * Fused multi-head self-attention in WebAssembly SIMD (float32, d a multiple of 4): the
 * reference's formulas (../reference/attention.ts), per image and head on q, k, v read in
 * place in the kernels' memory, the heads split over the threads when there is enough work
 * (the tasks in ./wasm/tasks.ts); every other case runs the reference.
 */
export const attention: CpuKernel<'attention'> = (qkv, b, n, h, d, scale, dtype, withProbs = true) => {
  const engine = dtype === 'float32' && d % 4 === 0 ? simdEngine() : null;
  if (engine === null) return reference.attention(qkv, b, n, h, d, scale, dtype);
  const dm = h * d;
  const np = Math.ceil(n / 4) * 4;
  // kᵀ and the scores, per thread; and a head's probabilities when nobody keeps them
  const scratch = d * np + n * np + (withProbs ? 0 : headFloats(n));
  const io = engine.operands([[qkv, b * n * 3 * dm]], [b * n * dm], [withProbs ? b * h * headFloats(n) : 0, engine.threads * scratch]);
  const [QKV, Y, P, SCRATCH] = [io.inputs[0]!, io.outputs[0]!, io.scratch[0]!, io.scratch[1]!];
  const headBytes = withProbs ? headFloats(n) * 4 : 0;
  engine.parallel('attention', b * h, [QKV, Y, P, SCRATCH, scratch * 4, n, h, d, np, scale, headBytes], macs(b, n, h, d));
  return { y: io.results()[0]!, probs: withProbs ? takeHeads(engine, P, b * h, n) : null };
};

export const attentionBackward: CpuKernel<'attentionBackward'> = (qkv, probs, gy, b, n, h, d, scale, dtype) => {
  const engine = dtype === 'float32' && d % 4 === 0 ? simdEngine() : null;
  if (engine === null) return reference.attentionBackward(qkv, probs, gy, b, n, h, d, scale, dtype);
  const dm = h * d;
  const np = Math.ceil(n / 4) * 4;
  const scratch = d * np + n * np; // vᵀ and dS, per thread
  const io = engine.operands(
    [
      [qkv, b * n * 3 * dm],
      [gy, b * n * dm],
    ],
    [b * n * 3 * dm],
    [b * h * headFloats(n), engine.threads * scratch],
  );
  const [QKV, GY, G, P, SCRATCH] = [io.inputs[0]!, io.inputs[1]!, io.outputs[0]!, io.scratch[0]!, io.scratch[1]!];
  const f32 = engine.f32;
  for (let u = 0; u < b * h; u++) f32.set((probs as Float32Array).subarray(u * n * n, (u + 1) * n * n), (P >> 2) + u * headFloats(n));
  engine.parallel('attentionBackward', b * h, [QKV, P, GY, G, SCRATCH, scratch * 4, n, h, d, np, scale, headFloats(n) * 4], 2 * macs(b, n, h, d));
  return io.results()[0]!;
};

/**
 * Each head's probabilities take n² floats and 4 of slack in the kernels' memory: a head's
 * last row of whole vectors spills there, not into a head another thread wrote.
 */
const headFloats = (n: number): number => n * n + 4;

/** The multiply-adds of the forward: q kᵀ and P v per head (the softmax's exps about as many again). */
const macs = (b: number, n: number, h: number, d: number) => 3 * b * h * n * n * d;

/** The probabilities of `heads` heads, each `headFloats(n)` apart in the memory, as one array `[heads, n, n]`. */
function takeHeads(engine: WasmEngine, at: number, heads: number, n: number): Float32Array {
  const out = allocate('float32', heads * n * n, false, false) as Float32Array; // not the heap: laid out after the operands
  const f32 = engine.f32;
  for (let u = 0; u < heads; u++) out.set(f32.subarray((at >> 2) + u * headFloats(n), (at >> 2) + u * headFloats(n) + n * n), u * n * n);
  return out;
}
