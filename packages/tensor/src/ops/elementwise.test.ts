import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { abs, binaryOps, binaryTable, clamp, elu, leakyRelu, maximum, minimum, pow, relu, tensor, unaryOps, unaryTable, where, type Tensor } from '../index.js';
import { binary, unary } from './primitive.js';
import { assertGradcheck } from '../testing/index.js';
import { broadcastPair, RUNS, anyTensor, tensorOf, type ValueOptions } from '../test/arbitraries.js';
import { broadcastShapes, sizeOf, stridesOf } from '../shape.js';

describe('unary ops: every op of the table passes the gradient checker on its domain', () => {
  for (const op of unaryOps) {
    it(op, () => {
      fc.assert(
        fc.property(anyTensor(3, 4, unaryTable[op].domain), (x) => assertGradcheck((t) => unary(op, t), [x])),
        RUNS,
      );
    });
  }
  const composed: [string, (x: Tensor) => Tensor, ValueOptions][] = [
    ['clamp', (x) => clamp(x, -1, 1.5), { awayFrom: [-1, 1.5] }],
    ['leakyRelu', (x) => leakyRelu(x, 0.2), { awayFrom: [0] }],
    ['elu', (x) => elu(x, 0.7), { awayFrom: [0] }],
  ];
  for (const [name, f, o] of composed) {
    it(name, () => {
      fc.assert(
        fc.property(anyTensor(3, 4, o), (x) => assertGradcheck(f, [x])),
        RUNS,
      );
    });
  }
});

describe('binary ops: every differentiable op of the table passes the gradient checker on broadcast shapes', () => {
  for (const op of binaryOps) {
    const { domain, grad, apart } = binaryTable[op];
    if (grad === null) continue;
    it(op, () => {
      fc.assert(
        fc.property(
          broadcastPair().chain(([sa, sb]) => fc.tuple(tensorOf(sa, domain[0]), tensorOf(sb, domain[1]))),
          ([a, b]) => {
            // a kink where a = b: finite differences only hold away from it (ties have their own test)
            if (apart !== undefined) fc.pre(a.sub(b).abs().min().item() > apart);
            assertGradcheck((x, y) => binary(op, x, y), [a, b]);
          },
        ),
        RUNS,
      );
    });
  }
  it('pow with a scalar exponent passes the gradient checker', () => {
    fc.assert(
      fc.property(anyTensor(3, 4, { min: 0.2, max: 3 }), fc.double({ min: -3, max: 3, noNaN: true }), (x, p) => assertGradcheck((t) => pow(t, p), [x])),
      RUNS,
    );
  });
  it('where passes the gradient checker and routes gradients by the condition', () => {
    fc.assert(
      fc.property(
        broadcastPair().chain(([sa, sb]) => fc.tuple(tensorOf(sa), tensorOf(sb))),
        ([a, b]) => {
          const cond = a.gt(0);
          assertGradcheck((x, y) => where(cond, x, y), [a, b]);
        },
      ),
      RUNS,
    );
  });
});

describe('broadcasting', () => {
  it('matches a naive index-by-index reference', () => {
    fc.assert(
      fc.property(
        broadcastPair(4, 3).chain(([sa, sb]) => fc.tuple(tensorOf(sa), tensorOf(sb))),
        ([a, b]) => {
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
        },
      ),
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
    const cases: [number, number][] = [
      [0, 0],
      [-1, -Infinity],
      [2, 0],
      [1, 1],
    ];
    for (const [b, want] of cases) {
      const a = tensor([0], { requiresGrad: true });
      a.pow(b).sum().backward();
      assert.equal(a.grad!.item(), want, `d/da a^${b} at a = 0`);
    }
  });
});
