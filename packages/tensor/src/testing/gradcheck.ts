import { noGrad } from '../autograd/engine.js';
import { Generator } from '../random.js';
import { fmt } from '../shape.js';
import { Tensor } from '../tensor.js';

export interface GradcheckOptions {
  /** Central-difference step. */
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Seed of the random projection of the output. */
  seed?: number;
}

export interface GradcheckMismatch {
  input: number;
  index: number;
  analytic: number;
  numeric: number;
}

/**
 * Compares reverse-mode gradients with central differences, in float64. Float inputs are
 * copied to float64 leaves; int32 inputs (labels, indices) pass through untouched. The
 * output is projected on fixed random weights w, so one backward checks the full Jacobian
 * product: ∂(Σ w ⊙ f(x))/∂x against (L(x + εe_j) − L(x − εe_j)) / 2ε for every entry j.
 * Returns the mismatches (empty when every entry is within atol + rtol·|numeric|).
 */
export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradcheckOptions = {}): GradcheckMismatch[] {
  const eps = options.eps ?? 1e-6;
  const atol = options.atol ?? 1e-6;
  const rtol = options.rtol ?? 1e-5;
  const xs = inputs.map((t) =>
    t.dtype === 'int32' ? t : new Tensor(t.backend.fromArray(Float64Array.from(t.data)), t.shape, 'float64', t.backend).setRequiresGrad(true),
  );
  const out = f(...xs);
  if (out.dtype !== 'float64') throw new Error(`gradcheck: f returned ${out.dtype}; with float64 inputs it must compute in float64`);
  const rng = new Generator(options.seed ?? 1234);
  const wData = Float64Array.from({ length: out.size }, () => rng.uniform() * 2 - 1);
  const w = new Tensor(out.backend.fromArray(wData), out.shape, 'float64', out.backend);
  const loss = (t: Tensor): number => t.mul(w).sum().item();
  loss(out);
  out.mul(w).sum().backward();
  const mismatches: GradcheckMismatch[] = [];
  xs.forEach((x, i) => {
    if (x.dtype === 'int32') return;
    const data = x.data;
    const analytic = x.grad?.data ?? new Float64Array(x.size);
    for (let j = 0; j < x.size; j++) {
      const v = data[j]!;
      data[j] = v + eps;
      const up = noGrad(() => loss(f(...xs)));
      data[j] = v - eps;
      const down = noGrad(() => loss(f(...xs)));
      data[j] = v;
      const numeric = (up - down) / (2 * eps);
      const a = analytic[j]!;
      if (!(Math.abs(a - numeric) <= atol + rtol * Math.abs(numeric))) mismatches.push({ input: i, index: j, analytic: a, numeric });
    }
  });
  return mismatches;
}

/** Throws with the first mismatches listed when `gradcheck` finds any. */
export function assertGradcheck(f: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[], options: GradcheckOptions = {}): void {
  const bad = gradcheck(f, inputs, options);
  if (bad.length === 0) return;
  const lines = bad.slice(0, 5).map((m) => `  input ${m.input} ${fmt(inputs[m.input]!.shape)} entry ${m.index}: analytic ${m.analytic}, numeric ${m.numeric}`);
  throw new Error(`gradcheck: ${bad.length} gradient entries differ from central differences:\n${lines.join('\n')}`);
}
