import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { full, Generator, randn } from '@ggem/tensor';
import { ggem, ggemComposed } from '@ggem/pooling';
import type { Impl, Workload } from '../harness.js';
import { TorchPeer, torchAvailable } from '../engines/torch.js';

/**
 * GeM (G = 1) or GGeM (G = 12) forward + backward on x `[64, 196, 384]` float32, p
 * trainable starting at 3, loss Σ y·w. Compared: the first 256 outputs and dL/dp.
 */
export function gemWorkload(groups: number, shape: [number, number, number] = [64, 196, 384]): Workload {
  const [b, , c] = shape;
  const x = randn(shape, { generator: new Generator(11) });
  const w = randn([b, c], { generator: new Generator(12) });
  const summary = (y: ArrayLike<number>, gp: ArrayLike<number>) => Float64Array.from([...Array.from(y).slice(0, 256), ...Array.from(gp).slice(0, 256)]);
  const ours = (name: string, f: typeof ggem): Impl => ({
    engine: name,
    setup: () => async () => {
      const xr = x.detach().setRequiresGrad(true);
      const p = full([groups], 3, { requiresGrad: true });
      const y = f(xr, p);
      y.mul(w).sum().backward();
      return summary(y.data, p.grad!.data);
    },
  });
  const impls: Impl[] = [ours('ggem (fused, 1 core)', ggem), ours('ggem (composed from ops)', (t, p) => ggemComposed(t, p))];
  if (torchAvailable()) {
    let peer: TorchPeer | null = null;
    impls.push({
      engine: 'PyTorch 1.13 CPU (composed, 1 thread)',
      async setup() {
        const dir = mkdtempSync(join(tmpdir(), 'ggem-bench-'));
        writeFileSync(join(dir, 'x.f32'), x.data as Float32Array);
        writeFileSync(join(dir, 'w.f32'), w.data as Float32Array);
        peer = new TorchPeer();
        await peer.send({ cmd: 'setup', workload: 'gem', x: join(dir, 'x.f32'), w: join(dir, 'w.f32'), shape, groups, p: 3 });
        return async () => {
          const r = await peer!.send<{ ms: number; result: number[] }>({ cmd: 'run' });
          return Float64Array.from(r.result);
        };
      },
      teardown: () => peer?.close(),
    });
  } else impls.push({ engine: 'PyTorch (python3-torch not installed)', setup: () => { throw new Error('not installed: apt-get install -y python3-torch'); } });
  return { name: `${groups === 1 ? 'gem' : `ggem G=${groups}`} fwd+bwd [${shape.join(',')}]`, flop: 0, tolerance: 1e-3, impls };
}
