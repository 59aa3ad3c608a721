/**
 * The small-ViT training step in a Chromium page's dedicated worker (cross-origin isolated: its kernels on every core), as apps/web trains
 * (bundled from the packages' sources by the Chromium engine, engines/chromium.ts). The same
 * bundle runs on the page, where `__setup` and `__step` relay to the worker, and in the
 * worker, which builds the model from the weights sent, and times each step itself.
 */
import { getCpuThreads, tensor, wasmFeatures } from '@ggem/tensor';
import { createVit } from '@ggem/vit';
import { ggemStep } from '../workloads/vit-step.js';

export interface StepSetup {
  pooling: 'avg' | 'token';
  weights: [string, number[]][];
  x: number[];
  shape: [number, number, number, number];
  labels: number[];
}
type Reply = { ok: true; result?: number[]; ms?: number; relaxed?: boolean; threads?: number } | { ok: false; error: string };

const scope = globalThis as unknown as {
  WorkerGlobalScope?: unknown;
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(v: unknown): void;
  [k: string]: unknown;
};

if (typeof scope.WorkerGlobalScope === 'function') {
  let step: (() => Promise<Float64Array>) | undefined;
  scope.onmessage = async (e: MessageEvent<{ cmd: 'setup'; setup: StepSetup } | { cmd: 'step' }>) => {
    try {
      if (e.data.cmd === 'setup') {
        const s = e.data.setup;
        const model = createVit('vit_mnist_small', s.pooling, { seed: 0 });
        const byName = new Map(s.weights);
        for (const [name, p] of model.namedParameters()) p.data.set(byName.get(name)!);
        step = ggemStep(model, tensor(Float32Array.from(s.x), { shape: s.shape }), tensor(Int32Array.from(s.labels)));
        scope.postMessage({ ok: true, relaxed: wasmFeatures.relaxedSimd, threads: getCpuThreads() } satisfies Reply);
      } else {
        const t0 = performance.now();
        const check = await step!();
        scope.postMessage({ ok: true, result: Array.from(check), ms: performance.now() - t0 } satisfies Reply);
      }
    } catch (err) {
      scope.postMessage({ ok: false, error: (err as Error).message } satisfies Reply);
    }
  };
} else {
  const worker = new Worker(new URL(import.meta.url), { type: 'module' });
  const ask = (msg: unknown) =>
    new Promise<Reply>((resolve) => {
      worker.onmessage = (e: MessageEvent<Reply>) => resolve(e.data);
      worker.postMessage(msg);
    });
  scope.__setup = (setup: StepSetup) => ask({ cmd: 'setup', setup });
  scope.__step = () => ask({ cmd: 'step' });
}
