import { full, Generator, randn } from '@ggem/tensor';
import { ggem, ggemComposed } from '@ggem/pooling';
import { head, type Impl, type Workload } from '../harness.js';
import { jaxFwdBwd } from '../engines/jax.js';
import { torchImpl } from '../engines/torch.js';

/**
 * GeM (G = 1) or GGeM (G = 12) forward + backward on x `[64, 196, 384]` float32, p
 * trainable starting at 3, loss Σ y·w. Compared: the first 256 outputs and dL/dp.
 */
export function gemWorkload(groups: number, shape: [number, number, number] = [64, 196, 384]): Workload {
  const [b, , c] = shape;
  const x = randn(shape, { generator: new Generator(11) });
  const w = randn([b, c], { generator: new Generator(12) });
  const summary = (y: ArrayLike<number>, gp: ArrayLike<number>) => Float64Array.from([...head(y), ...head(gp)]);
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
  // the usual GeM composed in jax-js: clamp, x^p = exp(p·ln x), mean over tokens, ^(1/p)
  impls.push(
    jaxFwdBwd(
      x.data as Float32Array,
      shape,
      w.data as Float32Array,
      [b, c],
      ({ numpy: np }, t, p) => {
        const pc = np.repeat(p!, Math.ceil(c / groups)).slice([0, c]);
        const m = np.exp(np.log(np.maximum(t, 1e-6)).mul(pc.ref)).mean(1);
        return np.exp(np.log(m).div(pc));
      },
      new Float32Array(groups).fill(3),
    ),
  );
  impls.push(torchImpl('PyTorch 1.13 CPU (composed, 1 thread)', x, w, { workload: 'gem', shape, groups, p: 3 }));
  return { name: `${groups === 1 ? 'gem' : `ggem G=${groups}`} fwd+bwd [${shape.join(',')}]`, flop: 0, tolerance: 1e-3, impls };
}
