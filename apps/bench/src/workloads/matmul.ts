import { Generator, randn, setCpuMatmul, type MatmulKernel } from '@ggem/tensor';
import type { Workload } from '../harness.js';
import { tfjsWasm } from '../engines/tfjs.js';

/** C = A·B on float32 [n, n] operands with standard normal entries. */
export function matmulWorkload(n: number, kernels: MatmulKernel[]): Workload {
  const g = new Generator(n);
  const a = randn([n, n], { generator: g });
  const b = randn([n, n], { generator: g });
  return {
    name: `matmul ${n}³ f32`,
    flop: 2 * n * n * n,
    tolerance: 1e-4,
    impls: [
      // the TypeScript reference is 20-40× slower: only timed on small sizes, where it does not disturb the others
      ...kernels.filter((k) => k !== 'typescript' || n <= 256).map((k) => ({
        engine: `ggem (${k}, 1 core)`,
        setup: () => async () => {
          setCpuMatmul(k);
          return a.matmul(b).data as Float32Array;
        },
        teardown: () => setCpuMatmul(kernels[0]!),
      })),
      {
        engine: 'tfjs-wasm 4.22',
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
    ],
  };
}
