/**
 * Every op of the unary and binary tables (ops/tables/) against PyTorch in float64
 * (packages/tensor/golden/generate_ops.py): outputs and gradients on inputs from each op's
 * domain, with the edge values it names (halves for round, zero for sign, tiny arguments for
 * log1p, expm1 and erf).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  avgPool2d,
  BatchNorm,
  binaryCrossEntropyWithLogits,
  binaryOps,
  conv2d,
  cumsum,
  einsum,
  elu,
  Embedding,
  flip,
  gather,
  GroupNorm,
  l1Loss,
  leakyRelu,
  logSoftmax,
  logsumexp,
  maxPool2d,
  mseLoss,
  nllLoss,
  norm,
  outer,
  pad,
  prod,
  roll,
  scatter,
  scatterAdd,
  smoothL1Loss,
  sort,
  std,
  tensor,
  tile,
  topk,
  tril,
  triu,
  unaryOps,
  variance,
  type Tensor,
} from '../index.js';
import { binary, unary } from '../ops/primitive.js';

interface Arr {
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  inputs: Arr[];
  /** Integer inputs (indices, labels). */
  ints?: Arr[];
  w: number[];
  out: number[];
  grads: (number[] | null)[];
  /** The indices of sort and topk. */
  indices?: number[];
}
const golden = JSON.parse(readFileSync(new URL('../../golden/ops-golden.json', import.meta.url), 'utf8')) as { cases: Case[] };

/** The ops composed from the tables' primitives, by the generator's names; `ints` are its integer inputs. */
const composites: Record<string, (xs: Tensor[], ints: Tensor[]) => Tensor> = {
  leakyRelu: ([x]) => leakyRelu(x!, 0.1),
  elu: ([x]) => elu(x!, 0.7),
  variance: ([x]) => variance(x!, 1),
  variance_biased_all: ([x]) => variance(x!, undefined, { correction: 0 }),
  std: ([x]) => std(x!, [0, 2], { keepdim: true }),
  logsumexp: ([x]) => logsumexp(x!.mul(30), 1),
  prod: ([x]) => prod(x!, 1),
  prod_with_zero: ([x]) => prod(x!, 0),
  cumsum: ([x]) => cumsum(x!, 1),
  norm2: ([x]) => norm(x!, 2, 1),
  norm1: ([x]) => norm(x!, 1, 0),
  norm3: ([x]) => norm(x!, 3),
  flip: ([x]) => flip(x!, [0, 2]),
  roll: ([x]) => roll(x!, 2, 1),
  pad: ([x]) =>
    pad(
      x!,
      [
        [1, 2],
        [0, 1],
      ],
      0.5,
    ),
  tile: ([x]) => tile(x!, [2, 1, 3]),
  tril: ([x]) => tril(x!, -1),
  triu: ([x]) => triu(x!, 1),
  slice_step: ([x]) => x!.slice([null, [1, 6, 2]]),
  outer: ([a, b]) => outer(a!, b!),
  einsum_matmul: ([a, b]) => einsum('ij,jk->ik', a!, b!),
  einsum_attention: ([a, b]) => einsum('bhqd,bhkd->bhqk', a!, b!),
  einsum_diagonal_sum: ([a]) => einsum('ii->', a!),
  einsum_implicit: ([a, b]) => einsum('ij,jk', a!, b!),
  einsum_ellipsis: ([a, b]) => einsum('...ij,...jk->...ik', a!, b!),
  einsum_ellipsis_implicit: ([a, b]) => einsum('b...i,bi', a!, b!),
  mse: ([a, b]) => mseLoss(a!, b!),
  l1: ([a, b]) => l1Loss(a!, b!, 'sum'),
  smooth_l1: ([a, b]) => smoothL1Loss(a!, b!, { beta: 0.7 }),
  bce_logits: ([z, y]) => binaryCrossEntropyWithLogits(z!.mul(10), y!),
  conv2d: ([x, w, b]) => conv2d(x!, w!, b!),
  conv2d_groups: ([x, w, b]) => conv2d(x!, w!, b!, { padding: 1, groups: 2 }),
  conv2d_depthwise: ([x, w]) => conv2d(x!, w!, null, { stride: 2, groups: 3 }),
  conv2d_stride_padding_dilation: ([x, w]) => conv2d(x!, w!, null, { stride: 2, padding: 1, dilation: [1, 2] }),
  max_pool2d: ([x]) => maxPool2d(x!, 2),
  max_pool2d_padding: ([x]) => maxPool2d(x!, 3, { stride: 2, padding: 1 }),
  avg_pool2d: ([x]) => avgPool2d(x!, [2, 3], { stride: 1 }),
  group_norm: ([x, w, b]) => {
    const m = new GroupNorm(2, 4, 1e-5, { dtype: 'float64' });
    [m.weight, m.bias] = [w!, b!];
    return m.forward(x!);
  },
  batch_norm_train: ([x, w, b]) => {
    const m = new BatchNorm(3, 1e-5, 0.1, { dtype: 'float64' });
    [m.weight, m.bias] = [w!, b!];
    return m.forward(x!);
  },
  gather: ([x], [i]) => gather(x!, 1, i!),
  scatter_add: ([x, s], [i]) => scatterAdd(x!, 1, i!, s!),
  scatter: ([x, s], [i]) => scatter(x!, 1, i!, s!),
  nll: ([x], [l]) => nllLoss(logSoftmax(x!, 1), l!),
  embedding: ([w], [i]) => {
    const m = new Embedding(6, 3, { dtype: 'float64' });
    m.weight = w!;
    return m.forward(i!);
  },
  sort_descending: ([x]) => sort(x!, 1, true).values,
  topk: ([x]) => topk(x!, 2, 0).values,
};
const indexOps: Record<string, (x: Tensor) => Tensor> = {
  sort_descending: (x) => sort(x, 1, true).indices,
  topk: (x) => topk(x, 2, 0).indices,
};

function opFor(name: string): ((xs: Tensor[], ints: Tensor[]) => Tensor) | undefined {
  if ((unaryOps as readonly string[]).includes(name)) return ([x]) => unary(name as (typeof unaryOps)[number], x!);
  if ((binaryOps as readonly string[]).includes(name)) return ([a, b]) => binary(name as (typeof binaryOps)[number], a!, b!);
  return composites[name];
}

/** float64: within 1e-12 relative, or 1e-15 absolute near zero. */
function close(got: ArrayLike<number>, want: number[], what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-12 * Math.abs(want[i]!) + 1e-15, `${what}[${i}]: got ${got[i]}, PyTorch ${want[i]}`);
  }
}

describe('the op tables against PyTorch (float64)', () => {
  it('every op of the tables has a golden case', () => {
    const names = new Set(golden.cases.map((c) => c.name));
    assert.deepEqual(
      [...unaryOps, ...binaryOps].filter((op) => !names.has(op)),
      [],
    );
  });
  for (const c of golden.cases) {
    it(`${c.name}: output and gradients`, () => {
      const f = opFor(c.name);
      assert.ok(f, `no op for golden case ${c.name}`);
      const xs = c.inputs.map((x) => tensor(Float64Array.from(x.data), { shape: x.shape, requiresGrad: true }));
      const ints = (c.ints ?? []).map((t) => tensor(Int32Array.from(t.data), { shape: t.shape }));
      const y = f(xs, ints);
      if (c.indices) assert.deepEqual([...indexOps[c.name]!(xs[0]!).data], c.indices, `${c.name} indices`);
      close(y.data, c.out, `${c.name} output`);
      if (c.grads[0] === null) return; // a comparison: 0/1, no gradient
      y.mul(tensor(Float64Array.from(c.w), { shape: y.shape }))
        .sum()
        .backward();
      c.grads.forEach((g, k) => close(xs[k]!.grad!.data, g!, `${c.name} d/dx${k}`));
    });
  }
});
