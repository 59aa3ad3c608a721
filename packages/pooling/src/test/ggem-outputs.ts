/** The GGeM case the kernel tests run on every backend (in Node, and in Chromium's gpu.js suite). */
import { Generator, randn, Tensor, tensor, type Backend } from '@ggem/tensor';
import { ggem } from '../gem.js';

export { maxError } from '@ggem/tensor/testing';

const on = (t: Tensor, be: Backend) => new Tensor(be.fromArray(t.data.slice()), t.shape, t.dtype, be);
const read = (t: Tensor) => (t.backend.toArrayAsync ? t.backend.toArrayAsync(t.storage, t.dtype, t.size) : Promise.resolve(t.data));

/** y, ∂/∂x and ∂/∂p of Σ w·ggem(x, p) on `be`. */
export async function ggemOutputs(be: Backend, x: Tensor, p: Tensor, w: Tensor, start: number): Promise<ArrayLike<number>[]> {
  const [xb, pb] = [on(x, be).setRequiresGrad(true), on(p, be).setRequiresGrad(true)];
  const y = ggem(xb, pb, { start });
  y.mul(on(w, be)).sum().backward();
  return Promise.all([read(y), read(xb.grad!), read(pb.grad!)]);
}

/** x `[3, 6, 8]`, p `[groups]` in [1, 5) and the weights w `[3, 8]` of the sum that is differentiated. */
export function ggemInputs(seed: number, groups: number): [Tensor, Tensor, Tensor] {
  const g = new Generator(seed);
  const x = randn([3, 6, 8], { generator: g });
  const p = tensor(Float32Array.from({ length: groups }, () => 1 + 4 * g.uniform()));
  return [x, p, randn([3, 8], { generator: g })];
}
