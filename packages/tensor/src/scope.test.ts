import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { simdEngine } from './backend/cpu/engine.js';
import { SLACK } from './backend/cpu/wasm/engine.js';
import { heapHolds, pooledBytes } from './backend/reference/pool.js';
import { crossEntropy, Generator, keep, nn, noGrad, optim, randn, scope, tensor, type Tensor } from './index.js';

/** A model whose activations are large enough for the pool (at least 4096 floats). */
function model(seed: number) {
  const g = new Generator(seed);
  const fc1 = new nn.Linear(128, 256, { generator: g });
  const norm = new nn.LayerNorm(256);
  const fc2 = new nn.Linear(256, 10, { generator: g });
  const forward = (x: Tensor) => fc2.forward(norm.forward(fc1.forward(x).gelu()));
  return { forward, params: [...fc1.parameters(), ...norm.parameters(), ...fc2.parameters()] };
}

const batch = (seed: number) => ({
  x: randn([64, 128], { generator: new Generator(seed) }),
  y: tensor(Int32Array.from({ length: 64 }, (_, i) => (i * 7 + seed) % 10)),
});

/** Overwrites every pooled array: a scope that allocates and releases arrays of the sizes the tests use. */
function churn(): void {
  for (let i = 0; i < 3; i++)
    scope(() =>
      noGrad(() =>
        model(99)
          .forward(randn([64, 128]))
          .sum()
          .item(),
      ),
    );
}

type Model = { forward: (x: Tensor) => Tensor; params: Tensor[] };
type Batch = { x: Tensor; y: Tensor };

/** Three AdamW steps, each in a scope or not, `after` each; the losses and the parameters after them. */
function train(m: Model, data: (step: number) => Batch, scoped: boolean, after: () => void): { losses: number[]; params: number[][] } {
  const opt = new optim.AdamW(m.params, { lr: 1e-2 });
  const losses: number[] = [];
  for (let s = 0; s < 3; s++) {
    const { x, y } = data(s);
    const step = () => {
      opt.zeroGrad();
      const l = crossEntropy(m.forward(x), y);
      l.backward();
      opt.step();
      return l.item();
    };
    losses.push(scoped ? scope(step) : step());
    after();
  }
  return { losses, params: m.params.map((p) => Array.from(p.data)) };
}

/** The parameters' gradients of a loss made in a scope (or not), backpropagated after it and after other scopes. */
function gradsAfter(m: Model, { x, y }: Batch, scoped: boolean): number[][] {
  const loss = scoped ? scope(() => crossEntropy(m.forward(x), y)) : crossEntropy(m.forward(x), y);
  churn();
  loss.backward();
  return m.params.map((p) => Array.from(p.grad!.data));
}

describe('scope', () => {
  it('training steps in a scope give the same losses and parameters bit for bit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.boolean(), (seed, churned) => {
        const run = (scoped: boolean) =>
          train(
            model(seed),
            (s) => batch(seed + s),
            scoped,
            () => churned && churn(),
          );
        assert.deepEqual(run(true), run(false));
      }),
      { numRuns: 4 },
    );
  });

  it('disposes what it does not return: using such a tensor is an error that says so', () => {
    let inner: Tensor | undefined;
    const out = scope(() => {
      inner = randn([64, 128]).gelu();
      return inner.mul(2);
    });
    assert.throws(() => inner!.data, /used after the scope that created it ended/);
    assert.throws(() => inner!.add(1), /used after the scope that created it ended/);
    assert.equal(out.shape.join(), '64,128');
  });

  it("hands its temporaries' arrays back to the pool, and the next scope writes into them", () => {
    const m = model(3);
    const x = randn([64, 128], { generator: new Generator(3) });
    const pass = () => scope(() => noGrad(() => m.forward(x).sum().item()));
    pass();
    const before = pooledBytes();
    pass();
    // fc1's output and its GELU at least (64×256 floats each), back after the pass
    assert.ok(pooledBytes() >= before, `pool ${before} → ${pooledBytes()} bytes`);
    const held = pooledBytes();
    let inside = 0;
    const out = scope(() => {
      const y = noGrad(() => m.forward(x));
      inside = pooledBytes();
      return y;
    });
    assert.ok(inside <= held - 2 * 64 * 256 * 4, `the next pass took its arrays from the pool (${held} → ${inside} bytes)`);
    assert.equal(pooledBytes(), held, 'and handed them back');
    assert.equal(out.shape.join(), '64,10');
  });

  it('keeps returned tensors (alone, in arrays and objects) and keep()-ed ones, with their values intact', () => {
    const x = randn([64, 128], { generator: new Generator(5) });
    const want = noGrad(() => [x.gelu().data.slice(), x.exp().data.slice(), x.tanh().data.slice(), x.sigmoid().data.slice()]);
    let kept: Tensor | undefined;
    const got = scope(() => {
      kept = keep(x.sigmoid());
      x.mul(3).add(1); // a temporary
      return { a: x.gelu(), rest: [x.exp(), { t: x.tanh() }] };
    });
    churn();
    scope(() => noGrad(() => Array.from({ length: 8 }, (_, i) => x.mul(i + 2)))[0]!.size); // arrays of x's size, rewritten
    assert.deepEqual(got.a.data, want[0]);
    assert.deepEqual((got.rest[0] as Tensor).data, want[1]);
    assert.deepEqual((got.rest[1] as { t: Tensor }).t.data, want[2]);
    assert.deepEqual(kept!.data, want[3]);
  });

  it('nests: an inner result lives until the outer scope ends', () => {
    let fromInner: Tensor | undefined;
    const x = randn([64, 128], { generator: new Generator(6) });
    const want = x.gelu().mul(2).data.slice();
    const out = scope(() => {
      fromInner = scope(() => x.gelu());
      churn();
      assert.deepEqual(fromInner.mul(2).data, want, 'the inner result is intact inside the outer scope');
      return fromInner.mul(2);
    });
    assert.throws(() => fromInner!.data, /after the scope/);
    churn();
    assert.deepEqual(out.data, want);
  });

  it('disposes nothing while its graph waits for backward: backward after the scope gives the same gradients', () => {
    const grads = (scoped: boolean) => gradsAfter(model(11), batch(11), scoped);
    assert.deepEqual(grads(true), grads(false));
  });

  it("keeps the parameters' gradients: they accumulate over scoped backward passes as without a scope", () => {
    const grads = (scoped: boolean) => {
      const m = model(12);
      for (let s = 0; s < 2; s++) {
        const { x, y } = batch(12 + s);
        const pass = () => crossEntropy(m.forward(x), y).backward();
        if (scoped) scope(pass);
        else pass();
        churn();
      }
      return m.params.map((p) => Array.from(p.grad!.data));
    };
    assert.deepEqual(grads(true), grads(false));
  });

  it('keeps whatever is assigned to a .grad in it (clipping replaces the gradients)', () => {
    const clipped = (scoped: boolean) => {
      const m = model(14);
      const { x, y } = batch(14);
      const pass = () => {
        crossEntropy(m.forward(x), y).backward();
        optim.clipGradNorm(m.params, 0.01);
      };
      if (scoped) scope(pass);
      else pass();
      churn();
      return m.params.map((p) => Array.from(p.grad!.data));
    };
    assert.deepEqual(clipped(true), clipped(false));
  });

  it('disposes nothing when its function throws', () => {
    let made: Tensor | undefined;
    assert.throws(
      () =>
        scope(() => {
          made = randn([64, 128]).exp();
          throw new Error('boom');
        }),
      /boom/,
    );
    const want = made!.data.slice();
    churn();
    assert.deepEqual(made!.data, want);
  });

  it('keeps memory flat over many scoped steps', () => {
    const m = model(13);
    const opt = new optim.AdamW(m.params, { lr: 1e-3 });
    const { x, y } = batch(13);
    const step = () =>
      scope(() => {
        opt.zeroGrad();
        const l = crossEntropy(m.forward(x), y);
        l.backward();
        opt.step();
        return l.item();
      });
    for (let i = 0; i < 5; i++) step();
    const pooled = pooledBytes();
    for (let i = 0; i < 50; i++) step();
    assert.ok(pooledBytes() <= pooled, `the pool grew from ${pooled} to ${pooledBytes()} bytes over 50 steps`);
  });

  describe("with large arrays in the kernels' memory (the heap)", () => {
    /** A model whose first activations (65 × 512 floats) go to the heap, with a padded last row panel. */
    function big(seed: number) {
      const g = new Generator(seed);
      const fc1 = new nn.Linear(128, 512, { generator: g });
      const norm = new nn.LayerNorm(512);
      const fc2 = new nn.Linear(512, 10, { generator: g });
      const hidden = (x: Tensor) => norm.forward(fc1.forward(x).gelu());
      return { hidden, forward: (x: Tensor) => fc2.forward(hidden(x)), params: [...fc1.parameters(), ...norm.parameters(), ...fc2.parameters()] };
    }
    const input = (seed: number) => ({
      x: randn([65, 128], { generator: new Generator(seed) }),
      y: tensor(Int32Array.from({ length: 65 }, (_, i) => (i * 3 + seed) % 10)),
    });
    const engine = () => simdEngine()!;

    it('kernels write there inside a scope, with the values they give outside one; what leaves is copied out; the blocks go back', () => {
      const m = big(21);
      const { x } = input(21);
      const want = noGrad(() => m.hidden(x)).data.slice();
      scope(() => noGrad(() => m.hidden(x)).size); // pins the weights
      const heapBefore = engine().heapBytes;
      let inside: Float32Array | undefined;
      const out = scope(() => {
        const h = noGrad(() => m.hidden(x));
        inside = h.data as Float32Array;
        return h;
      });
      assert.ok(inside !== undefined && heapHolds(inside), 'the activation was in the heap');
      assert.ok(!heapHolds(out.data as Float32Array), 'the returned tensor was copied out');
      assert.equal(engine().heapBytes, heapBefore, 'and every block went back');
      churn();
      scope(() => noGrad(() => Array.from({ length: 4 }, () => m.hidden(x)))[0]!.size); // the blocks rewritten
      assert.deepEqual(out.data, want);
    });

    it('training steps there give the same losses, parameters and gradients bit for bit; kept gradients are copied out', () => {
      const run = (scoped: boolean) => {
        const m = big(22);
        const after = () => {
          if (scoped) for (const p of m.params) assert.ok(!heapHolds(p.grad!.data as Float32Array), 'a kept gradient left the heap');
        };
        return { ...train(m, (s) => input(22 + s), scoped, after), grads: m.params.map((p) => Array.from(p.grad!.data)) };
      };
      assert.deepEqual(run(true), run(false));
    });

    it('an inner result stays there until the outer scope ends; a scope with { heap: false } alone keeps its arrays out', () => {
      const m = big(23);
      const { x } = input(23);
      const want = noGrad(() => m.hidden(x)).data.slice();
      scope(() => noGrad(() => m.hidden(x)).size); // pins the weights
      const base = engine().heapBytes;
      let inner: Float32Array | undefined;
      let held = 0;
      const out = scope(() => {
        const h = scope(() => noGrad(() => m.hidden(x)), { heap: false });
        inner = h.data as Float32Array;
        held = engine().heapBytes - base;
        return h;
      });
      assert.ok(heapHolds(inner!), 'inside a scope with the heap, an inner scope without it still gets arrays there');
      const block = Math.ceil((65 * 512 * 4 + SLACK) / 64) * 64;
      assert.equal(held, block, 'the inner scope gave back its temporaries and holds its result only');
      assert.ok(!heapHolds(out.data as Float32Array));
      assert.deepEqual(out.data, want);
      let alone: Float32Array | undefined;
      scope(
        () => {
          alone = noGrad(() => m.hidden(x)).data as Float32Array;
        },
        { heap: false },
      );
      assert.ok(!heapHolds(alone!));
    });

    it('a scope whose graph waits for backward leaves its arrays there for the collector: backward after it gives the plain gradients', () => {
      const grads = (scoped: boolean) => gradsAfter(big(24), input(24), scoped);
      assert.deepEqual(grads(true), grads(false));
    });

    it('keeps the heap flat over many scoped steps', () => {
      const m = big(25);
      const opt = new optim.AdamW(m.params, { lr: 1e-3 });
      const { x, y } = input(25);
      const step = () =>
        scope(() => {
          opt.zeroGrad();
          crossEntropy(m.forward(x), y).backward();
          opt.step();
        });
      for (let i = 0; i < 3; i++) step();
      const heap = engine().heapBytes;
      for (let i = 0; i < 30; i++) step();
      assert.equal(engine().heapBytes, heap, `the heap went from ${heap} to ${engine().heapBytes} bytes over 30 steps`);
    });
  });
});
