/** Scalar special functions the kernels need and JavaScript's Math lacks. */

/**
 * erfc with fractional error below 1.2e-7 everywhere (Numerical Recipes' Chebyshev fit), so
 * that 1 + erf(x) = erfc(-x) stays accurate in the far negative tail where GELU is tiny.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  let p = 0;
  for (const c of ERFC_P) p = p * t + c;
  const r = t * Math.exp(p - z * z);
  return x >= 0 ? r : 2 - r;
}

/**
 * The coefficients of Numerical Recipes' erfc fit, highest power first:
 * erfc(z) = t·exp(−z² + P(t)), t = 1/(1 + z/2), z ≥ 0. The TypeScript, gpu.js and
 * WebAssembly kernels all evaluate it from this one list.
 */
export const ERFC_P = [0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223];

/** gpu.js statements that set `out` to erfc(z) for the variable z ≥ 0 (the fit above, in Horner form). */
export function erfcGpu(z: string, out: string): string {
  const t = `${out}T`;
  const poly = ERFC_P.slice(1).reduce((acc, c) => `(${acc}) * ${t} + ${c}`, `${ERFC_P[0]}`);
  return `const ${t} = 1 / (1 + 0.5 * ${z}); const ${out} = ${t} * Math.exp(${poly} - ${z} * ${z});`;
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** erf(z) for 0 <= z < 1 by the series of positive terms (float64 accuracy). */
function erfSeries(z: number): number {
  let term = z;
  let sum = z;
  for (let n = 1; term > 1e-17 * sum; n++) {
    term *= (2 * z * z) / (2 * n + 1);
    sum += term;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-z * z) * sum;
}

/**
 * erfc to float64 accuracy (relative error below 4e-15 against CPython's math.erfc over
 * [−6, 6]; float64 tensors use it, float32 ones the faster fit above). Below 1:
 * erf(z) = 2/√π·e^(−z²)·Σ (2z²)ⁿ·z/(1·3·…·(2n+1)), a series of positive terms (no
 * cancellation), and erfc = 1 − erf (≥ 0.157, so no cancellation either). From 1 on: the
 * continued fraction erfc(z) = e^(−z²)/√π · 1/(z + (1/2)/(z + 1/(z + (3/2)/(z + …)))), by
 * Lentz's method (about 190 terms at z = 1, 60 at 2).
 */
export function erfc64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const z = Math.abs(x);
  let r: number;
  if (z < 1) return x >= 0 ? 1 - erfSeries(z) : 1 + erfSeries(z);
  if (z > 27)
    r = 0; // below the smallest float64
  else {
    // f = z + a1/(z + a2/(z + ...)), a_k = k/2, evaluated by the modified Lentz method
    const tiny = 1e-300;
    let f = z;
    let c = z;
    let d = 0;
    for (let k = 1; k < 1000; k++) {
      const a = k / 2;
      d = z + a * d;
      d = Math.abs(d) < tiny ? tiny : d;
      c = z + a / c;
      c = Math.abs(c) < tiny ? tiny : c;
      d = 1 / d;
      const delta = c * d;
      f *= delta;
      if (Math.abs(delta - 1) < 1e-16) break;
    }
    // e^(−z²) with z² split as zh² (exact: zh has 16 fraction bits) + (z − zh)(z + zh): a rounded z² is 1e-13 off at z = 20
    const zh = Math.round(z * 65536) / 65536;
    r = (Math.exp(-zh * zh) * Math.exp(-(z - zh) * (z + zh))) / (Math.sqrt(Math.PI) * f);
  }
  return x >= 0 ? r : 2 - r;
}

const SQRT1_2 = Math.SQRT1_2;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** gelu(x) = x·Φ(x), Φ the standard normal CDF = erfc(-x/√2)/2. */
export function gelu(x: number): number {
  return 0.5 * x * erfc(-x * SQRT1_2);
}

/** d gelu/dx = Φ(x) + x·φ(x). */
export function geluGrad(x: number): number {
  return 0.5 * erfc(-x * SQRT1_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/** gelu to float64 accuracy. */
export function gelu64(x: number): number {
  return 0.5 * x * erfc64(-x * SQRT1_2);
}

/** d gelu/dx to float64 accuracy. */
export function geluGrad64(x: number): number {
  return 0.5 * erfc64(-x * SQRT1_2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}

/** The tanh form: 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x)));
}

export function geluTanhGrad(x: number): number {
  const t = Math.tanh(SQRT_2_OVER_PI * (x + GELU_C * x * x * x));
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_C * x * x);
}

/** Logistic sigmoid without overflow for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** erf to float64 accuracy: the series below 1 (no cancellation near 0), 1 − erfc above. */
export function erf(x: number): number {
  const z = Math.abs(x);
  const r = z < 1 ? erfSeries(z) : 1 - erfc64(z);
  return x >= 0 ? r : -r;
}

/** Rounds halves to even, as PyTorch and NumPy (Math.round takes them up). */
export function round(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** ln(1 + eˣ) = max(x, 0) + ln(1 + e^(−|x|)), without overflow. */
export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}
