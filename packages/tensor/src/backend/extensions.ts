import type { Backend } from './backend.js';

/**
 * A fused kernel that a package built on this one brings for an op of its own (GeM in
 * `@ggem/pooling`): one implementation per backend, by the backend's name. The op writes
 * itself as a composition of primitives, asks `kernel.on(x.backend)` for the fused one and
 * uses it when there is one: a backend the extension does not know, or a case its kernel
 * declines (an implementation may return `undefined`), runs the composition. The tensor
 * package keeps no registry of extensions: the kernel object is the op's.
 *
 *     const square = defineFusedKernel<(be: Backend, x: Float32Array) => Float32Array>('square', {
 *       reference: (be, x) => x.map((v) => v * v),
 *     });
 *     square.register('my-backend', (be, x) => ...);   // another package's backend
 *     const k = square.on(x.backend);                    // undefined: compose from primitives
 */
export class FusedKernel<F> {
  private readonly impls = new Map<string, F>();
  /** Times the fused kernel ran, per backend name (`ran(name)`); a test or a user checks that it did. */
  private readonly counts = new Map<string, number>();

  constructor(
    readonly name: string,
    impls: Readonly<Record<string, F>> = {},
  ) {
    for (const [backend, f] of Object.entries(impls)) this.impls.set(backend, f);
  }

  /** Adds (or replaces) the implementation for backends named `backend`. */
  register(backend: string, impl: F): this {
    this.impls.set(backend, impl);
    return this;
  }

  /** The implementation for `backend`, if the extension has one for its name. */
  on(backend: Backend): F | undefined {
    return this.impls.get(backend.name);
  }

  /** The backend names it has an implementation for. */
  get backends(): string[] {
    return [...this.impls.keys()];
  }

  /** Records one run of the fused kernel on `backend` (the op calls it when the kernel did not decline). */
  count(backend: Backend): void {
    this.counts.set(backend.name, (this.counts.get(backend.name) ?? 0) + 1);
  }

  /** How many times the fused kernel ran on backends named `backend`. */
  ran(backend: string): number {
    return this.counts.get(backend) ?? 0;
  }
}

/** A fused kernel with its implementations by backend name (see `FusedKernel`). */
export function defineFusedKernel<F>(name: string, impls: Readonly<Record<string, F>> = {}): FusedKernel<F> {
  return new FusedKernel(name, impls);
}
