/**
 * onnxruntime, what a user embedding a ViT would pick instead: onnxruntime-web (WebAssembly
 * SIMD, what transformers.js runs on; here under Node, its threads worker threads) and
 * onnxruntime-node (native, MLAS), on the ONNX export of the same ViT and weights (see
 * `vitOnnx`). Each row runs in a process of its own (onnxruntime-web fixes its thread count
 * when it first starts).
 */
import { readFileSync } from 'node:fs';
import type { Impl } from '../harness.js';
import type { VitSpec } from '../workloads/vit.js';
import { vitOnnx } from './torch.js';

const VERSION = '1.30';

interface OrtTensor {
  data: Float32Array;
}
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
}
interface Ort {
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown;
  InferenceSession: { create(model: string | Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
  env: { wasm: { numThreads?: number; simd?: boolean } };
}

/** An onnxruntime engine: `open` makes the session from the ONNX file. */
function ortImpl(engine: string, threads: number, s: VitSpec, open: (path: string) => Promise<{ ort: Ort; session: OrtSession }>): Impl {
  let session: OrtSession | undefined;
  return {
    engine,
    threads,
    async setup() {
      const path = await vitOnnx(s);
      const opened = await open(path);
      session = opened.session;
      const x = new opened.ort.Tensor('float32', s.x, [s.batch, s.inChans, s.img, s.img]);
      return async () => (await session!.run({ x })).logits!.data.slice(0, 256);
    },
    teardown: () => session?.release?.(),
  };
}

/** onnxruntime-node on `threads` threads (intra-op; sequential execution). */
export function ortNodeVit(s: VitSpec, threads: number): Impl {
  return ortImpl(`onnxruntime-node ${VERSION} (native, ${threads} thread${threads > 1 ? 's' : ''})`, threads, s, async (path) => {
    const ort = (await import('onnxruntime-node')) as unknown as Ort;
    const session = await ort.InferenceSession.create(path, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
    return { ort, session };
  });
}

/** onnxruntime-web's WebAssembly backend on `threads` threads. */
export function ortWebVit(s: VitSpec, threads: number): Impl {
  return ortImpl(`onnxruntime-web ${VERSION} (WASM SIMD, ${threads} thread${threads > 1 ? 's' : ''})`, threads, s, async (path) => {
    const ort = (await import('onnxruntime-web')) as unknown as Ort;
    if (ort.env.wasm.numThreads !== undefined && ort.env.wasm.numThreads !== 0 && ort.env.wasm.numThreads !== threads)
      throw new Error(`onnxruntime-web already runs on ${ort.env.wasm.numThreads} threads in this process (run the bench without --in-process)`);
    ort.env.wasm.numThreads = threads;
    const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(path)), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    return { ort, session };
  });
}
