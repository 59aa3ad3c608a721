/**
 * The model suite on every backend: two AdamW steps of a 2-block ViT with GGeM pooling on
 * each backend that runs in Node reach the CPU backend's losses and weights (the CPU's
 * own numerics are checked against PyTorch in golden.test.ts). Each target checks which
 * gpu.js kernels ran, and that no op fell back to the CPU, under a small cell limit too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cpuBackend, crossEntropy, Generator, getBackend, optim, randn, registerBackend, setBackend, tensor } from '@ggem/tensor';
import { createGpujsBackend, type GpujsBackend } from '@ggem/tensor/gpujs';
import { recordingGpu, webgpuStandIn } from '@ggem/tensor/testing';
import { createVit } from './presets.js';

type GpuLike = Parameters<typeof createGpujsBackend>[0];
const { GPU } = (await import('gpu.js' as string)) as { GPU: new (s: Record<string, unknown>) => GpuLike };

const initial = getBackend().name;
after(() => setBackend(initial));

interface Training {
  losses: number[];
  weights: Map<string, ArrayLike<number>>;
}

/** Two AdamW steps on the active backend (values read with dataAsync, so that WebGPU's promises work): the losses and the final weights. */
async function train(): Promise<Training> {
  const model = createVit('vit_mnist_tiny', 'ggem', { seed: 3 });
  const opt = new optim.AdamW(optim.splitWeightDecay(model.namedParameters(), 0.05), { lr: 1e-3, weightDecay: 0.05 });
  const g = new Generator(4);
  const x = randn([2, 1, 28, 28], { generator: g });
  const y = tensor(Int32Array.from([3, 7]));
  const losses: number[] = [];
  for (let s = 0; s < 2; s++) {
    opt.zeroGrad();
    const loss = crossEntropy(model.forward(x), y);
    loss.backward();
    await opt.stepAsync();
    losses.push((await loss.dataAsync())[0]!);
  }
  const weights = new Map<string, ArrayLike<number>>();
  for (const [n, p] of model.namedParameters()) weights.set(n, await p.dataAsync());
  return { losses, weights };
}

async function trainOn(be: GpujsBackend): Promise<Training> {
  registerBackend(be);
  setBackend(be.name);
  try {
    return await train();
  } finally {
    setBackend(initial);
  }
}

/** 12288 cells: a weight of the attention's projection fits, the batch's attention and MLP activations do not. */
const SMALL = 12288;

const targets: [name: string, gpu: () => GpuLike, kernelClass: string, maxCells?: number][] = [
  ['gpu.js, webasm mode', () => new GPU({ mode: 'webasm' }), 'WebAssemblyKernel'],
  ["gpu.js under WebGPU's promise contract (stand-in over webasm)", () => webgpuStandIn(new GPU({ mode: 'webasm' })), 'WebAssemblyKernel'],
  [`gpu.js, webasm mode, kernels within ${SMALL} cells`, () => new GPU({ mode: 'webasm' }), 'WebAssemblyKernel', SMALL],
  [`gpu.js under the WebGPU stand-in, kernels within ${SMALL} cells`, () => webgpuStandIn(new GPU({ mode: 'webasm' })), 'WebAssemblyKernel', SMALL],
];

describe("a ViT's training steps on every backend", () => {
  let want: Training;
  // the reference: the same steps on the CPU backend
  before(async () => {
    assert.equal(getBackend(), cpuBackend);
    want = await train();
  });

  for (const [name, gpu, kernelClass, maxCells] of targets) {
    it(`${name}: two AdamW steps reach the CPU backend's losses and weights within float32 tolerance`, async () => {
      const recording = recordingGpu(gpu());
      const be = createGpujsBackend(recording, () => {}, { maxCells });
      const got = await trainOn(be);
      got.losses.forEach((l, i) => assert.ok(Math.abs(l - want.losses[i]!) < 1e-4, `loss ${i}: ${l} vs ${want.losses[i]}`));
      for (const [n, w] of want.weights) {
        const v = got.weights.get(n)!;
        for (let i = 0; i < w.length; i++) assert.ok(Math.abs(v[i]! - w[i]!) < 1e-4, `${n}[${i}]: ${v[i]} vs ${w[i]}`);
      }
      assert.deepEqual([...be.kernelClasses], [kernelClass]);
      // the whole step runs on gpu.js kernels, chunked or not
      assert.deepEqual([...be.fallbacks], []);
      if (maxCells === undefined) assert.ok(recording.most > SMALL, `the largest kernel saw ${recording.most} cells`);
      else assert.ok(recording.most <= maxCells, `a kernel saw ${recording.most} cells`);
    });
  }
});
