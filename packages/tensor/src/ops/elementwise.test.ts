import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { abs, add, clamp, div, exp, gelu, log, maximum, minimum, mul, neg, pow, relu, sigmoid, sqrt, sub, tanh, tensor, where, type Tensor } from '../index.js';
import { assertGradcheck } from '../testing/index.js';
import { broadcastPair, RUNS, anyTensor, tensorOf } from '../test/arbitraries.js';
import { broadcastShapes, sizeOf, stridesOf } from '../shape.js';

const unaryCases: [string, (x: Tensor) => Tensor, { min?: number; max?: number; awayFrom?: number[] }][] = [
  ['neg', neg, {}],
  ['exp', exp, {}],
  ['log', log, { min: 0.1, max: 5 }],
  ['sqrt', sqrt, { min: 0.1, max: 5 }],
  ['abs', abs, { awayFrom: [0] }],
  ['tanh', tanh, {}],
  ['sigmoid', sigmoid, {}],
  ['relu', relu, { awayFrom: [0] }],
  ['gelu', (x) => gelu(x), {}],
  ['gelu tanh', (x) => gelu(x, 'tanh'), {}],
  ['clamp', (x) => clamp(x, -1, 1.5), { awayFrom: [-1, 1.5] }],
];

describe('unary ops: gradients', () => {
  for (const [name, f, o] of unaryCases) {
    it(`${name} passes the gradient checker`, () => {
      fc.assert(fc.property(anyTensor(3, 4, o), (x) => assertGradcheck(f, [x])), RUNS);
    });
  }
});

const binaryCases: [string, (a: Tensor, b: Tensor) => Tensor, { min?: number; max?: number }, { min?: number; max?: number }][] = [
  ['add', add, {}, {}],
  ['sub', sub, {}, {}],
  ['mul', mul, {}, {}],
  ['div', div, {}, { min: 0.5, max: 3 }],
  ['pow (tensor exponent)', pow, { min: 0.2, max: 3 }, { min: -2, max: 2 }],
  ['maximum', maximum, {}, {}],
  ['minimum', minimum, {}, {}],
];

describe('binary ops: broadcasting gradients', () => {
  for (const [name, f, oa, ob] of binaryCases) {
    it(`${name} passes the gradient checker on broadcast shapes`, () => {
      fc.assert(
        fc.property(broadcastPair().chain(([sa, sb]) => fc.tuple(tensorOf(sa, oa), tensorOf(sb, ob))), ([a, b]) => {
          // maximum/minimum have a kink where a = b: finite differences only hold away from it (ties have their own test)
          if (name === 'maximum' || name === 'minimum') fc.pre(a.sub(b).abs().min().item() > 0.01);
          assertGradcheck(f, [a, b]);
        }),
        RUNS,
      );
    });
  }
  it('pow with a scalar exponent passes the gradient checker', () => {
    fc.assert(fc.property(anyTensor(3, 4, { min: 0.2, max: 3 }), fc.double({ min: -3, max: 3, noNaN: true }), (x, p) => assertGradcheck((t) => pow(t, p), [x])), RUNS);
  });
  it('where passes the gradient checker and routes gradients by the condition', () => {
    fc.assert(
      fc.property(broadcastPair().chain(([sa, sb]) => fc.tuple(tensorOf(sa), tensorOf(sb))), ([a, b]) => {
        const cond = a.gt(0);
        assertGradcheck((x, y) => where(cond, x, y), [a, b]);
      }),
      RUNS,
    );
  });
});

describe('broadcasting', () => {
  it('matches a naive index-by-index reference', () => {
    fc.assert(
      fc.property(broadcastPair(4, 3).chain(([sa, sb]) => fc.tuple(tensorOf(sa), tensorOf(sb))), ([a, b]) => {
        const out = broadcastShapes('ref', a.shape, b.shape);
        const got = a.sub(b).data;
        const ref = (t: Tensor, idx: number[]): number => {
          const st = stridesOf(t.shape);
          const off = idx.length - t.rank;
          return t.data[t.shape.reduce((s, d, i) => s + (d === 1 ? 0 : idx[off + i]!) * st[i]!, 0)]!;
        };
        const os = stridesOf(out);
        for (let k = 0; k < sizeOf(out); k++) {
          const idx = out.map((_, i) => Math.floor(k / os[i]!) % out[i]!);
          assert.equal(got[k], ref(a, idx) - ref(b, idx));
        }
      }),
      RUNS,
    );
  });
  it('rejects incompatible shapes naming the op and both shapes', () => {
    assert.throws(() => tensor([[1, 2, 3]]).add(tensor([1, 2])), /add: shapes \[1, 3\] and \[2\] cannot be broadcast/);
  });
});

describe('conventions at kinks and ties', () => {
  it('relu has gradient 0 at exactly 0', () => {
    const x = tensor([-1, 0, 2], { requiresGrad: true });
    relu(x).sum().backward();
    assert.deepEqual(Array.from(x.grad!.data), [0, 0, 1]);
  });
  it('abs has gradient 0 at exactly 0', () => {
    const x = tensor([-2, 0, 2], { requiresGrad: true });
    abs(x).sum().backward();
    assert.deepEqual(Array.from(x.grad!.data), [-1, 0, 1]);
  });
  it('maximum and minimum split the gradient evenly at ties', () => {
    const a = tensor([1, 2, 3], { requiresGrad: true });
    const b = tensor([1, 5, 0], { requiresGrad: true });
    maximum(a, b).sum().backward();
    assert.deepEqual(Array.from(a.grad!.data), [0.5, 0, 1]);
    assert.deepEqual(Array.from(b.grad!.data), [0.5, 1, 0]);
    a.zeroGrad();
    b.zeroGrad();
    minimum(a, b).sum().backward();
    assert.deepEqual(Array.from(a.grad!.data), [0.5, 1, 0]);
  });
  it('clamp passes the gradient at its bounds, inclusive (as PyTorch)', () => {
    const x = tensor([-2, -1, 0, 1, 2], { requiresGrad: true });
    clamp(x, -1, 1).sum().backward();
    assert.deepEqual(Array.from(x.grad!.data), [0, 1, 1, 1, 0]);
  });
  it('comparison results carry no gradient', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    assert.equal(x.gt(1).requiresGrad, false);
  });
  it('float64 wins dtype promotion', () => {
    const y = tensor([1, 2]).add(tensor([1, 2], { dtype: 'float64' }));
    assert.equal(y.dtype, 'float64');
  });
  it('pow at zero as IEEE and PyTorch: 0⁰ = 1, d/da a⁰ = 0, d/da a⁻¹ = −∞ at a = 0', () => {
    assert.deepEqual([...tensor([0, 0, 2]).pow(tensor([0, 2, 0])).data], [1, 0, 1]);
    const cases: [number, number][] = [[0, 0], [-1, -Infinity], [2, 0], [1, 1]];
    for (const [b, want] of cases) {
      const a = tensor([0], { requiresGrad: true });
      a.pow(b).sum().backward();
      assert.equal(a.grad!.item(), want, `d/da a^${b} at a = 0`);
    }
  });
});
