import { Generator, layerNorm, ones, randn, zeros } from '@ggem/tensor';
import { head, type Impl, type Workload } from '../harness.js';
import { jaxFwdBwd } from '../engines/jax.js';
import { tfjsWasm } from '../engines/tfjs.js';
import { torchImpl } from '../engines/torch.js';

/**
 * softmax or layerNorm (ε 1e-6) over the last dim of x `[64·50, 64]` (the small ViT's
 * tokens), forward + backward of Σ y·w. Compared: the first 256 outputs and input gradients.
 */
export function rowwiseWorkload(kind: 'softmax' | 'layernorm', shape: [number, number] = [64 * 50, 64]): Workload {
  const x = randn(shape, { generator: new Generator(21) });
  const w = randn(shape, { generator: new Generator(22) });
  const d = shape[1];
  const summary = (y: ArrayLike<number>, g: ArrayLike<number>) => Float64Array.from([...head(y), ...head(g)]);
  const impls: Impl[] = [
    {
      engine: 'ggem (1 core)',
      setup: () => {
        const gamma = ones([d], { requiresGrad: true });
        const beta = zeros([d], { requiresGrad: true });
        return async () => {
          const xr = x.detach().setRequiresGrad(true);
          const y = kind === 'softmax' ? xr.softmax(-1) : layerNorm(xr, gamma, beta, 1e-6);
          y.mul(w).sum().backward();
          return summary(y.data, xr.grad!.data);
        };
      },
    },
    {
      engine: 'tfjs-wasm 4.22 (1 core)',
      async setup() {
        const tf = await tfjsWasm();
        const tx = tf.tensor2d(x.data as Float32Array, shape);
        const tw = tf.tensor2d(w.data as Float32Array, shape);
        const f = (t: import('@tensorflow/tfjs-core').Tensor) => {
          if (kind === 'softmax') return tf.softmax(t);
          const mean = tf.mean(t, -1, true);
          const c = tf.sub(t, mean);
          return tf.div(c, tf.sqrt(tf.add(tf.mean(tf.square(c), -1, true), 1e-6)));
        };
        return async () => {
          const { value, grads } = tf.valueAndGrads((t: import('@tensorflow/tfjs-core').Tensor) => tf.sum(tf.mul(f(t), tw)))([tx]);
          const y = f(tx);
          const out = summary((await y.data()) as Float32Array, (await grads[0]!.data()) as Float32Array);
          tf.dispose([value, y, ...grads]);
          return out;
        };
      },
    },
  ];
  impls.push(
    jaxFwdBwd(x.data as Float32Array, shape, w.data as Float32Array, shape, ({ numpy: np, nn }, t) => {
      if (kind === 'softmax') return nn.softmax(t, -1);
      const c = t.ref.sub(t.mean(-1, { keepdims: true }));
      return c.ref.div(np.sqrt(c.ref.mul(c).mean(-1, { keepdims: true }).add(1e-6)));
    }),
  );
  impls.push(torchImpl('PyTorch 1.13 CPU (1 thread)', x, w, { workload: kind, shape }));
  return { name: `${kind} fwd+bwd [${shape.join(',')}]`, flop: 0, tolerance: 1e-4, impls };
}
