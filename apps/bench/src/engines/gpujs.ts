/**
 * @ggem/tensor on its gpu.js backend. Under Node gpu.js runs `webasm` (WebAssembly kernels,
 * no GPU): these figures show the backend's overhead, not a GPU's speed. On a machine with a
 * GPU the same workloads run in a browser page (see packages/tensor's browser test).
 */
import { getBackend, setBackend, tensor, type Backend } from '@ggem/tensor';
import { useGpujs } from '@ggem/tensor/gpujs';
import { createVit } from '@ggem/vit';
import type { Impl } from '../harness.js';
import type { VitSpec } from '../workloads/vit.js';
import { ggemStep } from '../workloads/vit-step.js';

const ENGINE = 'ggem on gpu.js 2.24 (webasm, no GPU)';

async function onGpujs<T>(f: (be: Backend) => T): Promise<T> {
  const be = await useGpujs({ mode: 'webasm', warn: () => {} });
  const before = getBackend().name;
  setBackend('gpujs');
  try {
    return f(be);
  } finally {
    setBackend(before);
  }
}

export function gpujsMatmul(a: Float32Array, b: Float32Array, n: number): Impl {
  return {
    engine: ENGINE,
    setup: () =>
      onGpujs((be) => {
        const ta = tensor(a.slice(), { shape: [n, n] });
        const tb = tensor(b.slice(), { shape: [n, n] });
        void be;
        return async () => ta.matmul(tb).data as Float32Array;
      }),
  };
}

/** The small-ViT training step (the spec's weights and batch) with the model on the gpu.js backend. */
export function gpujsVitStep(s: VitSpec): Impl {
  return {
    engine: ENGINE,
    setup: () =>
      onGpujs((be) => {
        const model = createVit('vit_mnist_small', s.pooling, { seed: 0 });
        for (const [name, p] of model.namedParameters()) p.storage = be.fromArray(s.weights.get(name)!.data.slice());
        return ggemStep(model, tensor(s.x.slice(), { shape: [s.batch, s.inChans, s.img, s.img] }), tensor(s.labels.slice()));
      }),
  };
}
