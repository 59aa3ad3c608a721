import { Generator, getCpuThreads, randn, setCpuMatmul, setCpuThreads, type MatmulKernel } from '@ggem/tensor';
import type { Impl, Workload } from '../harness.js';
import { gpujsMatmul } from '../engines/gpujs.js';
import { jaxMatmul } from '../engines/jax.js';
import { jsPytorchMatmul } from '../engines/jspytorch.js';
import { tfjsWasm } from '../engines/tfjs.js';

/** C = A·B on float32 [n, n] operands with standard normal entries. */
export function matmulWorkload(n: number, kernels: MatmulKernel[]): Workload {
  const g = new Generator(n);
  const a = randn([n, n], { generator: g });
  const b = randn([n, n], { generator: g });
  const cores = getCpuThreads();
  const ours = (kernel: MatmulKernel, threads: number): Impl => ({
    engine: `ggem (${kernel}, ${threads === 1 ? '1 core' : `${threads} threads`})`,
    threads,
    setup: () => async () => {
      setCpuMatmul(kernel);
      setCpuThreads(threads);
      return a.matmul(b).data as Float32Array;
    },
    teardown: () => {
      setCpuMatmul(kernels[0]!);
      setCpuThreads(cores);
    },
  });
  return {
    name: `matmul ${n}³ f32`,
    flop: 2 * n * n * n,
    tolerance: 1e-4,
    budgetMs: 20_000,
    impls: [
      // the TypeScript reference is 20-40× slower: only timed on small sizes, where it does not disturb the others
      ...kernels.filter((k) => k !== 'typescript' || n <= 256).map((k) => ours(k, 1)),
      ...(cores > 1 ? [ours(kernels[0]!, cores)] : []),
      {
        engine: 'tfjs-wasm 4.22 (1 core)',
        async setup() {
          const tf = await tfjsWasm();
          const ta = tf.tensor2d(a.data as Float32Array, [n, n]);
          const tb = tf.tensor2d(b.data as Float32Array, [n, n]);
          return async () => {
            const c = tf.matMul(ta, tb);
            const out = (await c.data()) as Float32Array;
            c.dispose();
            return out;
          };
        },
      },
      jaxMatmul(a.data as Float32Array, b.data as Float32Array, n),
      jsPytorchMatmul(a.data as Float32Array, b.data as Float32Array, n),
      gpujsMatmul(a.data as Float32Array, b.data as Float32Array, n),
    ],
  };
}
