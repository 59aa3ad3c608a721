/**
 * The unary primitives, one entry each. Everything about an op is here and everything else
 * is derived from it: its name (`UnaryOp`), its Tensor method and function, the CPU
 * backend's reference kernel, the gpu.js kernel, the gradient rule and the domain the op
 * suite and the gradient checker draw inputs from. Adding an op is one name in `unaryOps`
 * and one entry in `unaryTable` (CONTRIBUTING.md has the recipe); a missing part is a
 * compile error.
 */
import type { Tensor } from '../../tensor.js';
import { erf, erfcGpu, gelu, gelu64, geluGrad, geluGrad64, geluTanh, geluTanhGrad, round, sigmoid, softplus } from '../../backend/reference/math.js';
import type { Domain } from './domain.js';

export const unaryOps = [
  'neg',
  'exp',
  'log',
  'sqrt',
  'abs',
  'sign',
  'tanh',
  'sigmoid',
  'relu',
  'gelu',
  'geluTanh',
  'sin',
  'cos',
  'tan',
  'asin',
  'acos',
  'atan',
  'log1p',
  'expm1',
  'reciprocal',
  'rsqrt',
  'square',
  'erf',
  'floor',
  'ceil',
  'round',
  'softplus',
  'silu',
  'sinh',
  'cosh',
] as const;
export type UnaryOp = (typeof unaryOps)[number];

/** Ops of the table that are not Tensor methods or functions of their own (helpers of other ops, or with options). */
export const internalUnaryOps = ['gelu', 'geluTanh'] as const;
/** The unary ops that are a Tensor method `x.op()` and a function `op(x)`. */
export type PublicUnaryOp = Exclude<UnaryOp, (typeof internalUnaryOps)[number]>;

/** The input gradient from the input x, the output y = f(x) and the output's gradient g (in x's shape). */
export type UnaryRule = (x: Tensor, y: Tensor, g: Tensor) => Tensor;

export interface UnaryDef {
  /** The formula, for the docs. */
  doc: string;
  /** The reference kernel (plain TypeScript, float64 arithmetic); the CPU backend runs it. */
  f: (x: number) => number;
  /** A float64-accurate variant where `f` trades accuracy for speed (float32 storage). */
  f64?: (x: number) => number;
  /**
   * The gpu.js kernel body: statements of the input value `v` (a float32) ending in a
   * return, in the JavaScript subset gpu.js compiles (Math.*, no helpers).
   */
  gpu: string;
  /**
   * The gradient rule, written with Tensor ops (its identity as a comment); 'zero' for
   * piecewise-constant ops; 'pointwise' for g·f′(x) in one fused kernel given by `df`.
   */
  grad: UnaryRule | 'zero' | 'pointwise';
  /** f′(x) as a reference kernel and a gpu.js body of `v` and `gv` (the output gradient) returning gv·f′(v). */
  df?: { f: (x: number) => number; f64?: (x: number) => number; gpu: string };
  /** Where the op is defined and smooth: the op suite and the gradient checker draw inputs from here. */
  domain: Domain;
}

const ints = [-3, -2, -1, 0, 1, 2, 3];
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

// gpu.js has Math.tanh, but GLSL ES 1's tanh overflows for |v| > 44: tanh through exp(−2|v|)
const tanhGpu = 'const e = Math.exp(-2 * Math.abs(v)); const t = (1 - e) / (1 + e); return v < 0 ? -t : t;';
// σ(v) = 1/(1 + e^(−v)) without overflow for large |v|
const sigmoidGpu = 'const e = Math.exp(-Math.abs(v)); return v >= 0 ? 1 / (1 + e) : e / (1 + e);';
// Φ(v) = erfc(−v/√2)/2 with Numerical Recipes' erfc (as math.ts)
const phiGpu = `const u = -v * 0.7071067811865476; const z = Math.abs(u); ${erfcGpu('z', 'r')} const phi = 0.5 * (u >= 0 ? r : 2 - r);`;
// tanh(√(2/π)(v + 0.044715v³)) for the tanh GELU
// sin and cos of v by the quadrant q of v and Taylor series on r ∈ [−π/4, π/4] (π/2 in two parts, Cody and
// Waite): a GPU's own sin/cos are off by 1e-4 here (SwiftShader's cos)
const sinCosGpu = `const k = Math.floor(v * 0.6366197723675814 + 0.5); const r = v - k * 1.5707963705062866 + k * 0.00000004371139000186243;
    const q = k - 4 * Math.floor(k / 4); const r2 = r * r;
    const s = r + r * r2 * (-0.16666666666666666 + r2 * (0.008333333333333333 + r2 * (-0.0001984126984126984 + r2 * 0.0000027557319223985893)));
    const c = 1 + r2 * (-0.5 + r2 * (0.041666666666666664 + r2 * (-0.001388888888888889 + r2 * (0.0000248015873015873 - r2 * 0.0000002755731922398589))));`;
const geluTanhT =
  'const a = 0.7978845608028654 * (v + 0.044715 * v * v * v); const e = Math.exp(-2 * Math.abs(a)); const t = a < 0 ? -(1 - e) / (1 + e) : (1 - e) / (1 + e);';

export const unaryTable: { [K in UnaryOp]: UnaryDef } = {
  neg: { doc: '−x', f: (x) => -x, gpu: 'return -v;', grad: (_x, _y, g) => g.neg(), domain: {} }, // d(−x) = −dx
  exp: { doc: 'eˣ', f: Math.exp, gpu: 'return Math.exp(v);', grad: (_x, y, g) => g.mul(y), domain: {} }, // d eˣ = eˣ dx
  log: { doc: 'ln x', f: Math.log, gpu: 'return Math.log(v);', grad: (x, _y, g) => g.div(x), domain: { min: 0.1, max: 5 } }, // d ln x = dx / x
  sqrt: { doc: '√x', f: Math.sqrt, gpu: 'return Math.sqrt(v);', grad: (_x, y, g) => g.div(y.mul(2)), domain: { min: 0.1, max: 5 } }, // d √x = dx / (2√x)
  abs: { doc: '|x|', f: Math.abs, gpu: 'return Math.abs(v);', grad: (x, _y, g) => g.mul(x.sign()), domain: { awayFrom: [0] } }, // d|x| = sign(x) dx (0 at 0)
  sign: { doc: '−1, 0 or 1', f: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0), gpu: 'return v > 0 ? 1 : v < 0 ? -1 : 0;', grad: 'zero', domain: { awayFrom: [0] } },
  tanh: { doc: 'tanh x', f: Math.tanh, gpu: tanhGpu, grad: (_x, y, g) => g.mul(y.square().neg().add(1)), domain: {} }, // d tanh = (1 − tanh²) dx
  sigmoid: { doc: 'σ(x) = 1/(1 + e⁻ˣ)', f: sigmoid, gpu: sigmoidGpu, grad: (_x, y, g) => g.mul(y.mul(y.neg().add(1))), domain: {} }, // dσ = σ(1 − σ) dx
  // relu'(x) = [x > 0]; relu'(0) = 0 (as PyTorch)
  relu: { doc: 'max(x, 0)', f: (x) => (x > 0 ? x : 0), gpu: 'return Math.max(v, 0);', grad: (x, _y, g) => g.mul(x.gt(0)), domain: { awayFrom: [0] } },
  gelu: {
    doc: 'x·Φ(x), Φ the standard normal CDF (the exact, erf form)',
    f: gelu,
    f64: gelu64,
    gpu: `${phiGpu} return v * phi;`,
    grad: 'pointwise', // d(xΦ(x)) = (Φ(x) + xφ(x)) dx
    df: { f: geluGrad, f64: geluGrad64, gpu: `${phiGpu} return gv * (phi + v * 0.3989422804014327 * Math.exp(-0.5 * v * v));` },
    domain: {},
  },
  geluTanh: {
    doc: "0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))), PyTorch's tanh approximation",
    f: geluTanh,
    gpu: `${geluTanhT} return 0.5 * v * (1 + t);`,
    grad: 'pointwise', // d = (½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²)) dx
    df: { f: geluTanhGrad, gpu: `${geluTanhT} return gv * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * 0.7978845608028654 * (1 + 3 * 0.044715 * v * v));` },
    domain: {},
  },
  sin: {
    doc: 'sin x',
    f: Math.sin,
    gpu: `${sinCosGpu} if (q === 0) return s; if (q === 1) return c; if (q === 2) return -s; return -c;`,
    grad: (x, _y, g) => g.mul(x.cos()), // d sin = cos dx
    domain: {},
  },
  cos: {
    doc: 'cos x',
    f: Math.cos,
    gpu: `${sinCosGpu} if (q === 0) return c; if (q === 1) return -s; if (q === 2) return -c; return s;`,
    grad: (x, _y, g) => g.mul(x.sin()).neg(), // d cos = −sin dx
    domain: {},
  },
  tan: {
    doc: 'tan x',
    f: Math.tan,
    gpu: `${sinCosGpu} if (q === 0 || q === 2) return s / c; return -c / s;`,
    grad: (_x, y, g) => g.mul(y.square().add(1)), // d tan = (1 + tan²) dx
    domain: { min: -1.2, max: 1.2 },
  },
  // d asin = dx / √(1 − x²)
  asin: {
    doc: 'arcsin x',
    f: Math.asin,
    gpu: 'return Math.asin(v);',
    grad: (x, _y, g) => g.mul(x.square().neg().add(1).rsqrt()),
    domain: { min: -0.9, max: 0.9 },
  },
  // d acos = −dx / √(1 − x²)
  acos: {
    doc: 'arccos x',
    f: Math.acos,
    gpu: 'return Math.acos(v);',
    grad: (x, _y, g) => g.mul(x.square().neg().add(1).rsqrt()).neg(),
    domain: { min: -0.9, max: 0.9 },
  },
  atan: { doc: 'arctan x', f: Math.atan, gpu: 'return Math.atan(v);', grad: (x, _y, g) => g.div(x.square().add(1)), domain: {} }, // d atan = dx / (1 + x²)
  // ln(1 + x), accurate for small x: ln(u)·x/(u − 1) with u = 1 + x rounded cancels u's rounding error
  log1p: {
    doc: 'ln(1 + x)',
    f: Math.log1p,
    gpu: 'const u = 1 + v; if (u === 1) return v; return Math.log(u) * v / (u - 1);',
    grad: (x, _y, g) => g.div(x.add(1)), // d ln(1 + x) = dx / (1 + x)
    domain: { min: -0.9, max: 5 },
  },
  // eˣ − 1, accurate for small x: (u − 1)·x/ln u with u = eˣ rounded (Kahan's trick)
  expm1: {
    doc: 'eˣ − 1',
    f: Math.expm1,
    gpu: 'const u = Math.exp(v); if (u === 1) return v; const um = u - 1; if (um === -1) return -1; return um * v / Math.log(u);',
    grad: (_x, y, g) => g.mul(y.add(1)), // d(eˣ − 1) = eˣ dx
    domain: {},
  },
  reciprocal: { doc: '1/x', f: (x) => 1 / x, gpu: 'return 1 / v;', grad: (_x, y, g) => g.mul(y.square()).neg(), domain: { awayFrom: [0], gap: 0.3 } }, // d(1/x) = −dx/x²
  rsqrt: {
    doc: '1/√x',
    f: (x) => 1 / Math.sqrt(x),
    gpu: 'return 1 / Math.sqrt(v);',
    grad: (_x, y, g) => g.mul(y.mul(y).mul(y)).mul(-0.5), // d x^(−½) = −½x^(−3/2) dx
    domain: { min: 0.1, max: 5 },
  },
  square: { doc: 'x²', f: (x) => x * x, gpu: 'return v * v;', grad: (x, _y, g) => g.mul(x).mul(2), domain: {} }, // d x² = 2x dx
  // d erf = (2/√π)·e^(−x²) dx
  erf: {
    doc: 'erf x = (2/√π)∫₀ˣ e^(−t²) dt',
    f: erf,
    gpu: `const z = Math.abs(v); ${erfcGpu('z', 'c')} return v < 0 ? c - 1 : 1 - c;`,
    grad: (x, _y, g) => g.mul(x.square().neg().exp()).mul(TWO_OVER_SQRT_PI),
    domain: {},
  },
  floor: { doc: '⌊x⌋', f: Math.floor, gpu: 'return Math.floor(v);', grad: 'zero', domain: { awayFrom: ints } },
  ceil: { doc: '⌈x⌉', f: Math.ceil, gpu: 'return Math.ceil(v);', grad: 'zero', domain: { awayFrom: ints } },
  // halves to even, as PyTorch (JavaScript's Math.round takes them up)
  round: {
    doc: 'x to the nearest integer, halves to even',
    f: round,
    gpu: 'const r = Math.floor(v + 0.5); if (r - v === 0.5 && r - 2 * Math.floor(r / 2) !== 0) return r - 1; return r;',
    grad: 'zero',
    domain: { awayFrom: ints.flatMap((i) => [i, i + 0.5]) },
  },
  // ln(1 + eˣ) = max(x, 0) + ln(1 + e^(−|x|)), without overflow; d softplus = σ(x) dx
  softplus: {
    doc: 'ln(1 + eˣ)',
    f: softplus,
    gpu: 'const e = Math.exp(-Math.abs(v)); const u = 1 + e; return Math.max(v, 0) + (u === 1 ? e : Math.log(u) * e / (u - 1));',
    grad: (x, _y, g) => g.mul(x.sigmoid()),
    domain: {},
  },
  // x·σ(x); d silu = σ(x)(1 + x(1 − σ(x))) dx
  silu: {
    doc: 'x·σ(x) (swish)',
    f: (x) => x * sigmoid(x),
    gpu: 'const e = Math.exp(-Math.abs(v)); const s = v >= 0 ? 1 / (1 + e) : e / (1 + e); return v * s;',
    grad: (x, _y, g) => {
      const s = x.sigmoid();
      return g.mul(s.mul(x.mul(s.neg().add(1)).add(1)));
    },
    domain: {},
  },
  // (eˣ − e⁻ˣ)/2, and v + v³/6 + v⁵/120 near 0, where the difference cancels in float32
  sinh: {
    doc: 'sinh x',
    f: Math.sinh,
    gpu: 'if (Math.abs(v) < 0.05) return v + v * v * v / 6 + v * v * v * v * v / 120; const e = Math.exp(v); return 0.5 * (e - 1 / e);',
    grad: (x, _y, g) => g.mul(x.cosh()), // d sinh = cosh dx
    domain: {},
  },
  cosh: {
    doc: 'cosh x',
    f: Math.cosh,
    gpu: 'const e = Math.exp(v); return 0.5 * (e + 1 / e);',
    grad: (x, _y, g) => g.mul(x.sinh()), // d cosh = sinh dx
    domain: {},
  },
};
