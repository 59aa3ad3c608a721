import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { crossEntropy, createGpujsBackend, Generator, getBackend, optim, randn, registerBackend, setBackend, tensor } from '@ggem/tensor';
import { createVit } from './presets.js';

const { GPU } = (await import('gpu.js' as string)) as { GPU: new (s: Record<string, unknown>) => Parameters<typeof createGpujsBackend>[0] };

const before = getBackend().name;
after(() => setBackend(before));

/** Two AdamW steps of a 2-block ViT with GGeM on the active backend: the losses and the final weights. */
function train(): { losses: number[]; weights: Map<string, Float32Array> } {
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
    opt.step();
    losses.push(loss.item());
  }
  return { losses, weights: new Map(model.namedParameters().map(([n, p]) => [n, p.data as Float32Array])) };
}

/** Trains on a new gpu.js backend (webasm mode) with these options; the result and the backend. */
function trainOnGpujs(options: { maxCells?: number } = {}) {
  const be = createGpujsBackend(new GPU({ mode: 'webasm' }), () => {}, options);
  registerBackend(be);
  setBackend('gpujs');
  try {
    return { ...train(), be };
  } finally {
    setBackend(before);
  }
}

function assertSameTraining(got: ReturnType<typeof train>, want: ReturnType<typeof train>): void {
  got.losses.forEach((l, i) => assert.ok(Math.abs(l - want.losses[i]!) < 1e-4, `loss ${i}: ${l} vs ${want.losses[i]}`));
  for (const [name, w] of want.weights) {
    const v = got.weights.get(name)!;
    w.forEach((a, i) => assert.ok(Math.abs(v[i]! - a) < 1e-4, `${name}[${i}]: ${v[i]} vs ${a}`));
  }
}

describe('a ViT on the gpu.js backend (webasm mode)', () => {
  const cpu = train();
  const whole = trainOnGpujs();

  it('trains two steps to the CPU backend\'s losses and weights within float32 tolerance', () => {
    assertSameTraining(whole, cpu);
    assert.deepEqual([...whole.be.kernelClasses], ['WebAssemblyKernel']);
    // what has no gpu.js kernel yet ran on the CPU (reported, not hidden)
    assert.ok(whole.be.fallbacks.size > 0);
  });

  it('trains the same with kernels limited to 12288 cells (the attention, MLP and their gradients in chunks)', () => {
    const chunked = trainOnGpujs({ maxCells: 12288 });
    assertSameTraining(chunked, cpu);
    assert.ok(whole.be.peakCells > 12288 && chunked.be.peakCells <= 12288, `peak cells ${whole.be.peakCells} whole, ${chunked.be.peakCells} in chunks`);
    // chunking adds no CPU fallback
    assert.deepEqual([...chunked.be.fallbacks].sort(), [...whole.be.fallbacks].sort());
  });
});
