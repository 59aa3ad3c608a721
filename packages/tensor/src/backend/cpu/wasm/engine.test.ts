import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { attention, Generator, gelu, layerNorm, noGrad, randn, setCpuThreads, getCpuThreads, type Tensor } from '../../../index.js';
import { attention as attentionKernel } from '../attention.js';
import { simdEngine } from '../engine.js';
import { WasmEngine } from './engine.js';

/** The values and input gradients of f on one thread, then on two with every job split. */
function oneAndTwo(f: () => Tensor[]): [Float32Array[], Float32Array[], number] {
  const before = getCpuThreads();
  try {
    setCpuThreads(1);
    const one = f().map((t) => t.data as Float32Array);
    setCpuThreads(2);
    const engine = simdEngine()!;
    const [calls, threshold] = [engine.threadedCalls, engine.threadMinMacs];
    engine.threadMinMacs = 0;
    try {
      const two = f().map((t) => t.data as Float32Array);
      return [one, two, engine.threadedCalls - calls];
    } finally {
      engine.threadMinMacs = threshold;
    }
  } finally {
    setCpuThreads(before);
  }
}

const same = (a: Float32Array[], b: Float32Array[]) =>
  a.forEach((x, i) => x.forEach((v, j) => assert.ok(Object.is(v, b[i]![j]), `output ${i}, entry ${j}: ${v} vs ${b[i]![j]}`)));

/** Attention, GELU and layer norm forward and backward on random inputs of these sizes. */
const run = (b: number, n: number, h: number, d: number, seed: number) => () => {
  const g = new Generator(seed);
  const x = randn([b, n, 3 * h * d], { generator: g }).setRequiresGrad(true);
  const gz = randn([b, n, h * d], { generator: g });
  const w = randn([h * d], { generator: g });
  const { y, probs } = attention(x, h);
  const z = layerNorm(gelu(y), w, null);
  z.backward(gz);
  return [y, probs, z, x.grad!];
};

/** Images, tokens, heads, head size / 4 and a seed. */
const heads = [
  fc.integer({ min: 1, max: 3 }),
  fc.integer({ min: 1, max: 40 }),
  fc.integer({ min: 1, max: 4 }),
  fc.integer({ min: 1, max: 6 }),
  fc.integer(),
] as const;

describe('the kernels split over two threads', () => {
  it('start their workers at the first job worth splitting, not before', () => {
    const engine = new WasmEngine([{ mr: 2, nr: 16, fma: false }], 2);
    const x = new Float32Array(1000).fill(1);
    assert.equal(engine.elementwise('add', [x, x], x.length, 1)[0], 2);
    assert.equal(engine.startedWorkers, 0, 'a small job starts no worker');
    engine.threadMinMacs = 0;
    assert.equal(engine.elementwise('add', [x, x], x.length, 1)[999], 2);
    assert.equal(engine.startedWorkers, 1, 'a job worth splitting starts the worker');
  });
  it('the workers start', async () => {
    setCpuThreads(2);
    const deadline = Date.now() + 10_000;
    while (!simdEngine()!.ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(simdEngine()!.ready());
  });
  it('attention, GELU and layer norm give the one-thread result bit for bit, gradients included, for any split', () => {
    fc.assert(
      fc.property(...heads, (b, n, h, d4, seed) => {
        const [one, two] = oneAndTwo(run(b, n, h, 4 * d4, seed));
        same(one, two);
      }),
      { numRuns: 40 },
    );
    // large enough for every kernel to have several units: all five jobs split
    const [one, two, threaded] = oneAndTwo(run(4, 64, 4, 32, 1));
    same(one, two);
    assert.ok(threaded >= 5, `attention, its gradient, GELU, its gradient and layer norm split (${threaded} jobs)`);
  });
  it('attention for inference (no probabilities kept) gives the output of the full one, on one thread and split', () => {
    fc.assert(
      fc.property(...heads, (b, n, h, d4, seed) => {
        const x = randn([b, n, 3 * h * 4 * d4], { generator: new Generator(seed) });
        const [one, two] = oneAndTwo(() => [attention(x, h).y, noGrad(() => attention(x, h, undefined, { probs: false }).y)]);
        same([one[0]!], [one[1]!]);
        same([two[0]!], [two[1]!]);
        same(one, two);
        const lean = attentionKernel(x.data, b, n, h, 4 * d4, 0.5, 'float32', false);
        assert.equal(lean.probs, null, 'the kernel skips the probabilities');
      }),
      { numRuns: 40 },
    );
  });
});
