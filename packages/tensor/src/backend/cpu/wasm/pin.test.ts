import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { gemmReference } from '../../reference/matmul.js';
import { Generator, Linear, linear, randn, referenceBackend } from '../../../index.js';
import { on } from '../../../test/op-cases.js';
import { simdEngine } from '../engine.js';
import { WasmEngine } from './engine.js';
import { engineGemm } from './gemm.js';
import { features } from './index.js';

const collect = async (done: () => boolean) => {
  for (let i = 0; i < 50 && !done(); i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("pinned arrays (in the kernels' memory, read in place)", () => {
  it('keep their values as the memory grows; operands go after them; a collected one gives its block back', async () => {
    assert.ok(typeof (globalThis as { gc?: unknown }).gc === 'function', 'run with --expose-gc');
    const engine = new WasmEngine([{ mr: 2, nr: 16, fma: false }]);
    const src = Float32Array.from({ length: 5000 }, (_, i) => i - 2500.5);
    let pinned: Float32Array | null = engine.pin(src);
    assert.ok(pinned !== null, 'Node shares the memory, so it pins');
    assert.notEqual(pinned, src);
    assert.deepEqual(pinned, src);
    const at = engine.offsetOf(pinned);
    assert.ok(at > 0);
    assert.equal(engine.offsetOf(src), -1, 'an array of the JavaScript heap is not in the memory');
    assert.ok(engine.base >= at + src.length * 4, 'operands are laid out after the pinned array');
    const size = engine.memory.buffer.byteLength;
    engine.layout(8 << 20);
    assert.ok(engine.memory.buffer.byteLength > size, 'the memory grew');
    assert.deepEqual(pinned, src, 'the view survives the growth');
    assert.ok(engine.offsetOf(pinned) === at, 'and is still found in the memory');
    assert.ok(engine.heapBytes >= src.length * 4);
    pinned = null;
    await collect(() => engine.heapBytes === 0);
    assert.equal(engine.heapBytes, 0, 'the collected array gave its block back');
    assert.equal(engine.offsetOf(engine.pin(src)!), at, 'and the next array of its size takes it');
  });

  it('a product reads a pinned B in place: the result of copying it, bit for bit, any shape, layout and offset', () => {
    const engine = new WasmEngine([{ mr: 2, nr: 16, fma: features.relaxedSimd }]);
    const gemm = engineGemm(engine, 0);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 50 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 9 }),
        fc.integer(),
        (m, n, k, tb, bOff, seed) => {
          const g = new Generator(seed);
          const a = Float32Array.from({ length: m * k }, () => g.normal());
          const b = Float32Array.from({ length: bOff + k * n }, () => g.normal());
          const bias = Float32Array.from({ length: n }, () => g.normal());
          const [bRow, bCol] = tb ? [1, k] : [n, 1];
          // pinned last, so a read past it would leave the heap
          const pinned = engine.pin(b)!;
          const copied = new Float32Array(m * n);
          const inPlace = new Float32Array(m * n);
          const want = new Float32Array(m * n);
          gemm(m, n, k, a, 0, k, 1, b, bOff, bRow, bCol, copied, 0, bias);
          gemm(m, n, k, a, 0, k, 1, pinned, bOff, bRow, bCol, inPlace, 0, bias);
          gemmReference(m, n, k, a, 0, k, 1, b, bOff, bRow, bCol, want, 0, bias);
          assert.deepEqual(inPlace, copied);
          want.forEach((w, i) => assert.ok(Math.abs(inPlace[i]! - w) <= 1e-4 * (1 + Math.abs(w)), `entry ${i}`));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a product reads an A of the heap in place and writes a C of the heap in place (padding rows, offsets, accumulation): the copied result bit for bit', () => {
    const engine = new WasmEngine([{ mr: 2, nr: 16, fma: features.relaxedSimd }]);
    const gemm = engineGemm(engine, 0);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(16, 32, 48),
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        fc.boolean(),
        fc.integer(),
        (m, n, k, batch, ta, accumulate, seed) => {
          const g = new Generator(seed);
          const a = Float32Array.from({ length: batch * m * k }, () => g.normal());
          const b = Float32Array.from({ length: k * n }, () => g.normal());
          const c0 = Float32Array.from({ length: batch * m * n }, () => g.normal());
          const [aRow, aCol] = ta ? [1, m] : [k, 1];
          const heapA = engine.alloc(a.length)!;
          const heapC = engine.alloc(c0.length)!;
          heapA.set(a);
          heapC.set(c0);
          const copied = c0.slice();
          // the matrices of a batch in order, as batchedMatmul runs them
          for (let t = 0; t < batch; t++) {
            gemm(m, n, k, a, t * m * k, aRow, aCol, b, 0, n, 1, copied, t * m * n, null, accumulate);
            gemm(m, n, k, heapA, t * m * k, aRow, aCol, b, 0, n, 1, heapC, t * m * n, null, accumulate);
          }
          assert.deepEqual(heapC, copied);
          engine.release(heapA);
          engine.release(heapC);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('linear pins its weight (the same tensor and values); writes through .data reach the next product', () => {
    const lin = new Linear(256, 96, { generator: new Generator(1) });
    const x = randn([5, 256], { generator: new Generator(2) });
    const values = lin.weight.data.slice();
    const weight = lin.weight;
    linear(x, lin.weight, lin.bias);
    assert.equal(lin.weight, weight);
    assert.ok(simdEngine()!.offsetOf(lin.weight.data) >= 0, 'the weight is in the engine memory');
    assert.deepEqual(lin.weight.data, values);
    (lin.weight.data as Float32Array)[7] = 3; // an optimizer's in-place step
    const y = linear(x, lin.weight, lin.bias).data;
    const want = linear(on(x, referenceBackend), on(lin.weight, referenceBackend), on(lin.bias!, referenceBackend)).data;
    want.forEach((w, i) => assert.ok(Math.abs(y[i]! - w) < 1e-4, `entry ${i}: ${y[i]} vs ${w}`));
  });

  it('assign() (initialisers, loadStateDict) puts the values in the memory, also where the host has no SharedArrayBuffer global', () => {
    const made = new Linear(256, 96, { generator: new Generator(3) });
    assert.ok(simdEngine()!.offsetOf(made.weight.data) >= 0, 'initialised in the engine memory, before any product');
    const host = globalThis as { SharedArrayBuffer?: unknown };
    const saved = host.SharedArrayBuffer;
    delete host.SharedArrayBuffer; // as in a page that is not cross-origin isolated
    try {
      const again = new Linear(256, 96, { generator: new Generator(3) });
      assert.deepEqual(again.weight.data, made.weight.data);
      const loaded = new Linear(256, 96, { init: 'zeros' });
      loaded.loadStateDict(made.stateDict());
      assert.ok(simdEngine()!.offsetOf(loaded.weight.data) >= 0, 'loaded into the engine memory');
      assert.deepEqual(loaded.weight.data, made.weight.data);
    } finally {
      host.SharedArrayBuffer = saved;
    }
  });
});
