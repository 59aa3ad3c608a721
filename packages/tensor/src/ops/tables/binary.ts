/**
 * The binary (broadcasting) primitives, one entry each, as the unary table (./unary.ts):
 * the name, the reference kernel, the gpu.js kernel body, the gradient rule and the test
 * domains of both inputs. Everything else (the Tensor method, the function, the kernels of
 * every backend, the op suite's cases) is derived from this table.
 */
import type { Tensor } from '../../tensor.js';
import type { Domain } from './domain.js';

export const binaryOps = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'atan2', 'remainder', 'eq', 'ne', 'gt', 'ge', 'lt', 'le'] as const;
export type BinaryOp = (typeof binaryOps)[number];

/**
 * The gradients of both inputs in the broadcast output shape (the engine sums them back to
 * each input's shape), from the inputs a, b, the output y and its gradient g; `needs[i]`
 * says whether input i wants one (the rule may return null for the other).
 */
export type BinaryRule = (a: Tensor, b: Tensor, y: Tensor, g: Tensor, needs: readonly boolean[]) => [Tensor | null, Tensor | null];

export interface BinaryDef {
  doc: string;
  /** The reference kernel (plain TypeScript, float64 arithmetic). */
  f: (a: number, b: number) => number;
  /** The gpu.js kernel body: statements of the input values `x` and `y` (float32) ending in a return. */
  gpu: string;
  /** The gradient rule (its identity as a comment), or null for comparisons (0/1 outputs, not differentiable). */
  grad: BinaryRule | null;
  /** Where each input is drawn from in the op suite and the gradient checker. */
  domain: [Domain, Domain];
  /** The gradient checker keeps a and b at least this far apart (the op has a kink where they tie). */
  apart?: number;
}

// as JavaScript's: a negative base takes an integer exponent's sign (GLSL's pow is undefined there), a fraction gives NaN
const powGpu = `if (y === 0) return 1;
    const p = Math.pow(Math.abs(x), y);
    if (x >= 0) return p;
    const yi = Math.floor(y);
    if (yi !== y) return Math.sqrt(x);
    return yi - 2 * Math.floor(yi / 2) === 0 ? p : -p;`;

/** Ties split the gradient evenly between both inputs (as PyTorch). */
function tieSplit(wins: Tensor, ties: Tensor, g: Tensor): [Tensor, Tensor] {
  const share = wins.add(ties.mul(0.5));
  const ga = g.mul(share);
  return [ga, g.sub(ga)];
}

const cmp = (doc: string, f: (a: number, b: number) => boolean, gpu: string): BinaryDef => ({
  doc,
  f: (a, b) => (f(a, b) ? 1 : 0),
  gpu: `return ${gpu} ? 1 : 0;`,
  grad: null,
  domain: [{}, {}],
});

export const binaryTable: { [K in BinaryOp]: BinaryDef } = {
  add: { doc: 'a + b', f: (a, b) => a + b, gpu: 'return x + y;', grad: (_a, _b, _y, g) => [g, g], domain: [{}, {}] }, // d(a + b) = da + db
  sub: { doc: 'a − b', f: (a, b) => a - b, gpu: 'return x - y;', grad: (_a, _b, _y, g) => [g, g.neg()], domain: [{}, {}] }, // d(a − b) = da − db
  // d(ab) = b da + a db
  mul: { doc: 'a·b', f: (a, b) => a * b, gpu: 'return x * y;', grad: (a, b, _y, g, n) => [n[0] ? g.mul(b) : null, n[1] ? g.mul(a) : null], domain: [{}, {}] },
  // d(a/b) = da/b − (a/b²) db
  div: {
    doc: 'a / b',
    f: (a, b) => a / b,
    gpu: 'return x / y;',
    grad: (_a, b, y, g, n) => [n[0] ? g.div(b) : null, n[1] ? g.mul(y).div(b).neg() : null],
    domain: [{}, { min: 0.5, max: 3 }],
  },
  pow: {
    doc: 'aᵇ',
    f: Math.pow,
    gpu: powGpu,
    // d aᵇ = b·aᵇ⁻¹ da + aᵇ·ln a db; the base's gradient is 0 where b = 0 (a⁰ is constant, also at
    // a = 0, where b·aᵇ⁻¹ would be 0·∞), the exponent's 0 where a <= 0 (ln undefined); as PyTorch
    grad: (a, b, y, g, n) => [n[0] ? g.mul(b.mul(a.pow(b.sub(1))).where(b.ne(0), 0)) : null, n[1] ? g.mul(y).mul(a.log().where(a.gt(0), 0)) : null],
    domain: [
      { min: 0.2, max: 3 },
      { min: -2, max: 2 },
    ],
  },
  maximum: {
    doc: 'max(a, b)',
    f: (a, b) => (a >= b ? a : b),
    gpu: 'return Math.max(x, y);',
    grad: (a, b, _y, g) => tieSplit(a.gt(b), a.eq(b), g),
    domain: [{}, {}],
    apart: 0.01,
  },
  minimum: {
    doc: 'min(a, b)',
    f: (a, b) => (a <= b ? a : b),
    gpu: 'return Math.min(x, y);',
    grad: (a, b, _y, g) => tieSplit(a.lt(b), a.eq(b), g),
    domain: [{}, {}],
    apart: 0.01,
  },
  // d atan2(a, b) = (b da − a db) / (a² + b²)
  atan2: {
    doc: 'the angle of the point (b, a), in (−π, π]',
    f: Math.atan2,
    gpu: 'return Math.atan2(x, y);',
    grad: (a, b, _y, g, n) => {
      const r2 = a.square().add(b.square());
      return [n[0] ? g.mul(b).div(r2) : null, n[1] ? g.mul(a).div(r2).neg() : null];
    },
    domain: [
      { min: 0.3, max: 3 },
      { min: 0.3, max: 3 },
    ],
  },
  // a − b·⌊a/b⌋, the sign of b (as PyTorch's remainder and Python's %); d = da − ⌊a/b⌋ db
  remainder: {
    doc: 'a mod b, with the sign of b',
    f: (a, b) => a - b * Math.floor(a / b),
    gpu: 'return x - y * Math.floor(x / y);',
    grad: (a, b, _y, g, n) => [n[0] ? g : null, n[1] ? g.mul(a.div(b).floor()).neg() : null],
    domain: [
      { min: 4.2, max: 4.8 },
      { min: 2.5, max: 3.5 },
    ],
  },
  eq: cmp('a = b (0/1)', (a, b) => a === b, 'x === y'),
  ne: cmp('a ≠ b (0/1)', (a, b) => a !== b, 'x !== y'),
  gt: cmp('a > b (0/1)', (a, b) => a > b, 'x > y'),
  ge: cmp('a ≥ b (0/1)', (a, b) => a >= b, 'x >= y'),
  lt: cmp('a < b (0/1)', (a, b) => a < b, 'x < y'),
  le: cmp('a ≤ b (0/1)', (a, b) => a <= b, 'x <= y'),
};
