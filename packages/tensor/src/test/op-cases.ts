/**
 * The op suite that runs on every backend: the CPU and gpu.js's Node modes, WebGPU's promise
 * contract and small cell limits (backend/backends.test.ts), WebGL2 and WebGPU in Chromium
 * (backend/gpujs/browser-suite.ts). Each case is an op on small inputs whose value and
 * gradients are compared with a reference backend's; values are read with dataAsync, which
 * every backend answers (webgpu kernels return promises).
 */
import {
  attention,
  avgPool2d,
  binaryCrossEntropyWithLogits,
  binaryOps,
  binaryTable,
  concat,
  conv2d,
  crossEntropy,
  einsum,
  Generator,
  layerNorm,
  linear,
  logSoftmax,
  matmulT,
  maxPool2d,
  mseLoss,
  nllLoss,
  optim,
  outer,
  pad,
  randn,
  smoothL1Loss,
  softmax,
  Tensor,
  unaryOps,
  unaryTable,
  where,
  type Backend,
  type Domain,
} from '../index.js';
import { binary, unary } from '../ops/primitive.js';

/**
 * An op and its input shapes; `chunked`, where given, is a cell limit below the largest
 * tensor the case makes, under which the case still runs on kernels alone (in chunks);
 * `domains`, where given, what each input is drawn from (else a standard normal).
 */
export type OpCase = [name: string, f: (...xs: Tensor[]) => Tensor, shapes: number[][], chunked?: number, domains?: Domain[]];

/**
 * Every op of the unary and binary tables, on inputs from its domain (binary ones
 * broadcast); a comparison's 0/1 output multiplies an input, so that the case has gradients.
 * Chunking does not depend on the op: the first op of each table also runs in chunks.
 */
const tableCases: OpCase[] = [
  ...unaryOps.map((op, i): OpCase => [`unary ${op}`, (a) => unary(op, a), [[5, 9]], i === 0 ? 16 : undefined, [unaryTable[op].domain]]),
  ...binaryOps.map(
    (op, i): OpCase => [
      `binary ${op} (broadcast)`,
      binaryTable[op].grad === null ? (a, b) => binary(op, a, b).mul(a).add(b) : (a, b) => binary(op, a, b),
      [
        [3, 4, 5],
        [4, 1],
      ],
      i === 0 ? 24 : undefined,
      binaryTable[op].domain,
    ],
  ),
];

export const opCases: OpCase[] = [
  ...tableCases,
  [
    'batched matmul with transposes',
    (a, b) => matmulT(a, b, true, true),
    [
      [2, 5, 3],
      [2, 4, 5],
    ],
    20,
  ],
  ['linear (bias and residual in the product)', (x, w, b, r) => linear(x, w, b, r), [[7, 6], [5, 6], [5], [7, 5]], 30],
  ['sum and max over an axis', (a) => a.sum(1).add(a.max(0).sum()), [[4, 6, 3]], 20],
  ['softmax and logSoftmax', (a) => softmax(a, -1).add(logSoftmax(a, 1)), [[3, 5, 4]], 20],
  ['layerNorm', (x, w, b) => layerNorm(x, w, b, 1e-5), [[6, 8], [8], [8]], 16],
  ['pow (positive bases, and a negative base to integer powers)', (a, b) => a.abs().add(0.5).pow(b).add(a.pow(3)).sub(a.pow(-2).mul(0.01)), [[4, 6], [6]], 12],
  [
    'comparisons and where (broadcast)',
    (a, b) =>
      where(a.gt(b), a, b.mul(2))
        .add(a.le(b).mul(a))
        .add(a.eq(a).add(a.ge(b)).add(a.lt(b))),
    [
      [3, 4, 5],
      [4, 1],
    ],
    24,
  ],
  [
    'permute, slice and expand (strided views)',
    (a) =>
      a
        .permute([2, 0, 1])
        .narrow(1, 1, 2)
        .add(a.narrow(0, 0, 1).permute([2, 0, 1])),
    [[3, 4, 5]],
    24,
  ],
  [
    'expand and strided slices (their adjoints sum a broadcast and fill the gaps)',
    (a, b) =>
      a
        .narrow(1, 1, 3)
        .expand([2, 4, 3, 5])
        .mul(b)
        .add(a.slice([null, [2, 5], null])),
    [
      [4, 5, 5],
      [4, 3, 5],
    ],
    40,
  ],
  ['fused attention', (qkv) => attention(qkv, 2).y, [[2, 5, 3 * 2 * 4]], 120],
  [
    'concatenation and clamp',
    (a, b) => concat([a, b], 1).clamp(-0.5, 0.7),
    [
      [2, 3, 4],
      [2, 5, 4],
    ],
    32,
  ],
  [
    'matmul 64×64 (the sizes a software renderer can take)',
    (a, b) => matmulT(a, b, false, false),
    [
      [64, 64],
      [64, 64],
    ],
  ],
  [
    'variance, std, logsumexp, cumsum, prod and norm',
    (a) => a.var(1).add(a.std(0).sum()).add(a.logsumexp(1)).add(a.cumsum(1).sum(1)).add(a.prod(1)).add(a.norm(2, 1)),
    [[3, 4]],
  ],
  [
    'flip, roll, pad, tile, tril, triu and a strided slice',
    (a) =>
      pad(a.flip(1).roll(1, 0), [[1, 1]], 0.5)
        .add(a.tile([1, 2]).narrow(1, 0, 5).mul(0.5))
        .sum(1)
        .add(a.tril().sum(1))
        .add(a.triu(1).sum(1))
        .add(a.slice([null, [0, 3, 2]]).sum(1)),
    [[4, 3]],
  ],
  [
    'gather, scatter, scatterAdd, einsum and outer',
    (a, b) => {
      const idx = new Tensor(a.backend.fromArray(Int32Array.from([2, 0, 1, 1, 0, 2])), [3, 2], 'int32', a.backend);
      return a
        .gather(1, idx)
        .sum(1)
        .add(a.scatterAdd(1, idx, b).sum(1))
        .add(a.scatter(1, new Tensor(a.backend.fromArray(Int32Array.from([2, 0, 1])), [3, 1], 'int32', a.backend), b).sum(1))
        .add(einsum('ij,kj->ik', a, a).sum(1))
        .add(outer(a.sum(1), a.sum(0)).sum(1));
    },
    [
      [3, 3],
      [3, 2],
    ],
  ],
  [
    'conv2d, maxPool2d and avgPool2d',
    (x, w) =>
      maxPool2d(conv2d(x, w, null, { padding: 1 }), 2)
        .sum()
        .add(avgPool2d(x, 2).sum()),
    [
      [1, 2, 4, 4],
      [3, 2, 3, 3],
    ],
  ],
  [
    'losses: mse, smooth L1, BCE with logits, nll',
    (a, b) =>
      mseLoss(a, b)
        .add(smoothL1Loss(a, b))
        .add(binaryCrossEntropyWithLogits(a, b.sigmoid()))
        .add(nllLoss(a.logSoftmax(1), [0, 2, 1])),
    [
      [3, 4],
      [3, 4],
    ],
  ],
];

/**
 * Inputs of a case: float32 values from each input's domain (uniform in [min, max], default
 * [−3, 3], moved off the points it keeps away from), or standard normal without domains.
 */
export function caseInputs(shapes: number[][], domains: Domain[] | undefined, g: Generator): Tensor[] {
  return shapes.map((s, k) => {
    const d = domains?.[k];
    if (d === undefined) return randn(s, { generator: g });
    const lo = d.min ?? -3;
    const hi = d.max ?? 3;
    const gap = d.gap ?? 0.05;
    const v = Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => {
      let x = lo + (hi - lo) * g.uniform();
      for (const p of d.awayFrom ?? []) if (Math.abs(x - p) <= gap) x = p + (x < p ? -2 : 2) * gap;
      return x;
    });
    return new Tensor(v, s, 'float32');
  });
}

/** The backend ops gpu.js has no kernel for: they run on the CPU (reported as fallbacks); any other fallback fails the suite. */
export const GPUJS_NO_KERNEL: readonly string[] = ['cast', 'argReduce'];

/** The same values on another backend. */
export const on = (t: Tensor, be: Backend): Tensor => new Tensor(be.fromArray(t.data.slice()), t.shape, t.dtype, be);

/** An op's value and the gradients of Σ f·w (w drawn) with respect to its inputs, on a backend (in the inputs' dtype). */
export async function valueAndGrads(be: Backend, f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]): Promise<ArrayLike<number>[]> {
  const xs = inputs.map((t) => on(t, be).setRequiresGrad(true));
  const y = f(...xs);
  y.mul(on(randn(y.shape, { generator: new Generator(99) }).cast(y.dtype), be))
    .sum()
    .backward();
  return Promise.all([y.dataAsync(), ...xs.map((x) => x.grad!.dataAsync())]);
}

/**
 * Three AdamW steps (stepAsync) of a small network (linear, GELU, layer norm, linear,
 * cross-entropy) on a backend, in `dtype`: the losses, then the parameters after the last step.
 */
export async function adamwSteps(be: Backend, dtype: 'float32' | 'float64' = 'float32'): Promise<ArrayLike<number>[]> {
  const g = new Generator(6);
  const init = [randn([5, 6], { generator: g }), randn([5], { generator: g }), randn([3, 5], { generator: g }), randn([3], { generator: g })].map((t) =>
    t.cast(dtype),
  );
  const x = on(randn([8, 6], { generator: g }).cast(dtype), be);
  const y = new Tensor(be.fromArray(Int32Array.from({ length: 8 }, (_, i) => i % 3)), [8], 'int32', be);
  const params = init.map((t) => on(t, be).setRequiresGrad(true));
  const [w1, b1, w2, b2] = params as [Tensor, Tensor, Tensor, Tensor];
  const opt = new optim.AdamW(params, { lr: 0.05, weightDecay: 0.01 });
  const losses: number[] = [];
  for (let step = 0; step < 3; step++) {
    opt.zeroGrad();
    const loss = crossEntropy(linear(layerNorm(linear(x, w1, b1).gelu(), null, null, 1e-5), w2, b2), y);
    loss.backward();
    losses.push((await loss.dataAsync())[0]!);
    await opt.stepAsync();
  }
  return [losses, ...(await Promise.all(params.map((p) => p.dataAsync())))];
}
