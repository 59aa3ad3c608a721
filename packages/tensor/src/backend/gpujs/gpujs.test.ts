import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { cpuBackend, Generator, getBackend, randn, setBackend, Tensor } from '../../index.js';
import { createGpujsBackend, MAX_CELLS, type GpujsBackend } from './index.js';
import { adamwSteps, gemOutputs, maxError, on, opCases, valueAndGrads } from './op-cases.js';

const { GPU } = (await import('gpu.js' as string)) as { GPU: new (s: Record<string, unknown>) => Parameters<typeof createGpujsBackend>[0] };

/** gpu.js's Node modes and the kernel class each must run (gpu.js falls back silently). */
const modes = [
  ['cpu', 'CPUKernel'],
  ['webasm', 'WebAssemblyKernel'],
] as const;

function close(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = 1e-5): void {
  const e = maxError([got], [want]);
  assert.ok(e <= tol, `${what}: error ${e} relative to 1 + |value| (tolerance ${tol})`);
}

const before = getBackend().name;
after(() => setBackend(before));

for (const [mode, kernelClass] of modes) {
  describe(`gpu.js backend, ${mode} mode`, () => {
    const warnings: string[] = [];
    const be: GpujsBackend = createGpujsBackend(new GPU({ mode }), (m) => warnings.push(m));
    for (const [name, f, shapes] of opCases) {
      it(`${name}: values and gradients equal the CPU backend's`, async () => {
        await fc.assert(fc.asyncProperty(fc.integer(), async (seed) => {
          const g = new Generator(seed);
          const inputs = shapes.map((s) => randn(s, { generator: g }));
          const want = await valueAndGrads(cpuBackend, f, inputs);
          const got = await valueAndGrads(be, f, inputs);
          got.forEach((a, k) => close(a, want[k]!, k === 0 ? 'value' : `gradient ${k}`));
        }), { numRuns: 5 });
      });
    }
    it('fused GeM / GGeM kernels (forward, x and p gradients) equal the CPU backend\'s', async () => {
      await fc.assert(fc.asyncProperty(fc.integer(), fc.constantFrom(1, 2, 4), fc.integer({ min: 0, max: 2 }), async (seed, groups, start) => {
        const g = new Generator(seed);
        const dims = [3, 6, 8];
        const x = randn(dims, { generator: g }).data as Float32Array;
        const p = Float32Array.from({ length: groups }, () => 1 + 4 * g.uniform());
        const gy = randn([3, 8], { generator: g }).data as Float32Array;
        const want = await gemOutputs(cpuBackend, x, dims, start, p, gy);
        (await gemOutputs(be, x, dims, start, p, gy)).forEach((a, k) => close(a, want[k]!, ['y', 'gx', 'gp'][k]!, 2e-5));
      }), { numRuns: 8 });
      assert.ok(!be.fallbacks.has('gem'));
    });
    it(`ran every kernel as ${kernelClass}`, () => {
      assert.equal(be.mode, mode);
      assert.deepEqual([...be.kernelClasses], [kernelClass]);
    });
    it('runs an op it has no kernel for on the CPU, reported once', () => {
      const x = on(randn([4, 6], { generator: new Generator(3) }), be);
      const want = randn([4, 6], { generator: new Generator(3) }).argmax(1).data;
      assert.deepEqual(x.argmax(1).data, want);
      x.argmax(1);
      assert.ok(be.fallbacks.has('argReduce'));
      assert.equal(warnings.filter((w) => w.includes('argReduce')).length, 1);
    });
  });
}

type GpuLike = Parameters<typeof createGpujsBackend>[0];
type StandIn = GpuLike & { deletes: number };

/**
 * WebGPU's contract, in Node: gpu.js's webgpu kernels return promises and read back
 * asynchronously. A stand-in GPU gives `real`'s kernels that contract (each result a
 * macrotask later, `toArray` a promise, `delete` counted) and reports mode 'webgpu', so the
 * backend chains kernels on promises. A kernel that reads a deleted output fails, and so
 * does one given an array where its first call had a device buffer (webgpu kernels keep the
 * argument types of their first call and read the array as a buffer of another device).
 */
function standIn(real: GpuLike): StandIn {
  const deleted = new WeakSet<object>();
  type Out = { inner: unknown; toArray(): Promise<ArrayLike<number>>; delete(): void };
  const isOut = (a: unknown): a is Out => a !== null && typeof a === 'object' && 'inner' in a;
  const stand: StandIn = {
    deletes: 0,
    mode: 'webgpu',
    createKernel(fn, settings) {
      const k = real.createKernel(fn, settings);
      let buffers: boolean[] | undefined;
      const wrapped = (...args: unknown[]) =>
        new Promise<Out>((resolve, reject) =>
          setTimeout(() => {
            buffers ??= args.map(isOut);
            if (args.some((a, i) => buffers![i] && !isOut(a))) return reject(new Error('an array passed where the first call had a buffer'));
            if (args.some((a) => isOut(a) && deleted.has(a))) return reject(new Error('a kernel read a deleted output'));
            if (args.some((a) => a instanceof Promise)) return reject(new Error('a kernel was given a promise'));
            const r = k(...args.map((a) => (isOut(a) ? a.inner : a))) as { toArray?: () => ArrayLike<number> } | ArrayLike<number>;
            const out: Out = {
              inner: r,
              toArray: async () => ('toArray' in r && r.toArray ? r.toArray() : (r as ArrayLike<number>)),
              delete: () => {
                deleted.add(out);
                stand.deletes++;
              },
            };
            resolve(out);
          }, 0),
        );
      return Object.assign(wrapped, { kernel: k.kernel });
    },
  };
  return stand;
}

describe('gpu.js backend with promise-returning kernels (the webgpu contract)', () => {
  const stand = standIn(new GPU({ mode: 'cpu' }));
  const be = createGpujsBackend(stand, () => {});

  for (const [name, f, shapes] of opCases) {
    it(`${name}: values and gradients (read with dataAsync) equal the CPU backend's`, async () => {
      const g = new Generator(5);
      const inputs = shapes.map((s) => randn(s, { generator: g }));
      const want = await valueAndGrads(cpuBackend, f, inputs);
      const got = await valueAndGrads(be, f, inputs);
      got.forEach((a, k) => close(a, want[k]!, k === 0 ? 'value' : `gradient ${k}`));
    });
  }

  it('runs an op on host arrays after the same op on device buffers (a kernel per kind of argument)', async () => {
    const g = new Generator(4);
    const [a, b] = [randn([3, 5], { generator: g }), randn([3, 5], { generator: g })];
    const want = a.add(b).data;
    const onDevice = on(a, be).mul(1).add(on(b, be).mul(1)); // add's kernel first sees two device buffers
    close(await onDevice.dataAsync(), want, 'device');
    const onHost = on(a, be).add(on(b, be)); // then two arrays (as CPU fallbacks' results are)
    close(await onHost.dataAsync(), want, 'host');
  });

  it('takes AdamW steps (stepAsync) on a small network with the CPU backend\'s trajectory', async () => {
    const want = await adamwSteps(cpuBackend);
    (await adamwSteps(be)).forEach((a, k) => close(a, want[k]!, k === 0 ? 'losses' : `parameter ${k - 1}`, 1e-4));
  });

  it('frees the outputs backward no longer needs (the cases above fail if one is freed before a kernel that reads it)', async () => {
    assert.ok(stand.deletes > 0, 'backward released intermediate gradients');
  });

  it('forgets a reader once its kernel has run (long-lived inputs such as parameters do not collect them)', async () => {
    const w = on(randn([3, 4], { generator: new Generator(2) }), be);
    const ys = Array.from({ length: 5 }, () => w.mul(2));
    await Promise.all(ys.map((y) => y.dataAsync()));
    assert.equal((w.storage as { readers?: Set<unknown> }).readers?.size, 0);
  });

  it('says to use dataAsync when values are still on their way, and runs CPU fallbacks once the inputs arrive', async () => {
    const x = on(randn([4, 6], { generator: new Generator(3) }), be).mul(2);
    assert.throws(() => x.data, /computed asynchronously on the device; read them with await tensor\.dataAsync\(\)/);
    const want = randn([4, 6], { generator: new Generator(3) }).mul(2).argmax(1).data;
    assert.deepEqual(await x.argmax(1).dataAsync(), want);
    assert.ok(be.fallbacks.has('argReduce'));
  });
});

/** A GPU that records the most cells any of its kernels wrote or was given. */
function recording(gpu: GpuLike): GpuLike & { most: number } {
  const r = {
    mode: gpu.mode,
    most: 0,
    createKernel(fn: Parameters<GpuLike['createKernel']>[0], settings: Record<string, unknown>) {
      const k = gpu.createKernel(fn, settings);
      r.most = Math.max(r.most, (settings.output as number[])[0]!);
      const wrapped = (...args: unknown[]) => {
        for (const a of args) if (ArrayBuffer.isView(a)) r.most = Math.max(r.most, (a as Float32Array).length);
        return k(...args);
      };
      return Object.assign(wrapped, { kernel: k.kernel });
    },
  };
  return r;
}

describe('gpu.js backend over its cell limit (ops in chunks, tensors in pieces)', () => {
  const targets = [
    ['cpu mode', (g: GpuLike) => g],
    ['the webgpu stand-in', (g: GpuLike) => standIn(g)],
  ] as const;
  for (const [where, wrap] of targets) {
    for (const [name, f, shapes, limit] of opCases) {
      if (limit === undefined) continue;
      it(`${name}, ${where}: no kernel over ${limit} cells, values and gradients equal the CPU backend's`, async () => {
        const inputs = shapes.map((s) => randn(s, { generator: new Generator(limit) }));
        const gpu = recording(new GPU({ mode: 'cpu' }));
        const be = createGpujsBackend(wrap(gpu), () => {}, { maxCells: limit });
        const whole = createGpujsBackend(new GPU({ mode: 'cpu' }), () => {});
        const want = await valueAndGrads(cpuBackend, f, inputs);
        const got = await valueAndGrads(be, f, inputs);
        got.forEach((a, k) => close(a, want[k]!, k === 0 ? 'value' : `gradient ${k}`));
        assert.ok(Math.max(...want.map((a) => a.length)) > limit, 'the case has a tensor over the limit');
        assert.ok(gpu.most > 0 && gpu.most <= limit, `a kernel saw ${gpu.most} cells`);
        // chunking adds no CPU fallback to those the op has anyway
        await valueAndGrads(whole, f, inputs);
        assert.deepEqual([...be.fallbacks].sort(), [...whole.fallbacks].sort());
      });
    }
    it(`fused GGeM in chunks of the batch, ${where}: y and the x and p gradients equal the CPU backend's`, async () => {
      const g = new Generator(12);
      const dims = [3, 6, 8];
      const x = randn(dims, { generator: g }).data as Float32Array;
      const gy = randn([3, 8], { generator: g }).data as Float32Array;
      const p = Float32Array.from([2.5, 4]);
      const gpu = recording(new GPU({ mode: 'cpu' }));
      const be = createGpujsBackend(wrap(gpu), () => {}, { maxCells: 48 });
      const want = await gemOutputs(cpuBackend, x, dims, 1, p, gy);
      (await gemOutputs(be, x, dims, 1, p, gy)).forEach((a, k) => close(a, want[k]!, ['y', 'gx', 'gp'][k]!, 2e-5));
      assert.ok(gpu.most <= 48, `a kernel saw ${gpu.most} cells`);
      assert.deepEqual([...be.fallbacks], []);
    });
    it(`takes AdamW steps with every kernel within 30 cells, ${where}, on the CPU backend's trajectory`, async () => {
      const gpu = recording(new GPU({ mode: 'cpu' }));
      const be = createGpujsBackend(wrap(gpu), () => {}, { maxCells: 30 });
      const want = await adamwSteps(cpuBackend);
      (await adamwSteps(be)).forEach((a, k) => close(a, want[k]!, k === 0 ? 'losses' : `parameter ${k - 1}`, 1e-4));
      assert.ok(gpu.most <= 30, `a kernel saw ${gpu.most} cells`);
    });
  }

  it(`splits a tensor over the default limit (2²⁴ − 1 cells): ${4097 * 4096} cells through elementwise ops and a sum`, async () => {
    const gpu = recording(new GPU({ mode: 'cpu' }));
    const be = createGpujsBackend(gpu, () => {});
    const data = Float32Array.from({ length: 4097 * 4096 }, (_, i) => ((i * 7919) % 1000) / 1000);
    const x = new Tensor(be.fromArray(data), [4097, 4096], 'float32', be);
    const y = x.mul(2).add(1);
    const got = await y.dataAsync();
    for (const i of [0, 1, MAX_CELLS - 1, MAX_CELLS, MAX_CELLS + 1, data.length - 1]) assert.equal(got[i], Math.fround(Math.fround(data[i]! * 2) + 1), `cell ${i}`);
    const rows = await y.sum(1).dataAsync();
    const want = (r: number) => data.subarray(r * 4096, (r + 1) * 4096).reduce((s, v) => s + Math.fround(Math.fround(v * 2) + 1), 0);
    for (const r of [0, 4095, 4096]) close([rows[r]!], [want(r)], `row ${r}`, 1e-5);
    assert.ok(gpu.most <= MAX_CELLS, `a kernel saw ${gpu.most} cells`);
    assert.deepEqual([...be.fallbacks], []);
  });
});
