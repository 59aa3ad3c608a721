/** @jax-js/jax 0.1.25 on its wasm device, and its implementations of the small workloads. */
import type { Impl } from '../harness.js';

export type Jax = typeof import('@jax-js/jax');
export type Arr = import('@jax-js/jax').Array;

export const JAX = 'jax-js 0.1.25 (wasm, 1 thread)';

/**
 * jax-js, loaded once. It reads `navigator.userAgent` while it plans kernels, and Node 20
 * has no `navigator`: a minimal one stands in (no Worker either, so one thread).
 */
let loading: Promise<Jax> | null = null;
export function loadJax(): Promise<Jax> {
  loading ??= (async () => {
    if (typeof (globalThis as { navigator?: unknown }).navigator === 'undefined') {
      Object.defineProperty(globalThis, 'navigator', { value: { userAgent: `Node.js ${process.version}`, hardwareConcurrency: 1 }, configurable: true });
    }
    const jax = await import('@jax-js/jax');
    await jax.init();
    return jax;
  })();
  return loading;
}

/** C = A·B. */
export function jaxMatmul(a: Float32Array, b: Float32Array, n: number): Impl {
  return {
    engine: JAX,
    async setup() {
      const { numpy: np } = await loadJax();
      const ja = np.array(a).reshape([n, n]);
      const jb = np.array(b).reshape([n, n]);
      return async () => (await np.matmul(ja.ref, jb.ref).data()) as Float32Array;
    },
  };
}

async function summary([y, g]: Arr[]): Promise<Float64Array> {
  return Float64Array.from([...((await y!.data()) as Float32Array), ...((await g!.data()) as Float32Array)]);
}

/**
 * f(x) and ∂/∂x Σ f(x)·w under one jit, summarised like the other engines: the first 256
 * outputs and the first 256 entries of the gradient (of x, or of `extra` when given).
 */
export function jaxFwdBwd(
  x: Float32Array,
  shape: number[],
  w: Float32Array,
  wShape: number[],
  f: (jax: Jax, x: Arr, extra: Arr | null) => Arr,
  extra?: Float32Array,
): Impl {
  return {
    engine: JAX,
    async setup() {
      const jax = await loadJax();
      const { numpy: np } = jax;
      const jx = np.array(x).reshape(shape);
      const jw = np.array(w).reshape(wShape);
      const head = (t: Arr) => t.reshape([-1]).slice([0, Math.min(256, t.size)]);
      if (extra === undefined) {
        const run = jax.jit((xs: Arr, ws: Arr) => {
          const y = f(jax, xs.ref, null);
          const g = jax.grad((t: Arr, u: Arr) => f(jax, t, null).mul(u).sum())(xs, ws) as Arr;
          return [head(y), head(g)];
        });
        return async () => summary(run(jx.ref, jw.ref) as Arr[]);
      }
      const je = np.array(extra);
      const run = jax.jit((xs: Arr, e: Arr, ws: Arr) => {
        const y = f(jax, xs.ref, e.ref);
        const g = jax.grad((t: Arr, u: Arr) => f(jax, xs, u).mul(t).sum(), { argnums: 1 })(ws, e) as Arr;
        return [head(y), head(g)];
      });
      return async () => summary(run(jx.ref, je.ref, jw.ref) as Arr[]);
    },
  };
}
