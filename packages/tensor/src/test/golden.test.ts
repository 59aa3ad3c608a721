/**
 * Golden values from PyTorch 1.13 (packages/tensor/golden/generate.py): forward outputs and
 * gradients in float32 within 1e-5 relative, and optimizer trajectories.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { crossEntropy, gelu, layerNorm, logSoftmax, matmul, optim, softmax, tensor, type Tensor } from '../index.js';

interface Arr {
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  params: Record<string, number>;
  inputs: Record<string, Arr>;
  ints: Record<string, Arr>;
  w: Arr;
  out: Arr;
  grads: Record<string, number[]>;
}
interface OptimCase {
  name: string;
  w0: number[];
  b0: number[];
  x: number[];
  target: number[];
  history: { w: number[]; b: number[] }[];
}
const golden = JSON.parse(readFileSync(new URL('../../golden/tensor-golden.json', import.meta.url), 'utf8')) as { cases: Case[]; optim: OptimCase[] };

const ops: Record<string, (x: Record<string, Tensor>, ints: Record<string, number[]>, p: Record<string, number>) => Tensor> = {
  matmul: ({ a, b }) => matmul(a!, b!),
  matmul_batched_broadcast: ({ a, b }) => matmul(a!, b!),
  matmul_64: ({ a, b }) => matmul(a!, b!),
  softmax: ({ x }, _, p) => softmax(x!, p.axis),
  softmax_axis1: ({ x }, _, p) => softmax(x!, p.axis),
  log_softmax: ({ x }, _, p) => logSoftmax(x!, p.axis),
  layer_norm: ({ x, w, b }, _, p) => layerNorm(x!, w!, b!, p.eps),
  gelu: ({ x }) => gelu(x!),
  gelu_tanh: ({ x }) => gelu(x!, 'tanh'),
  cross_entropy: ({ z }, { labels }) => crossEntropy(z!, labels!),
  cross_entropy_smoothing: ({ z }, { labels }, p) => crossEntropy(z!, labels!, { labelSmoothing: p.labelSmoothing! }),
};

/** Elementwise |a − b| <= rtol·|b|, with an absolute floor of rtol·1e-2·max|b| for entries near zero. */
function close(got: ArrayLike<number>, want: number[], rtol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const scale = want.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  for (let i = 0; i < want.length; i++) {
    const tol = rtol * Math.max(Math.abs(want[i]!), 1e-2 * scale);
    assert.ok(Math.abs(got[i]! - want[i]!) <= tol, `${what}[${i}]: got ${got[i]}, PyTorch ${want[i]} (tol ${tol.toExponential(2)})`);
  }
}

describe('golden values from PyTorch (float32)', () => {
  for (const c of golden.cases) {
    it(`${c.name}: output and gradients within 1e-5`, () => {
      const f = ops[c.name];
      assert.ok(f, `no op for golden case ${c.name}`);
      const xs = Object.fromEntries(Object.entries(c.inputs).map(([k, v]) => [k, tensor(Float32Array.from(v.data), { shape: v.shape, requiresGrad: true })]));
      const ints = Object.fromEntries(Object.entries(c.ints).map(([k, v]) => [k, v.data]));
      const y = f(xs, ints, c.params);
      assert.deepEqual(y.shape, c.out.shape);
      close(y.data, c.out.data, 1e-5, `${c.name} output`);
      y.mul(tensor(Float32Array.from(c.w.data), { shape: c.w.shape }))
        .sum()
        .backward();
      for (const [k, g] of Object.entries(c.grads)) close(xs[k]!.grad!.data, g, 1e-5, `${c.name} d/d${k}`);
    });
  }
});

describe('optimizers against PyTorch', () => {
  const make: Record<string, (groups: optim.ParamGroup[]) => optim.Optimizer> = {
    sgd_nesterov: (g) => new optim.SGD(g, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
    sgd_momentum: (g) => new optim.SGD(g, { lr: 0.05, momentum: 0.8 }),
    adamw: (g) => new optim.AdamW(g, { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.05 }),
  };
  for (const c of golden.optim) {
    it(`${c.name}: parameters after each of ${c.history.length} steps`, () => {
      const w = tensor(Float32Array.from(c.w0), { shape: [4, 3], requiresGrad: true });
      const b = tensor(Float32Array.from(c.b0), { shape: [4], requiresGrad: true });
      const x = tensor(Float32Array.from(c.x), { shape: [6, 3] });
      const target = tensor(Float32Array.from(c.target), { shape: [6, 4] });
      const opt = make[c.name]!([{ params: [w] }, { params: [b], weightDecay: 0 }]);
      c.history.forEach((h, step) => {
        opt.zeroGrad();
        x.matmul(w.transpose()).add(b).sub(target).pow(2).mean().backward();
        opt.step();
        close(w.data, h.w, 1e-5, `${c.name} step ${step + 1} w`);
        close(b.data, h.b, 1e-5, `${c.name} step ${step + 1} b`);
      });
    });
  }
});

describe('float64 golden values (golden/generate_float64.py: CPython erfc, cross-checked with PyTorch)', () => {
  type Values = { x: number[]; y: number[]; dydx: number[] };
  const g64 = JSON.parse(readFileSync(new URL('../../golden/float64-golden.json', import.meta.url), 'utf8')) as { gelu: Values; torch_gelu: Values };
  /**
   * The largest error in units of the tolerance: 1e-13 relative (the tail, down to 1e-300, too;
   * 1e-12 below x = -10, where e^(−x²/2) turns the rounding of x/√2 into x²·1e-16), plus 1e-15
   * absolute above x = -3, where gelu' crosses zero (near -0.75) by cancellation.
   */
  const tolerance = (x: number, w: number) => (x < -10 ? 1e-12 : 1e-13) * Math.max(Math.abs(w), 1e-300) + (x > -3 ? 1e-15 : 0);
  const worst = (xs: number[], got: ArrayLike<number>, want: number[]) =>
    want.reduce((m, w, i) => Math.max(m, Math.abs(got[i]! - w) / tolerance(xs[i]!, w)), 0);
  for (const [name, values] of [
    ['the reference', g64.gelu],
    ['PyTorch, x >= -2', g64.torch_gelu],
  ] as const) {
    it(`the exact GELU and its derivative are float64-accurate in float64 (${name})`, () => {
      const x = tensor(Float64Array.from(values.x), { requiresGrad: true });
      const y = gelu(x);
      y.sum().backward();
      // float32's erfc fit is off by up to ~1e-7 relative here: a million tolerances
      assert.ok(worst(values.x, y.data, values.y) <= 1, `gelu: ${worst(values.x, y.data, values.y)} tolerances off`);
      assert.ok(worst(values.x, x.grad!.data, values.dydx) <= 1, `gelu': ${worst(values.x, x.grad!.data, values.dydx)} tolerances off`);
    });
  }
});
