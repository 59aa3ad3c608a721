import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { pooledBytes } from '../backend/reference/pool.js';
import {
  attention,
  attentionComposed,
  cast,
  cpuBackend,
  crossEntropy,
  dropout,
  Generator,
  layerNorm,
  layerNormComposed,
  linear,
  logSoftmax,
  logSoftmaxComposed,
  matmul,
  matmulT,
  randn,
  referenceBackend,
  softmax,
  softmaxComposed,
  tensor,
  type Tensor,
} from '../index.js';
import { on } from '../test/op-cases.js';
import { assertGradcheck } from '../testing/index.js';
import { RUNS, shape, tensorOf } from '../test/arbitraries.js';

const withAxis = shape(3, 4, 1).chain((s) => fc.tuple(tensorOf(s), fc.integer({ min: -s.length, max: s.length - 1 })));

describe('softmax and logSoftmax', () => {
  it('pass the gradient checker along any axis', () => {
    fc.assert(
      fc.property(withAxis, ([x, ax]) => {
        assertGradcheck((t) => softmax(t, ax), [x]);
        assertGradcheck((t) => logSoftmax(t, ax), [x]);
      }),
      RUNS,
    );
  });
  it('rows sum to 1 and are invariant to a shift', () => {
    fc.assert(
      fc.property(withAxis, fc.double({ min: -100, max: 100, noNaN: true }), ([x, ax], c) => {
        const y = softmax(x, ax);
        y.sum(ax).data.forEach((v) => assert.ok(Math.abs(v - 1) < 1e-12));
        const ys = softmax(x.add(c), ax).data;
        y.data.forEach((v, i) => assert.ok(Math.abs(v - ys[i]!) < 1e-12));
      }),
      RUNS,
    );
  });
  it('logSoftmax equals log(softmax) and stays finite for inputs of 1e4', () => {
    fc.assert(
      fc.property(withAxis, ([x, ax]) => {
        const a = logSoftmax(x, ax).data;
        const b = softmax(x, ax).log().data;
        a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-12));
      }),
      RUNS,
    );
    const big = tensor([
      [1e4, 0, -1e4],
      [1e4, 1e4, 1e4],
    ]);
    const ls = logSoftmax(big).data;
    assert.ok(ls.every(Number.isFinite));
    assert.equal(ls[0], 0);
    assert.ok(Math.abs(ls[3]! + Math.log(3)) < 1e-6);
    assert.ok(softmax(big).data.every(Number.isFinite));
  });
});

describe('layerNorm', () => {
  it('passes the gradient checker with and without affine parameters', () => {
    const xs = shape(2, 3, 0).chain((lead) => fc.integer({ min: 2, max: 6 }).chain((d) => fc.tuple(tensorOf([...lead, d]), tensorOf([d]), tensorOf([d]))));
    fc.assert(
      fc.property(xs, ([x, w, b]) => {
        assertGradcheck((t, u, v) => layerNorm(t, u, v, 1e-5), [x, w, b]);
        assertGradcheck((t) => layerNorm(t, null, null, 1e-5), [x]);
      }),
      RUNS,
    );
  });
  it('gives rows of mean 0 and variance 1', () => {
    const xs = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 40 })).chain(([r, d]) => tensorOf([r, d], { min: -50, max: 50 }));
    fc.assert(
      fc.property(xs, (x) => {
        const d = x.shape[1]!;
        // a row needs a variance far above eps (1e-12) for var/(var + eps) to be 1 within 1e-6
        fc.pre(x.max(1).sub(x.min(1)).min().item() > 0.05);
        const y = layerNorm(x, null, null, 1e-12);
        y.mean(1).data.forEach((v) => assert.ok(Math.abs(v) < 1e-9));
        y.pow(2)
          .mean(1)
          .data.forEach((v) => assert.ok(Math.abs(v - 1) < 1e-6, `variance ${v} (d=${d})`));
      }),
      RUNS,
    );
  });
  it('names the mismatched parameter', () => {
    assert.throws(() => layerNorm(tensor([[1, 2, 3]]), tensor([1, 1]), null), /layerNorm: weight has shape \[2\] but the input's last dim is 3/);
  });
});

describe('crossEntropy', () => {
  it('passes the gradient checker, with and without label smoothing', () => {
    const xs = fc
      .tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 6 }))
      .chain(([b, c]) =>
        fc.tuple(
          tensorOf([b, c], { min: -5, max: 5 }),
          fc.array(fc.integer({ min: 0, max: c - 1 }), { minLength: b, maxLength: b }),
          fc.double({ min: 0, max: 0.3, noNaN: true }),
        ),
      );
    fc.assert(
      fc.property(xs, ([z, labels, s]) => {
        assertGradcheck((t) => crossEntropy(t, labels), [z]);
        assertGradcheck((t) => crossEntropy(t, labels, { labelSmoothing: s }), [z]);
      }),
      RUNS,
    );
  });
  it('equals −log softmax at the label', () => {
    const z = tensor([[2, 1, 0]]);
    const ref = -Math.log(Math.exp(2) / (Math.exp(2) + Math.exp(1) + 1));
    assert.ok(Math.abs(crossEntropy(z, [0]).item() - ref) < 1e-6);
  });
  it('rejects labels out of range, naming them', () => {
    assert.throws(() => crossEntropy(tensor([[1, 2]]), [2]), /crossEntropy: label 2 at position 0 is not an integer in \[0, 2\)/);
    assert.throws(() => crossEntropy(tensor([[1, 2]]), [0, 1]), /crossEntropy: 2 labels for a batch of 1/);
  });
});

describe('dropout', () => {
  it('passes the gradient checker for a fixed mask', () => {
    fc.assert(
      fc.property(
        shape(3, 4, 1).chain((s) => tensorOf(s)),
        (x) => assertGradcheck((t) => dropout(t, 0.4, true, new Generator(9)), [x]),
      ),
      RUNS,
    );
  });
  it('keeps the expectation and is the identity in eval mode', () => {
    const x = tensor(new Float64Array(20000).fill(1));
    const y = dropout(x, 0.25, true, new Generator(1));
    assert.ok(Math.abs(y.mean().item() - 1) < 0.03);
    const zeros = y.data.filter((v) => v === 0).length / y.size;
    assert.ok(Math.abs(zeros - 0.25) < 0.02);
    assert.equal(dropout(x, 0.25, false), x);
  });
});

/** The composed multi-head attention that `attention` fuses (reshape, permute, matmul, softmax). */
function composedAttention(qkv: Tensor, h: number): { y: Tensor; probs: Tensor } {
  const [b, n, d3] = qkv.shape as [number, number, number];
  const hd = d3 / 3 / h;
  const parts = qkv.reshape([b, n, 3, h, hd]).permute([2, 0, 3, 1, 4]);
  const [q, k, v] = [0, 1, 2].map((i) => parts.narrow(0, i, 1).squeeze(0)) as [Tensor, Tensor, Tensor];
  const probs = matmulT(q.mul(hd ** -0.5), k, false, true).softmax(-1);
  return {
    y: matmul(probs, v)
      .permute([0, 2, 1, 3])
      .reshape([b, n, h * hd]),
    probs,
  };
}

const attentionCase = fc.record({
  b: fc.integer({ min: 1, max: 2 }),
  n: fc.integer({ min: 1, max: 7 }),
  h: fc.integer({ min: 1, max: 3 }),
  d: fc.integer({ min: 1, max: 4 }),
});

describe('attention (fused multi-head self-attention)', () => {
  it('passes the gradient checker', () => {
    fc.assert(
      fc.property(
        attentionCase.chain((c) => tensorOf([c.b, c.n, 3 * c.h * c.d]).map((x) => [x, c.h] as const)),
        ([qkv, h]) => {
          assertGradcheck((t) => attention(t, h).y, [qkv]);
        },
      ),
      RUNS,
    );
  });
  it('equals the composed reshape / permute / matmul / softmax form, values and gradients', () => {
    fc.assert(
      fc.property(
        attentionCase.chain((c) => fc.tuple(tensorOf([c.b, c.n, 3 * c.h * c.d]), tensorOf([c.b, c.n, c.h * c.d])).map(([x, w]) => [x, w, c.h] as const)),
        ([qkv, w, h]) => {
          const grad = (f: (t: Tensor) => Tensor) => {
            const x = qkv.detach().setRequiresGrad(true);
            f(x).mul(w).sum().backward();
            return x.grad!.data;
          };
          const fused = attention(qkv, h);
          const ref = composedAttention(qkv, h);
          fused.y.data.forEach((v, i) => assert.ok(Math.abs(v - ref.y.data[i]!) < 1e-12));
          fused.probs.data.forEach((v, i) => assert.ok(Math.abs(v - ref.probs.data[i]!) < 1e-12));
          const g1 = grad((t) => attention(t, h).y);
          const g2 = grad((t) => composedAttention(t, h).y);
          g1.forEach((v, i) => assert.ok(Math.abs(v - g2[i]!) < 1e-12, `gradient entry ${i}: ${v} vs ${g2[i]}`));
        },
      ),
      RUNS,
    );
  });
  it('in float32 (WebAssembly SIMD kernels) equals the float64 reference within 1e-5', () => {
    // n around multiples of 4 (the kernels' vector width) and head sizes of 4 to 16
    const cases = fc.record({
      b: fc.integer({ min: 1, max: 2 }),
      n: fc.integer({ min: 1, max: 21 }),
      h: fc.integer({ min: 1, max: 3 }),
      d4: fc.integer({ min: 1, max: 4 }),
      seed: fc.integer(),
    });
    fc.assert(
      fc.property(cases, ({ b, n, h, d4, seed }) => {
        const g = new Generator(seed);
        const x32 = randn([b, n, 3 * h * 4 * d4], { generator: g }).setRequiresGrad(true);
        const w = randn([b, n, h * 4 * d4], { generator: g });
        const x64 = cast(x32.detach(), 'float64').setRequiresGrad(true);
        const r32 = attention(x32, h);
        const r64 = attention(x64, h);
        r32.y.mul(w).sum().backward();
        r64.y.mul(cast(w, 'float64')).sum().backward();
        const close = (a: ArrayLike<number>, c: ArrayLike<number>, what: string) => {
          for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - c[i]!) < 1e-5 * (1 + Math.abs(c[i]!)), `${what} entry ${i}: ${a[i]} vs ${c[i]}`);
        };
        close(r32.y.data, r64.y.data, 'y');
        close(r32.probs.data, r64.probs.data, 'probabilities');
        close(x32.grad!.data, x64.grad!.data, 'gradient');
      }),
      { numRuns: 40 },
    );
  });
  it('without probs, hands the probabilities back after backward and trains exactly as with them', () => {
    // probabilities [2, 2, 48, 48]: large enough for the CPU pool; three rounds reuse the storage
    const x = randn([2, 48, 3 * 2 * 8], { generator: new Generator(7) });
    const w = randn([2, 48, 2 * 8], { generator: new Generator(8) });
    const run = (probs: boolean) => {
      const grads: Float32Array[] = [];
      const released: boolean[] = [];
      for (let round = 0; round < 3; round++) {
        const t = x.detach().setRequiresGrad(true);
        const r = attention(t, 2, undefined, { probs });
        assert.equal(r.probs === null, !probs);
        const before = pooledBytes();
        r.y.mul(w).sum().backward();
        released.push(pooledBytes() >= before + 2 * 2 * 48 * 48 * 4);
        grads.push(t.grad!.data.slice() as Float32Array);
      }
      return { grads, released };
    };
    const kept = run(true);
    const handed = run(false);
    assert.ok(handed.released[0], 'the probabilities went back to the pool');
    handed.grads.forEach((g, k) => g.forEach((v, i) => assert.equal(v, kept.grads[k]![i], `round ${k}, entry ${i}`)));
  });
  it('gives the same float32 result on the reference backend (no SIMD)', () => {
    const x = randn([2, 9, 3 * 2 * 8], { generator: new Generator(4) });
    const a = attention(x, 2).y.data;
    const b = attention(on(x, referenceBackend), 2).y.data;
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-6));
  });
  it('rejects a qkv that does not split into heads', () => {
    assert.throws(() => attention(randn([2, 3, 10]), 2), /attention: expected qkv \[B, N, 3·D\] with D divisible by 2 heads, got \[2, 3, 10\]/);
    assert.throws(() => attention(randn([3, 12]), 2), /attention: expected qkv/);
  });
});

describe('linear', () => {
  it('passes the gradient checker with and without a bias, for 2-d and 3-d inputs', () => {
    const xs = fc
      .tuple(shape(2, 3, 1), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }))
      .chain(([lead, din, dout]) => fc.tuple(tensorOf([...lead, din]), tensorOf([dout, din]), tensorOf([dout])));
    fc.assert(
      fc.property(xs, ([x, w, b]) => {
        assertGradcheck((t, u, v) => linear(t, u, v), [x, w, b]);
        assertGradcheck((t, u) => linear(t, u), [x, w]);
        const r = x.matmul(w.transpose()).mul(0.5).add(1).detach(); // a residual of the output's shape
        assertGradcheck((t, u, v, q) => linear(t, u, v, q), [x, w, b, r]);
      }),
      RUNS,
    );
  });
  it('adds a residual inside the product: equal to residual + x Wᵀ + b in float32', () => {
    const g = new Generator(12);
    const [x, w, b, r] = [
      randn([3, 50, 64], { generator: g }),
      randn([64, 64], { generator: g }),
      randn([64], { generator: g }),
      randn([3, 50, 64], { generator: g }),
    ];
    const got = linear(x, w, b, r).data;
    const want = r.add(
      matmulT(x.reshape([150, 64]), w, false, true)
        .add(b)
        .reshape([3, 50, 64]),
    ).data;
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-5 * (1 + Math.abs(want[i]!)), `entry ${i}`));
    assert.throws(() => linear(x, w, b, randn([3, 50, 63])), /linear: residual \[3, 50, 63\] differs from the output \[3, 50, 64\]/);
  });
  it('adds the bias inside the product: equal to x Wᵀ + b in float32', () => {
    const g = new Generator(11);
    for (const [m, k, n] of [
      [37, 20, 33],
      [5, 64, 128],
      [100, 3, 7],
    ] as const) {
      const x = randn([m, k], { generator: g });
      const w = randn([n, k], { generator: g });
      const b = randn([n], { generator: g });
      const got = linear(x, w, b).data;
      const want = matmulT(x, w, false, true).add(b).data;
      got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-5 * (1 + Math.abs(want[i]!)), `[${m},${k},${n}] entry ${i}`));
    }
  });
  it('names mismatched shapes', () => {
    assert.throws(() => linear(randn([2, 3]), randn([4, 5])), /linear: input \[2, 3\] does not fit weight \[4, 5\]/);
    assert.throws(() => linear(randn([2, 3]), randn([4, 3]), randn([5])), /linear: bias \[5\] does not fit weight \[4, 3\] \(expected \[4\]\)/);
  });
});

describe('layerNorm in float32 (WebAssembly SIMD)', () => {
  it('equals the float64 reference within 1e-5, values and all gradients', () => {
    const cases = fc.record({ rows: fc.integer({ min: 1, max: 300 }), d4: fc.integer({ min: 1, max: 24 }), affine: fc.boolean(), seed: fc.integer() });
    fc.assert(
      fc.property(cases, ({ rows, d4, affine, seed }) => {
        const g = new Generator(seed);
        const d = 4 * d4;
        const x = randn([rows, d], { generator: g, std: 3 }).add(1);
        const r = randn([rows, d], { generator: g });
        const params = affine ? [randn([d], { generator: g }), randn([d], { generator: g })] : [];
        const run = (dtype: 'float32' | 'float64') => {
          const ins = [x, ...params].map((t) => cast(t.detach(), dtype).setRequiresGrad(true));
          layerNorm(ins[0]!, ins[1] ?? null, ins[2] ?? null, 1e-6)
            .mul(cast(r, dtype))
            .sum()
            .backward();
          return [layerNorm(ins[0]!.detach(), ins[1]?.detach() ?? null, ins[2]?.detach() ?? null, 1e-6).data, ...ins.map((t) => t.grad!.data)];
        };
        const a = run('float32');
        const c = run('float64');
        a.forEach((arr, k) =>
          arr.forEach((v, i) =>
            assert.ok(
              Math.abs(v - c[k]![i]!) < 1e-5 * (1 + Math.abs(c[k]![i]!)) * (k >= 2 ? Math.sqrt(rows) : 1),
              `output ${k} entry ${i}: ${v} vs ${c[k]![i]}`,
            ),
          ),
        );
      }),
      { numRuns: 30 },
    );
  });
});

describe('fused kernels equal their compositions of primitives (values and gradients)', () => {
  /** f's value and the gradients of Σ f·w w.r.t. each input, on copies of the inputs. */
  const run = (f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]) => {
    const xs = inputs.map((t) => t.detach().setRequiresGrad(true));
    const y = f(...xs);
    y.mul(
      randn(y.shape, { generator: new Generator(3) })
        .cast(y.dtype)
        .to(y.backend),
    )
      .sum()
      .backward();
    return [y.data, ...xs.map((x) => x.grad!.data)];
  };
  const cases: [string, (...xs: Tensor[]) => Tensor, (...xs: Tensor[]) => Tensor, (g: Generator) => Tensor[]][] = [
    ['softmax', (x) => softmax(x, 1), (x) => softmaxComposed(x, 1), (g) => [randn([3, 7, 2], { generator: g, std: 3 })]],
    ['softmax over the last axis (the SIMD rows)', (x) => softmax(x), (x) => softmaxComposed(x), (g) => [randn([5, 8], { generator: g, std: 3 })]],
    ['logSoftmax', (x) => logSoftmax(x, -1), (x) => logSoftmaxComposed(x, -1), (g) => [randn([4, 9], { generator: g, std: 3 })]],
    [
      'layerNorm',
      (x, w, b) => layerNorm(x, w, b, 1e-5),
      (x, w, b) => layerNormComposed(x, w, b, 1e-5),
      (g) => [randn([2, 3, 8], { generator: g }), randn([8], { generator: g }), randn([8], { generator: g })],
    ],
    ['layerNorm without an affine part', (x) => layerNorm(x, null, null), (x) => layerNormComposed(x, null, null), (g) => [randn([6, 5], { generator: g })]],
    ['attention', (qkv) => attention(qkv, 2).y, (qkv) => attentionComposed(qkv, 2).y, (g) => [randn([2, 5, 3 * 2 * 4], { generator: g })]],
  ];
  for (const be of [cpuBackend, referenceBackend]) {
    for (const dtype of ['float32', 'float64'] as const) {
      for (const [name, fused, composed, make] of cases) {
        it(`${name} on the ${be.name} backend in ${dtype}`, () => {
          fc.assert(
            fc.property(fc.integer(), (seed) => {
              const inputs = make(new Generator(seed)).map((t) => t.cast(dtype).to(be));
              const [a, b] = [run(fused, inputs), run(composed, inputs)];
              const tol = dtype === 'float64' ? 1e-12 : 2e-5;
              a.forEach((arr, k) =>
                arr.forEach((v, i) =>
                  assert.ok(Math.abs(v - b[k]![i]!) <= tol * (1 + Math.abs(b[k]![i]!)), `output ${k}[${i}]: fused ${v}, composed ${b[k]![i]}`),
                ),
              );
            }),
            { numRuns: 5 },
          );
        });
      }
    }
  }
  it("attention's probabilities equal the composition's", () => {
    const qkv = randn([2, 6, 3 * 3 * 2], { generator: new Generator(9) }).cast('float64');
    const [a, b] = [attention(qkv, 3).probs.data, attentionComposed(qkv, 3).probs.data];
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-14));
  });
});
