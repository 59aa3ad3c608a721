import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, layerNorm, ones, randn, zeros } from '@ggem/tensor';
import type { Impl, Workload } from '../harness.js';
import { tfjsWasm } from '../engines/tfjs.js';
import { TorchPeer, torchAvailable } from '../engines/torch.js';

/**
 * softmax or layerNorm (ε 1e-6) over the last dim of x `[64·50, 64]` (the small ViT's
 * tokens), forward + backward of Σ y·w. Compared: the first 256 outputs and input gradients.
 */
export function rowwiseWorkload(kind: 'softmax' | 'layernorm', shape: [number, number] = [64 * 50, 64]): Workload {
  const x = randn(shape, { generator: new Generator(21) });
  const w = randn(shape, { generator: new Generator(22) });
  const d = shape[1];
  const summary = (y: ArrayLike<number>, g: ArrayLike<number>) => Float64Array.from([...Array.from(y).slice(0, 256), ...Array.from(g).slice(0, 256)]);
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
  if (torchAvailable()) {
    let peer: TorchPeer | null = null;
    impls.push({
      engine: 'PyTorch 1.13 CPU (1 thread)',
      async setup() {
        const dir = mkdtempSync(join(tmpdir(), 'ggem-bench-'));
        writeFileSync(join(dir, 'x.f32'), x.data as Float32Array);
        writeFileSync(join(dir, 'w.f32'), w.data as Float32Array);
        peer = new TorchPeer();
        await peer.send({ cmd: 'setup', workload: kind, x: join(dir, 'x.f32'), w: join(dir, 'w.f32'), shape });
        return async () => Float64Array.from((await peer!.send<{ result: number[] }>({ cmd: 'run' })).result);
      },
      teardown: () => peer?.close(),
    });
  }
  return { name: `${kind} fwd+bwd [${shape.join(',')}]`, flop: 0, tolerance: 1e-4, impls };
}
